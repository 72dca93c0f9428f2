"""Engines and sessions: SQLite (WAL, foreign keys) by default, PostgreSQL supported.

A SQLite database is private to its owner: the data directory is created 0700 and the
database file 0600 before SQLite opens it; SQLite gives its ``-wal`` and ``-shm`` files the
mode of the database file. Existing directories and files keep the mode they have.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` / ``postgres://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, create the parent directory and turn on WAL + foreign keys."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            create_private_file(Path(parsed.database).expanduser())
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take it over so that
        # writes serialise at BEGIN IMMEDIATE instead of failing late with "locked".
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (its directory 0700) unless it exists."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


#: Size the WAL file is truncated back to after a checkpoint (a huge transaction grows it).
WAL_SIZE_LIMIT = 64 * 1024 * 1024
#: WAL pages after which a commit checkpoints them into the database (SQLite's default:
#: 1,000): the size limit in SQLite's default 4 KiB pages. A checkpoint copies every page
#: written since the last one and syncs the file twice; the band index's random keys make
#: each commit of a first pass touch thousands of its pages, so SQLite's default
#: checkpointed at every commit, and those checkpoints were 12-15 s of a 20,000-article
#: first pass against 5-6 s at this size (benchmarks/RESULTS.md).
WAL_CHECKPOINT_PAGES = WAL_SIZE_LIMIT // 4096


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES:d}")
    cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT:d}")
    cur.close()


def make_reader(engine: Engine) -> Engine:
    """An engine for reads that never wait for SQLite's write lock (the engine itself elsewhere).

    Writers begin with BEGIN IMMEDIATE, which would make every read queue behind every write;
    this engine issues no BEGIN, so each SELECT reads the latest committed WAL snapshot.
    """
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return engine
    reader = create_engine(engine.url, connect_args={"timeout": 30})
    event.listen(reader, "connect", _reader_pragmas)
    return reader


def _reader_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def lock_transaction(session: Session, key: int) -> None:
    """Serialise this transaction with others taking ``key`` (PostgreSQL advisory lock).

    SQLite needs nothing: its writers already serialise at BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT supporting ``on_conflict_do_nothing`` on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


# What makes a database error an outage rather than a fault of the statement: SQLite primary
# result codes (busy, locked, read-only, I/O error, corrupt, full, cannot open, not a database)
# and PostgreSQL SQLSTATEs (connection, read-only transaction, insufficient privilege,
# insufficient resources such as disk full, operator intervention, system error).
_SQLITE_OUTAGE = frozenset({5, 6, 8, 10, 11, 13, 14, 26})
_PG_OUTAGE = ("08", "25006", "42501", "53", "57P", "58")
_INVALIDATED = "Can't reconnect until invalid transaction is rolled back"


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (a driver error, or a SQLAlchemy error wrapping one) says the database
    cannot take work now: disk full, read-only, lost connection, I/O error, locked.

    False for errors of the statement itself (constraints, syntax), which retrying the same
    work cannot fix and which must not be mistaken for an outage.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "connection_invalidated", False):
            return True
        if isinstance(current, PendingRollbackError) and str(current).startswith(_INVALIDATED):
            return True  # the connection was lost (or dropped as read-only) mid-transaction
        code = getattr(current, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in _SQLITE_OUTAGE
        if type(current).__module__.startswith("psycopg"):
            state = getattr(current, "sqlstate", None)
            if state is None:  # no server answer: connection refused, reset, timed out
                return type(current).__name__ == "OperationalError"
            return str(state).startswith(_PG_OUTAGE)
        current = getattr(current, "orig", None) or current.__cause__
    return False
