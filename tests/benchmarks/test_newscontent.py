"""The generated news text is like real news where story assignment looks: unrelated items
rarely share a MinHash band key (real feed entries: 2 pairs in 685,035)."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from benchmarks.newscontent import NewsSite
from crawler.dedupe import prepare


def _band_sharing(templated: bool) -> tuple[float, int]:
    """Share of item pairs with a band key in common, and the items compared (those long
    enough to have a signature, one per distinct text)."""
    site = NewsSite([f"http://h{i}" for i in range(20)], 5, 10, templated=templated)
    texts = {(item.title, item.summary) for feed in range(100) for item in site.feed(feed).items}
    prepared = [p for p in (prepare(t, s) for t, s in sorted(texts)) if p.sig is not None]
    by_key: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(prepared):
        for key in p.keys:
            by_key[key].append(i)
    pairs = {pair for ids in by_key.values() for pair in combinations(ids, 2)}
    n = len(prepared)
    return len(pairs) / (n * (n - 1) // 2), n


def test_unrelated_generated_items_rarely_share_a_band() -> None:
    share, compared = _band_sharing(templated=False)
    assert compared >= 900  # nearly every item has a signature
    assert share < 1e-3


def test_the_templated_worst_case_shares_bands() -> None:
    share, _ = _band_sharing(templated=True)
    assert share > 5e-3
