"""Outages the daemon's work runs into, from real SQLite and PostgreSQL errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, PendingRollbackError
from sqlalchemy.orm import Session

from crawler.db import is_outage, make_engine
from crawler.models import Story
from scheduler.health import health
from scheduler.migrate import upgrade
from scheduler.outages import OutageWatch
from tests.scheduler.conftest import Clock

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _story(engine: Engine, title: str = "x" * 2000) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Story).values(title=title, first_seen_at=NOW))


def _fill(engine: Engine) -> None:
    """Cap the SQLite file at its current size: the real SQLITE_FULL of a full disk."""

    @event.listens_for(engine, "connect")
    def cap(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()

    engine.dispose()


def test_sqlite_full_is_an_outage_until_the_hold_passes(tmp_path, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    watch = OutageWatch(30, clock=clock, wall=lambda: NOW)
    watch.attach(engine)
    _story(engine)
    assert watch.current() is None

    _fill(engine)
    for _ in range(3):
        with pytest.raises(OperationalError) as err:
            for _ in range(50):
                _story(engine)
        assert is_outage(err.value)
    outage = watch.current()
    assert outage is not None
    assert outage.error == "OperationalError: database or disk is full"
    assert outage.failures == 3 and outage.since == NOW

    with engine.connect() as conn:  # reads still work: SELECT 1 alone cannot see this
        assert conn.execute(text("SELECT count(*) FROM stories")).scalar()

    clock.now += 29
    assert watch.current() is not None
    clock.now += 1
    assert watch.current() is None
    engine.dispose()


def test_a_constraint_violation_is_not_an_outage(tmp_path, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    engine.dispose()
    watch = OutageWatch(clock=clock)
    watch.attach(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(IntegrityError) as err, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert not is_outage(err.value)
    with pytest.raises(OperationalError) as err, engine.begin() as conn:
        conn.execute(text("SELECT nope FROM t"))
    assert not is_outage(err.value)
    assert watch.current() is None
    engine.dispose()


def test_health_is_unhealthy_during_an_outage_although_reads_work(tmp_path, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    watch = OutageWatch(30, clock=clock, wall=lambda: NOW)
    watch.failed("OperationalError: database or disk is full")
    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        with Session(conn) as session:
            ok, payload = health(session, NOW, NOW, watch.current())
            assert ok is False and payload["status"] == "unhealthy"
            assert payload["database"] == {
                "ok": False,
                "error": "OperationalError: database or disk is full",
                "failing_since": NOW.isoformat(),
                "failures": 1,
            }
            clock.now += 30
            ok, payload = health(session, NOW, NOW, watch.current())
            assert ok is True and payload["database"] == {"ok": True}
    engine.dispose()


@pytest.fixture
def read_only(pg_url: str) -> Iterator[tuple[Engine, str]]:
    """A migrated PostgreSQL database and the name to make it read-only with."""
    engine = make_engine(pg_url)
    upgrade(engine)
    name = engine.url.database
    assert name
    try:
        yield engine, name
    finally:
        engine.dispose()


def _set_read_only(pg_url: str, name: str, on: bool) -> None:
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        value = "on" if on else "off"
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}')
        if on:  # sessions pick the default up when they connect
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


def test_postgres_read_only_is_an_outage_and_the_pool_reconnects_after_it(
    read_only: tuple[Engine, str], pg_url: str, clock: Clock
) -> None:
    engine, name = read_only
    watch = OutageWatch(30, clock=clock, wall=lambda: NOW)
    watch.attach(engine)
    _story(engine)
    _set_read_only(pg_url, name, True)
    with pytest.raises(DBAPIError) as err:
        _story(engine)
    assert is_outage(err.value)
    assert "read-only transaction" in str(err.value)
    outage = watch.current()
    assert outage is not None and outage.error.startswith("ReadOnlySqlTransaction: cannot")

    # Writable again: the read-only session was dropped, so the next write just works.
    _set_read_only(pg_url, name, False)
    _story(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM stories")).scalar() == 2


def test_postgres_refusing_connections_is_an_outage(clock: Clock) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    engine = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/none", connect_args={"connect_timeout": 3}
    )
    watch = OutageWatch(clock=clock)
    watch.attach(engine)
    with pytest.raises(OperationalError) as err, engine.connect():
        pass
    assert is_outage(err.value)
    assert watch.current() is not None
    engine.dispose()


def test_a_connection_lost_mid_transaction_is_an_outage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.begin()
        conn.execute(insert(Story).values(title="x", first_seen_at=NOW))
        conn.invalidate()  # what a lost or read-only-dropped connection goes through
        with pytest.raises(PendingRollbackError) as err:
            conn.commit()
        assert is_outage(err.value)

    with Session(engine) as session:  # a failed flush is the statement's fault, not an outage
        session.add_all([Story(id=1, title="a", first_seen_at=NOW)])
        session.commit()
        session.add(Story(id=1, title="b", first_seen_at=NOW))
        with pytest.raises(IntegrityError):
            session.flush()
        with pytest.raises(PendingRollbackError) as err:
            session.execute(text("SELECT 1"))
        assert not is_outage(err.value)
    engine.dispose()
