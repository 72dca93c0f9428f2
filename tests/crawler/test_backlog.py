"""A pass whose storage stalls stops downloading a bounded way ahead of it, and loses nothing.

The test holds SQLite's write lock from outside, so the pass's storage waits (its
``busy_timeout`` is 30 s), and counts the feeds the news server served meanwhile. Every
served feed waits parsed in memory until it is stored; Scrapy hands its downloader no new
request while more than ``SCRAPER_BACKLOG_BYTES`` of responses wait. The count is an upper
bound, so a slow machine cannot make it fail; with Scrapy's own 5 MB budget all 60 feeds
(about 3 MB) are served while storage waits.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
import urllib.request
from typing import Any

from sqlalchemy import func, select

from benchmarks.newsserver import NewsServer
from crawler.models import Article
from crawler.scrapy_settings import SCRAPER_BACKLOG_BYTES
from tests.crawler.conftest import FAST, feed

FEEDS = 60
PER_HOST = 2
# Scrapy's downloader takes up to ``concurrency`` requests at once and queues them per host;
# the budget decides how many more it is handed.
CONCURRENCY = 4
LOCKED_FOR = 4.0  # seconds; well inside the poller's 30 s busy_timeout


def _feed_requests(srv: NewsServer) -> int:
    return sum(1 for r in srv.requests() if "/feed/" in r.url)


def test_stalled_storage_bounds_the_responses_waiting(
    poller_factory: Any, sqlite_db: tuple[str, Any]
) -> None:
    url, sessions = sqlite_db
    with NewsServer(hosts=1, feeds_per_host=FEEDS, items_per_feed=100, latency=0.02) as srv:
        urls = srv.feed_urls()
        smallest = min(len(urllib.request.urlopen(u, timeout=10).read()) for u in urls[:5])
        srv.reset_requests()
        poller = poller_factory(url)
        outcomes: dict[str, Any] = {}
        sources = [feed(f"f{i}", u) for i, u in enumerate(urls)]
        passing = threading.Thread(
            target=lambda: outcomes.update(
                poller.poll(sources, {**FAST, "per_host": PER_HOST, "concurrency": CONCURRENCY})
            )
        )
        passing.start()
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60, isolation_level=None)
        try:
            deadline = time.monotonic() + 60
            while _feed_requests(srv) == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            lock.execute("BEGIN IMMEDIATE")  # storage from here on waits for us
            served_before = _feed_requests(srv)
            time.sleep(LOCKED_FOR)
            served_while_locked = _feed_requests(srv)
        finally:
            if lock.in_transaction:
                lock.execute("ROLLBACK")
            lock.close()
        passing.join(timeout=120)
    assert not passing.is_alive()
    # the responses waiting, plus the requests the downloader held when the budget was crossed
    bound = math.ceil(SCRAPER_BACKLOG_BYTES / smallest) + CONCURRENCY + 1
    assert served_while_locked <= max(bound, served_before + CONCURRENCY), (
        served_before,
        served_while_locked,
        bound,
    )
    assert {o["status"] for o in outcomes.values()} == {"ok"}
    new = sum(o["new"] for o in outcomes.values())
    skipped = sum(sum(o["skipped"].values()) for o in outcomes.values())
    assert new + skipped == FEEDS * 100 and new > FEEDS * 90  # every entry stored or counted
    assert not {r for o in outcomes.values() for r in o["skipped"] if "fail" in r}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == new
