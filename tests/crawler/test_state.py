"""Source poll state: config sync, leases (SKIP LOCKED on PostgreSQL), backoff, health."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crawler.models import Source
from crawler.sources import FeedSource
from crawler.state import (
    PollOutcome,
    claim_due,
    lease,
    record,
    record_failure,
    record_not_modified,
    record_success,
    sync_sources,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _feeds(n: int, **extra: Any) -> list[FeedSource]:
    return [
        FeedSource(id=f"s{i:02d}", type="rss", url=f"https://example.org/{i}.xml", **extra)
        for i in range(n)
    ]


def _row(sessions: Any, sid: str) -> Source:
    with sessions() as s:
        row = s.get(Source, sid)
        assert row is not None
        return row


def test_sync_inserts_updates_and_disables(db: Any) -> None:
    _, sessions = db
    with sessions() as s, s.begin():
        sync_sources(s, _feeds(3))
    with sessions() as s, s.begin():
        row = s.get(Source, "s01")
        assert row is not None
        row.url, row.etag, row.last_modified, row.baseline_done = "https://moved/", "e", "m", True
        s.get(Source, "s02").etag = "keep"  # type: ignore[union-attr]
    changed = [
        *_feeds(1),
        FeedSource(id="s01", type="rss", url="https://example.org/new.xml"),
        FeedSource(id="s02", type="rss", url="https://example.org/2.xml", enabled=False),
    ]
    with sessions() as s, s.begin():
        sync_sources(s, changed[1:])
    one, two, zero = _row(sessions, "s01"), _row(sessions, "s02"), _row(sessions, "s00")
    assert one.url == one.config_url == "https://example.org/new.xml"
    assert one.etag is None and one.last_modified is None and not one.baseline_done
    assert not two.enabled and two.etag == "keep"
    assert not zero.enabled  # gone from the config


def test_claim_due_respects_schedule_and_leases(db: Any) -> None:
    _, sessions = db
    with sessions() as s, s.begin():
        sync_sources(s, _feeds(4))
        s.get(Source, "s03").next_poll_at = NOW + timedelta(minutes=5)  # type: ignore[union-attr]
    with sessions() as s:
        first = claim_due(s, NOW, "a", limit=2)
    with sessions() as s:
        second = claim_due(s, NOW, "b")
    with sessions() as s:
        third = claim_due(s, NOW, "c")
    assert first == ["s00", "s01"] and second == ["s02"] and third == []
    assert _row(sessions, "s00").lease_owner == "a"
    # Expired leases are up for grabs again; an owner may re-claim its own.
    later = NOW + timedelta(hours=1)
    with sessions() as s:
        assert claim_due(s, later, "c") == ["s00", "s01", "s02", "s03"]
    with sessions() as s:
        assert lease(s, ["s00", "s01"], later, "d") == []
        assert lease(s, ["s00", "s01"], later, "c") == ["s00", "s01"]


def test_two_owners_never_claim_the_same_source(db: Any) -> None:
    _, sessions = db
    with sessions() as s, s.begin():
        sync_sources(s, _feeds(60))
    results: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def claimer(owner: str) -> None:
        barrier.wait()
        got: list[str] = []
        for _ in range(10):
            with sessions() as s:
                got += claim_due(s, NOW, owner, limit=3)
        results[owner] = got

    threads = [threading.Thread(target=claimer, args=(f"o{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [sid for got in results.values() for sid in got]
    assert len(claimed) == len(set(claimed)) == 60


@pytest.mark.postgres
def test_claim_skips_rows_locked_by_another_transaction(db: Any) -> None:
    engine, sessions = db
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL only")
    with sessions() as s, s.begin():
        sync_sources(s, _feeds(4))
    holder = sessions()
    try:
        holder.begin()
        locked = list(
            holder.scalars(select(Source.id).where(Source.id.in_(["s00", "s01"])).with_for_update())
        )
        assert sorted(locked) == ["s00", "s01"]
        with sessions() as s:
            # Returns at once with the unlocked rows instead of waiting for the holder.
            assert claim_due(s, NOW, "b") == ["s02", "s03"]
    finally:
        holder.rollback()
        holder.close()


def test_failures_back_off_and_change_health(db: Any) -> None:
    _, sessions = db
    with sessions() as s, s.begin():
        sync_sources(s, _feeds(1))
    interval = timedelta(minutes=10)
    rng = random.Random(1)
    delays = []
    for n in range(1, 7):
        with sessions() as s, s.begin():
            row = record_failure(
                s,
                "s00",
                now=NOW,
                interval=interval,
                error=f"HTTP 500 #{n}",
                status=500,
                max_backoff=timedelta(hours=6),
                rng=rng,
            )
            delays.append(row.next_poll_at - NOW)  # type: ignore[operator]
            assert row.state == ("failing" if n >= 5 else "degraded")
            assert row.consecutive_failures == n and row.last_error == f"HTTP 500 #{n}"
    assert timedelta(minutes=18) <= delays[0] <= timedelta(minutes=22)
    assert timedelta(minutes=72) <= delays[2] <= timedelta(minutes=88)
    assert delays[-1] == timedelta(hours=6)  # capped
    with sessions() as s, s.begin():
        row = record_success(s, "s00", now=NOW, interval=interval, etag='"v1"', new_items=3)
        assert row.state == "ok" and row.consecutive_failures == 0 and row.baseline_done
        assert row.items_seen == 3
        assert interval * 0.95 <= row.next_poll_at - NOW <= interval * 1.05  # type: ignore[operator]
    with sessions() as s, s.begin():
        row = record_not_modified(s, "s00", now=NOW, interval=interval)
        assert row.etag == '"v1"' and row.last_status == 304


def test_retry_after_wins_over_shorter_backoff(db: Any) -> None:
    _, sessions = db
    with sessions() as s, s.begin():
        sync_sources(s, _feeds(1))
        row = record_failure(
            s,
            "s00",
            now=NOW,
            interval=timedelta(minutes=5),
            error="HTTP 429",
            status=429,
            retry_after=timedelta(hours=3),
        )
        assert row.next_poll_at == NOW + timedelta(hours=3)
        row = record_failure(
            s,
            "s00",
            now=NOW,
            interval=timedelta(minutes=5),
            error="HTTP 429",
            status=429,
            retry_after=timedelta(days=90),
        )
        assert row.next_poll_at == NOW + timedelta(days=7)


def test_last_poll_accounting_and_no_validators_when_a_store_failed(db: Any) -> None:
    _, sessions = db
    with sessions() as s, s.begin():
        sync_sources(s, _feeds(1))
    ok = PollOutcome("s00", status="ok", http_status=200, etag='"v2"', last_modified="x")
    ok.found, ok.new = 5, 2
    ok.skip("duplicate: same guid", 2)
    ok.skip("no link and no guid")
    ok.warnings.append("feed problem: ill-formed")
    with sessions() as s, s.begin():
        record(s, ok, now=NOW, interval=timedelta(minutes=10), max_backoff=timedelta(hours=1))
    row = _row(sessions, "s00")
    assert (row.last_poll_found, row.last_poll_new, row.etag) == (5, 2, '"v2"')
    assert row.last_poll_skipped == {"duplicate: same guid": 2, "no link and no guid": 1}
    assert row.last_poll_notes == "feed problem: ill-formed" and ok.duplicates == 2
    # An entry that failed to store must be read again: no validators, so no 304 hides it.
    failed = PollOutcome("s00", status="ok", http_status=200, etag='"v3"', last_modified="y")
    failed.found = 1
    failed.skip("failed to store: OperationalError: disk I/O error")
    with sessions() as s, s.begin():
        record(s, failed, now=NOW, interval=timedelta(minutes=10), max_backoff=timedelta(hours=1))
    row = _row(sessions, "s00")
    assert row.etag is None and row.last_modified is None
    assert row.last_poll_skipped == {"failed to store: OperationalError: disk I/O error": 1}
