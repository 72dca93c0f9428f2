"""crawl.per_host and crawl.delay, read from the news server's request log.

Each host answers after an artificial latency, so requests sent without waiting for the
previous answer overlap in the log. The asserts are counts and orderings of the log (how many
requests to one host were open at once), plus the lower bound that ``delay`` puts on the time
between the first and the last request to a host: each of the n - 1 gaps is at least
``delay × (1 - jitter)``. A slow client only widens gaps; the bound is on their sum because
the server may read one request late when the machine is busy, which narrows the next gap
as seen in the log by as much as it widened the one before.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.newsserver import NewsServer
from crawler.settings import DELAY_JITTER
from tests.crawler.conftest import FAST, feed

LATENCY = 0.05


def _two_passes(poller: Any, srv: NewsServer, crawl: dict[str, Any]) -> list[dict[str, Any]]:
    """A first pass and a 304 pass; the host loads of each."""
    sources = [feed(f"f{i}", url) for i, url in enumerate(srv.feed_urls())]
    loads = []
    for expected in ("ok", "not_modified"):
        srv.reset_requests()
        outcomes = poller.poll(sources, {**FAST, **crawl})
        assert {o["status"] for o in outcomes.values()} == {expected}
        loads.append(srv.host_load())
    return loads


@pytest.mark.parametrize("per_host", [1, 2])
def test_per_host_limits_requests_in_flight_to_each_host(
    per_host: int, poller_factory: Any, sqlite_db: tuple[str, Any]
) -> None:
    with NewsServer(hosts=3, feeds_per_host=12, items_per_feed=2, latency=LATENCY) as srv:
        poller = poller_factory(sqlite_db[0])
        passes = _two_passes(poller, srv, {"per_host": per_host, "concurrency": 64})
    for loads in passes:
        assert len(loads) == 3
        assert all(load.requests >= 12 for load in loads.values())
        assert max(load.max_in_flight for load in loads.values()) <= per_host, loads


def test_delay_spaces_requests_to_one_host(poller_factory: Any, sqlite_db: tuple[str, Any]) -> None:
    delay = 0.3
    with NewsServer(hosts=2, feeds_per_host=4, items_per_feed=2, latency=LATENCY) as srv:
        poller = poller_factory(sqlite_db[0])
        passes = _two_passes(poller, srv, {"per_host": 2, "delay": f"{delay}s"})
    for loads in passes:
        for load in loads.values():
            assert load.requests >= 4
            # Without the delay, per_host 2 fetches the 4-5 requests in about 0.15 s.
            assert load.span >= (load.requests - 1) * delay * (1 - DELAY_JITTER), loads


def test_unlimited_hosts_overlap_in_the_log(
    poller_factory: Any, sqlite_db: tuple[str, Any]
) -> None:
    """The log does show overlaps: without a tight limit, requests to a host run together."""
    with NewsServer(hosts=1, feeds_per_host=12, items_per_feed=2, latency=1.0) as srv:
        poller = poller_factory(sqlite_db[0])
        sources = [feed(f"f{i}", url) for i, url in enumerate(srv.feed_urls())]
        poller.poll(sources, {**FAST, "per_host": 8})
        (load,) = srv.host_load().values()
    assert load.max_in_flight > 1
