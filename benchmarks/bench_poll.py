"""poll: one poll cycle of many feeds on many slow hosts.

The baseline is the naive loop: fetch each feed in turn with urllib and parse it with
feedparser. The wirewatch side is ``crawler.wirewatch_poll(urls)`` (the Scrapy collector),
timed the same way on the same server; until the crawler exposes it the row says so.
"""

from __future__ import annotations

import importlib
import time
import urllib.request
from collections.abc import Callable, Sequence

import feedparser

from benchmarks.newsserver import NewsServer
from benchmarks.registry import Result, RunOptions, register

LATENCY = 0.05
_TIMEOUT = 30.0


def sequential_poll(urls: Sequence[str]) -> float:
    """Seconds to fetch every URL one after another with urllib and parse it with feedparser."""
    started = time.perf_counter()
    for url in urls:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
            feedparser.parse(response.read())
    return time.perf_counter() - started


def wirewatch_poll_fn() -> Callable[[Sequence[str]], object] | None:
    """``crawler.wirewatch_poll`` when the crawler provides it, else None."""
    try:
        crawler = importlib.import_module("crawler")
    except ImportError:
        return None
    fn = getattr(crawler, "wirewatch_poll", None)
    return fn if callable(fn) else None


@register("poll-baseline", "poll cycle: sequential urllib+feedparser vs the wirewatch crawler")
def run(options: RunOptions) -> Result:
    hosts, per_host = (10, 5) if options.quick else (100, 10)
    with NewsServer(hosts=hosts, feeds_per_host=per_host, latency=LATENCY) as server:
        urls = server.feed_urls()
        baseline = sequential_poll(urls)
        poll = wirewatch_poll_fn()
        wirewatch = None
        if poll is not None:
            server.reset_requests()
            started = time.perf_counter()
            poll(urls)
            wirewatch = time.perf_counter() - started
            fetched = sum(server.request_count(u) for u in urls)
            notes = f"wirewatch fetched {fetched}/{len(urls)} feeds"
        else:
            notes = "wirewatch side not available yet (crawler.wirewatch_poll)"
    return Result(
        name="poll-baseline",
        wirewatch=wirewatch,
        baseline=baseline,
        unit="s / cycle",
        higher_is_better=False,
        target="≥ 10×",
        notes=f"{len(urls)} feeds on {hosts} hosts, {LATENCY * 1000:.0f} ms latency; {notes}",
        extra={"feeds": len(urls), "hosts": hosts},
    )
