"""Schema migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

import alerts.models  # noqa: F401  (the alert tables join Base.metadata)
from crawler.db import make_engine
from crawler.models import Base
from scheduler.migrate import (
    SchemaError,
    current_revision,
    ensure_schema,
    head_revision,
    include_object,
    shipped_head,
    upgrade,
)


def test_empty_database_is_upgraded_by_the_daemon(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert ensure_schema(engine) is True
        assert current_revision(engine) == head_revision()
        assert ensure_schema(engine) is False  # idempotent
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_migrations_match_the_models(db_url: str) -> None:
    """Autogenerate finds nothing to do: migrations and models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_the_head_read_without_alembic_is_alembics() -> None:
    assert shipped_head() == head_revision()


def test_a_database_one_revision_behind_is_refused(db_url: str) -> None:
    from alembic.script import ScriptDirectory

    from scheduler.migrate import alembic_config

    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision())
    assert previous is not None and isinstance(previous.down_revision, str)
    engine = make_engine(db_url)
    try:
        upgrade(engine, previous.down_revision)
        with pytest.raises(SchemaError, match="run `wirewatch db upgrade`"):
            ensure_schema(engine)
        with engine.begin() as conn:  # two rows: not "at head", whatever they say
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head_revision()})
        with pytest.raises(Exception):  # noqa: B017 (alembic's own error for two heads)
            ensure_schema(engine)
    finally:
        engine.dispose()


def test_foreign_database_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
        with pytest.raises(SchemaError, match="no wirewatch schema version"):
            ensure_schema(engine)
    finally:
        engine.dispose()


def test_downgrade_then_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        upgrade_to_base(engine)
        assert current_revision(engine) is None
        with pytest.raises(SchemaError):  # alembic_version table remains empty but present
            ensure_schema_after_manual_table(engine)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def upgrade_to_base(engine) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from scheduler.migrate import alembic_config

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")


def ensure_schema_after_manual_table(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE leftover (id INTEGER PRIMARY KEY)"))
    try:
        ensure_schema(engine)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE leftover"))


def test_sqlite_pragmas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'w.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def _automerge(engine: Engine) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT v FROM article_search_fts_config WHERE k = 'automerge'"
        ).scalar()


def test_the_fts5_index_merges_eight_segments_per_level(tmp_path: Path) -> None:
    from crawler.search_index import AUTOMERGE, FTS5_DEFAULT_AUTOMERGE, tune_index

    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    older = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    try:
        upgrade(fresh)
        assert _automerge(fresh) == AUTOMERGE == 8
        upgrade(older, "0006_search_index")
        with older.begin() as conn:  # as 0006 left it: FTS5's default
            tune_index(conn, FTS5_DEFAULT_AUTOMERGE)
        assert _automerge(older) == 4
        upgrade(older)
        assert _automerge(older) == AUTOMERGE
    finally:
        fresh.dispose()
        older.dispose()
