"""Feed batches and the parse-only ceiling (``feedparser.parse`` alone) for benchmarks.

``feedparser.parse`` on bytes is what the crawler calls, so its rate on a batch is the ceiling
the ``ingest`` benchmark (parse + normalise + dedupe + store + match) is measured against.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import feedparser

from benchmarks.corpus import real_feeds
from benchmarks.newscontent import NewsSite


def generated_feeds(count: int, items_per_feed: int = 20, seed: int = 0) -> list[bytes]:
    """`count` generated feeds (RSS and Atom, English and Chinese), rendered without a server."""
    hosts = max(1, (count + 4) // 5)
    site = NewsSite([f"http://127.0.0.{i + 2}:8080" for i in range(hosts)], 5, items_per_feed, seed)
    return [site.render_feed(i).encode() for i in range(count)]


def feed_batch(quick: bool = False, corpus: Path | None = None) -> list[bytes]:
    """The benchmark input: the captured real feeds plus generated ones."""
    real = real_feeds(corpus, limit=6 if quick else None)
    return real + generated_feeds(10 if quick else 120)


def count_items(feed_bytes_list: Sequence[bytes]) -> int:
    """Entries feedparser finds in the batch."""
    return sum(len(feedparser.parse(data).entries) for data in feed_bytes_list)


def parse_only_rate(feed_bytes_list: Sequence[bytes], rounds: int = 1) -> float:
    """Items per second for ``feedparser.parse`` alone on the batch (best of `rounds`)."""
    best = float("inf")
    items = 0
    for _ in range(max(1, rounds)):
        started = time.perf_counter()
        items = sum(len(feedparser.parse(data).entries) for data in feed_bytes_list)
        best = min(best, time.perf_counter() - started)
    return items / best if best > 0 else 0.0
