"""feedparse: feedparser alone on a mixed batch of real and generated feeds.

The wirewatch figure is ``feedparser.parse`` on bytes, which is what the crawler calls, so it is
the ceiling the ingest benchmark (fetch + parse + normalise + dedupe + store) is measured
against. The baseline is a bare lxml walk that only finds the item elements: the least any
XML feed parse can cost. Both rates divide the same item count (feedparser's) by each side's
time, so the ratio is a pure time ratio.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import feedparser
from lxml import etree

from benchmarks.corpus import real_feeds
from benchmarks.newscontent import NewsSite
from benchmarks.registry import Result, RunOptions, register

_ITEM_TAGS = frozenset({"item", "entry"})


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


def _bare_xml_seconds(feed_bytes_list: Sequence[bytes]) -> tuple[float, int]:
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    started = time.perf_counter()
    found = 0
    for data in feed_bytes_list:
        root = etree.fromstring(data, parser)
        if root is None:
            continue
        found += sum(
            1 for el in root.iter(etree.Element) if el.tag.rpartition("}")[2] in _ITEM_TAGS
        )
    return time.perf_counter() - started, found


@register("feedparse", "feedparser.parse alone (ingest ceiling) vs a bare lxml item walk")
def run(options: RunOptions) -> Result:
    batch = feed_batch(options.quick, options.corpus)
    rounds = 1 if options.quick else 3
    items = count_items(batch)  # also warms imports and caches for both sides
    ceiling = parse_only_rate(batch, rounds)
    bare = min(_bare_xml_seconds(batch)[0] for _ in range(rounds))
    real = len(real_feeds(options.corpus, limit=6 if options.quick else None))
    return Result(
        name="feedparse",
        wirewatch=ceiling,
        baseline=items / bare if bare > 0 else None,
        unit="items/s",
        target="informational (ingest ceiling)",
        notes=f"{len(batch)} feeds ({real} real, {len(batch) - real} generated), "
        f"{items} items, {sum(map(len, batch)) / 1e6:.1f} MB; best of {rounds}",
        extra={"feeds": len(batch), "items": items},
    )
