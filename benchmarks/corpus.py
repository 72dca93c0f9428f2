"""Locating the shared real-world corpus (outside the repository) for benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_FEED_BENCH = Path("feeds") / "kagisearch-fastfeedparser" / "benchmark_data"


def corpus_dir() -> Path | None:
    """`WIREWATCH_CORPUS`, else ``shared/corpus`` beside the repository; None when absent."""
    env = os.environ.get("WIREWATCH_CORPUS")
    path = Path(env) if env else REPO.parent / "shared" / "corpus"
    return path if path.is_dir() else None


def real_feeds(corpus: Path | None = None, limit: int | None = None) -> list[bytes]:
    """Captured real news feeds (XML only, sorted by name); empty when the corpus is absent."""
    root = corpus or corpus_dir()
    if root is None or not (root / _FEED_BENCH).is_dir():
        return []
    files = sorted(p for p in (root / _FEED_BENCH).iterdir() if p.suffix == ".xml")
    return [p.read_bytes() for p in files[:limit]]
