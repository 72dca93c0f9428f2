"""The archive benchmark's bulk load writes what the real storage path writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from benchmarks.archive_seed import SEED_BASE, copy_to_postgres, seed_sqlite
from benchmarks.bench_archive import (
    SOURCES,
    ArticleStream,
    add_sources,
    migrated_postgres,
    migrated_sqlite,
    postgres_reachable,
)
from crawler.db import session_factory
from crawler.retention import prune_bands
from crawler.search_index import FTS_TABLE
from crawler.store import store_many

ITEMS = 300  # stream items per chunk
CHUNKS = 2

_QUERIES = {
    "articles": "SELECT id, source_id, url, canonical_url, guid, title, summary, body, author, "
    "publisher, language, tags, published_at, date_rule, content_hash, minhash, baseline, "
    "story_id, text_attempts, matched_at IS NOT NULL FROM articles ORDER BY id",
    "stories": "SELECT id, lead_article_id, title, article_count FROM stories ORDER BY id",
    "story_bands": "SELECT article_id, band, story_id FROM story_bands ORDER BY article_id, band",
    "article_search": "SELECT article_id, key FROM article_search ORDER BY article_id",
}


def _value(v: object) -> object:
    if isinstance(v, memoryview):
        return bytes(v)
    if isinstance(v, str) and v.startswith("["):  # tags: JSON text in SQLite
        return json.loads(v)
    return v


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        out = {
            name: [tuple(_value(v) for v in row) for row in conn.execute(text(q))]
            for name, q in _QUERIES.items()
        }
        if engine.dialect.name == "sqlite":  # the FTS5 index answers for the keys' words
            words = sorted({w for (_, key) in out["article_search"][:50] for w in key.split()})
            out["fts"] = [
                (
                    w,
                    *conn.scalars(
                        text(
                            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :w "
                            "ORDER BY rowid"
                        ),
                        {"w": w},
                    ),
                )
                for w in words[:200]
            ]
        return out


def _stamp_shapes(engine: Engine) -> set[str]:
    """How the timestamp columns are written (digits masked)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.fetched_at, a.matched_at, s.first_seen_at, s.updated_at, b.created_at "
                "FROM articles a JOIN stories s ON s.id = a.story_id "
                "JOIN story_bands b ON b.article_id = a.id"
            )
        )
        return {re.sub(r"\d", "9", str(v)) for row in rows for v in row}


def _grown() -> dict[str, list[tuple[object, ...]]]:
    """The same chunks stored through ``store_many`` in pages of 100."""
    with migrated_sqlite() as (engine, _):
        sessions = session_factory(engine)
        add_sources(sessions, [f"arc-{i:03d}" for i in range(SOURCES)], "http://127.0.0.1")
        for k in range(CHUNKS):
            stream = ArticleStream(seed=SEED_BASE + k, first=k * ITEMS)
            items = [stream.next() for _ in range(ITEMS)]
            for start in range(0, ITEMS, 100):
                store_many(sessions, items[start : start + 100], baseline=True)
        return _dump(engine) | {"stamps": [(shape,) for shape in _stamp_shapes(engine)]}


def _seeded(engine: Engine, n: int) -> None:
    add_sources(
        session_factory(engine), [f"arc-{i:03d}" for i in range(SOURCES)], "http://127.0.0.1"
    )
    seed_sqlite(engine, n, now=datetime.now(UTC), workers=1, items=ITEMS)


def test_bulk_load_equals_the_real_storage_path() -> None:
    grown = _grown()
    n = len(grown["articles"])
    assert len(grown["stories"]) < n  # syndicated copies joined stories
    assert n < CHUNKS * ITEMS  # re-posts were skipped
    with migrated_sqlite() as (engine, _):
        _seeded(engine, n)
        seeded = _dump(engine) | {"stamps": [(shape,) for shape in _stamp_shapes(engine)]}
        with engine.connect() as conn:
            fts = conn.execute(text("SELECT count(*) FROM article_search_fts")).scalar_one()
            names = {
                r[0]
                for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='index'"))
            }
    for table, rows in grown.items():
        assert seeded[table] == rows, table
    assert fts == n
    assert {"ix_story_bands_band_article_story", "ix_story_bands_story_id"} <= names


def test_a_seed_of_recent_band_keys_equals_a_full_seed_after_the_daemons_retention() -> None:
    now = datetime.now(UTC)
    keep = timedelta(days=40)  # of a 365-day spread: about an ninth of the articles

    def bands(engine: Engine) -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT * FROM story_bands ORDER BY 1, 2")))

    with migrated_sqlite() as (full, _), migrated_sqlite() as (recent, _):
        for engine, bands_for in ((full, None), (recent, keep)):
            add_sources(
                session_factory(engine), [f"arc-{i:03d}" for i in range(SOURCES)], "http://x"
            )
            seed_sqlite(engine, 900, now=now, workers=1, items=ITEMS, bands_for=bands_for)
        with session_factory(full).begin() as session:
            removed = prune_bands(session, now - keep)
        kept = bands(recent)
        assert removed > 0 and kept
        assert kept == bands(full)
        with session_factory(recent).begin() as session:
            assert prune_bands(session, now - keep) == 0


@pytest.mark.skipif(not postgres_reachable(), reason="no PostgreSQL on 127.0.0.1:5432")
def test_postgres_copy_equals_the_sqlite_seed() -> None:
    with migrated_sqlite() as (lite, url):
        _seeded(lite, 400)
        expected = _dump(lite)
        with migrated_postgres() as (pg, _):
            add_sources(
                session_factory(pg), [f"arc-{i:03d}" for i in range(SOURCES)], "http://127.0.0.1"
            )
            copy_to_postgres(url.removeprefix("sqlite:///"), pg)
            copied = _dump(pg)
            with pg.connect() as conn:
                hits = conn.execute(
                    text(
                        "SELECT count(*) FROM article_search WHERE "
                        "array_to_tsvector(string_to_array(key, ' ')) @@ to_tsquery('simple', :w)"
                    ),
                    {"w": expected["article_search"][0][1].split()[0]},
                ).scalar_one()
                nxt = conn.execute(text("SELECT nextval('articles_id_seq')")).scalar_one()
    for table in _QUERIES:
        assert copied[table] == expected[table], table
    assert hits >= 1 and nxt == 401
