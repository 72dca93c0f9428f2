"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _corpus_dir() -> Path:
    env = os.environ.get("WIREWATCH_CORPUS")
    return Path(env) if env else REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared real-world corpus (feeds, articles, dedupe pairs); absent: skip, in CI: fail."""
    path = _corpus_dir()
    if not path.is_dir():
        reason = f"corpus not found at {path} (set WIREWATCH_CORPUS)"
        if os.environ.get("CI"):
            pytest.fail(f"CI requires the corpus: {reason}")
        pytest.skip(reason)
    return path


PG_ADMIN_URL = os.environ.get("WIREWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: no usable server
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of a PostgreSQL server; skips without one, fails in CI."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL leg: {reason}")
        pytest.skip(reason)
    return PG_ADMIN_URL


def _create_pg_database(admin_url: str) -> tuple[str, str]:
    import uuid

    import psycopg

    name = f"wirewatch_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    """An empty database URL, once on SQLite and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wirewatch.db'}"
        return
    admin = request.getfixturevalue("pg_server")
    name, url = _create_pg_database(admin)
    try:
        yield url
    finally:
        _drop_pg_database(admin, name)


@pytest.fixture
def pg_url(pg_server: str) -> object:
    """A fresh, empty PostgreSQL database (dropped afterwards)."""
    name, url = _create_pg_database(pg_server)
    try:
        yield url
    finally:
        _drop_pg_database(pg_server, name)


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    """A migrated database: yields (engine, sessionmaker)."""
    from crawler.db import make_engine, session_factory
    from scheduler.migrate import upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    try:
        yield engine, session_factory(engine)
    finally:
        engine.dispose()
