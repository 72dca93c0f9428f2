"""SQLite's write-ahead log: checkpointed in large steps, and its file kept bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from crawler.db import WAL_SIZE_LIMIT, make_engine

PAGE = 4096
ROW = 3000  # bytes: one row per page


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
    yield engine
    engine.dispose()


def _write(engine: Engine, pages: int, per_transaction: int) -> None:
    for start in range(0, pages, per_transaction):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < :k) INSERT INTO t SELECT randomblob(:size) FROM n"
                ),
                {"k": min(per_transaction, pages - start), "size": ROW},
            )


def _wal_bytes(engine: Engine) -> int:
    return Path(f"{engine.url.database}-wal").stat().st_size


def test_commits_do_not_checkpoint_every_thousand_pages(engine: Engine) -> None:
    # SQLite's default checkpoints once the log holds 1,000 pages, so the log never
    # outgrows about 1,000 pages plus one transaction.
    _write(engine, 3_000, 100)
    assert _wal_bytes(engine) > 2_500 * PAGE
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 3_000


def test_the_log_is_checkpointed_and_stays_bounded(engine: Engine) -> None:
    pages = 3 * WAL_SIZE_LIMIT // PAGE
    _write(engine, pages, 500)
    assert _wal_bytes(engine) <= WAL_SIZE_LIMIT + 4 * 1024 * 1024
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == pages


def test_a_huge_transaction_leaves_no_huge_log_behind(engine: Engine) -> None:
    big = WAL_SIZE_LIMIT // PAGE + 4_000
    _write(engine, big, big)
    assert _wal_bytes(engine) > WAL_SIZE_LIMIT  # the transaction itself needs the room
    _write(engine, 10, 10)  # the next writer starts the log over, truncated to the limit
    assert _wal_bytes(engine) <= WAL_SIZE_LIMIT
