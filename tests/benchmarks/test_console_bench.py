"""The console benchmark's parts on a small archive: bulk seeding and the timed requests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from alerts.models import Delivery
from benchmarks.bench_archive import migrated_sqlite
from benchmarks.bench_console import measure, seed, summarize, write_config
from crawler.models import Article, Story


def test_seed_and_measure_every_kind(tmp_path: Path) -> None:
    with migrated_sqlite() as (engine, url):
        archive = seed(engine, 3000, now=datetime.now(UTC))
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Article)) == 3000
            assert conn.scalar(select(func.count()).select_from(Story)) == archive.stories
            dead = conn.scalar(select(func.count()).where(Delivery.status == "dead"))
        assert archive.matched and dead == len(archive.matched)
        figures = summarize(measure(url, archive, write_config(tmp_path / "config"), rounds=2))
    assert set(figures) == {
        "list", "list-deep", "list-watchlist", "list-source", "search", "story",
        "story-matched",
        "tryout", "offset-deep",
    }  # fmt: skip
    assert all(p50 > 0 and p95 >= p50 for p50, p95 in figures.values())
