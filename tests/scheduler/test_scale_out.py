"""Two daemons on one PostgreSQL database share the work: nothing polled or sent twice."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from pathlib import Path

import pytest

from benchmarks.newsserver import NewsServer
from tests.alerts.conftest import HttpReceiver
from tests.scheduler.harness import Archive, Daemon, alerts_with, wait_for, write_config

pytestmark = pytest.mark.postgres


def test_two_daemons_share_sources_and_deliveries(tmp_path: Path, pg_url: str) -> None:
    db_url = pg_url
    hook = HttpReceiver()
    root = tmp_path / "config"
    with NewsServer(hosts=4, feeds_per_host=2, items_per_feed=3, multi="port") as news:
        write_config(root, news, hook, "taiwan AND mou")
        daemons = [Daemon(root, db_url), Daemon(root, db_url)]
        archive = Archive(db_url)
        try:
            feeds = news.feed_ids()
            wait_for(lambda: archive.baselined(len(feeds)), 90, "the baseline of every feed")
            for i, feed in enumerate(feeds):
                news.publish(feed, f"Taiwan MOU number {i}", f"Taiwan signs MOU {i}. " * 30)
            wait_for(lambda: len(hook.requests) >= len(feeds), 90, "one alert per story")
            time.sleep(8)  # more cycles: any double poll or double send would show now
            early = [d.stderr() for d in daemons if d.proc.poll() is not None]
            assert not early, early
        finally:
            codes = [d.stop() for d in daemons]
            outputs = [d.stderr() for d in daemons]
            archive.close()
            hook.close()
        for i in range(len(feeds)):
            assert alerts_with(hook, f"number {i}") == 1, (i, outputs)
        assert len(hook.requests) == len(feeds)
        assert codes == [0, 0], outputs
        # No feed was fetched twice within one interval, whichever daemon polled it.
        by_url: dict[str, list[float]] = defaultdict(list)
        for rec in news.requests():
            if "/feed/" in rec.path:
                by_url[rec.url].append(rec.time)
        for times in by_url.values():
            times.sort()
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert all(g >= 4.0 for g in gaps), gaps  # interval is 5 s
        assert sum(out.count("poll:") for out in outputs) >= 2
