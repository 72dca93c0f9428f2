"""Poll state of sources in SQL: config sync, due-source leases, and the outcome of each poll.

The database, not the scheduler, knows when a source is due, which validators to send,
how often it failed and whether its first (silent baseline) poll happened.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from crawler.models import Source
from crawler.reasons import DUPLICATE, FAILED_TO_STORE
from crawler.retry import doubling
from crawler.sources import SourceConfig

FAILING_AFTER = 5
DEFAULT_LEASE = timedelta(minutes=15)
POLL_JITTER = 0.05
BACKOFF_JITTER = 0.1
MAX_RETRY_AFTER = timedelta(days=7)
MAX_ERROR_CHARS = 500
MAX_NOTES_CHARS = 2000


@dataclass
class PollOutcome:
    """What one poll of one source produced; ``status`` is ok, not_modified, failed or skipped.

    Accounting: every entry read is counted in ``found`` and ends up either stored (``new``)
    or in ``skipped`` under a reason a user can read ("duplicate: same guid", "no link and
    no guid", "failed to store: …"); ``duplicates`` counts the duplicate reasons among them.
    After a pass, ``found == new + sum(skipped.values())``.
    """

    source_id: str
    status: str = "pending"
    http_status: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    baseline: bool = False
    found: int = 0
    new: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    new_ids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # follow-ups the link policy refused

    def skip(self, reason: str, count: int = 1) -> None:
        """Count ``count`` entries left out for ``reason`` (a duplicate when it says so)."""
        if count <= 0:
            return
        self.skipped[reason] = self.skipped.get(reason, 0) + count
        if reason.startswith(DUPLICATE):
            self.duplicates += count

    @property
    def failed(self) -> bool:
        """True when the poll failed (the source's failure counter goes up)."""
        return self.status == "failed"


def sync_sources(
    session: Session, sources: Iterable[SourceConfig], *, disable_missing: bool = True
) -> None:
    """Upsert source rows from the config; rows missing from it are disabled (by default).

    A changed config URL resets the stored URL, the validators and the baseline (it is a
    different feed as far as anyone can tell). The caller commits.
    """
    configured = {s.id: s for s in sources}
    rows = {row.id: row for row in session.scalars(select(Source))}
    for sid, cfg in configured.items():
        row = rows.get(sid)
        if row is None:
            session.add(
                Source(
                    id=sid,
                    type=cfg.type,
                    url=cfg.url,
                    config_url=cfg.url,
                    enabled=cfg.enabled,
                    state="new",
                    consecutive_failures=0,
                    baseline_done=False,
                    items_seen=0,
                )
            )
            continue
        row.type = cfg.type
        row.enabled = cfg.enabled
        if row.config_url != cfg.url:
            row.config_url = row.url = cfg.url
            row.etag = row.last_modified = None
            row.baseline_done = False
            row.next_poll_at = None
    for sid, row in rows.items():
        if disable_missing and sid not in configured and row.enabled:
            row.enabled = False


def claim_due(
    session: Session,
    now: datetime,
    owner: str,
    limit: int = 1000,
    lease: timedelta = DEFAULT_LEASE,
) -> list[str]:
    """Lease up to ``limit`` enabled sources that are due and not leased (or the lease expired).

    On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED`` so concurrent
    claimers never get the same source; SQLite serialises writers (``BEGIN IMMEDIATE``).
    Commits and returns the claimed ids, most overdue first.
    """
    query = (
        select(Source.id)
        .where(
            Source.enabled.is_(True),
            or_(Source.next_poll_at.is_(None), Source.next_poll_at <= now),
            _lease_free(now),
        )
        .order_by(Source.next_poll_at.asc().nulls_first(), Source.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Source)
            .where(Source.id.in_(ids))
            .values(lease_owner=owner, lease_until=now + lease)
        )
    session.commit()
    return ids


def lease(
    session: Session,
    ids: Sequence[str],
    now: datetime,
    owner: str,
    ttl: timedelta = DEFAULT_LEASE,
) -> list[str]:
    """Lease the given sources regardless of schedule, skipping ones another owner holds.

    Commits and returns the ids obtained (in the given order).
    """
    if not ids:
        return []
    query = select(Source.id).where(Source.id.in_(list(ids)), _lease_free(now, owner))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    got = set(session.scalars(query))
    if got:
        session.execute(
            update(Source)
            .where(Source.id.in_(got))
            .values(lease_owner=owner, lease_until=now + ttl)
        )
    session.commit()
    return [i for i in ids if i in got]


def _lease_free(now: datetime, owner: str | None = None) -> ColumnElement[bool]:
    """Unleased, expired, or (with ``owner``) already held by that owner."""
    free = [Source.lease_owner.is_(None), Source.lease_until.is_(None), Source.lease_until < now]
    if owner is not None:
        free.append(Source.lease_owner == owner)
    return or_(*free)


def release(session: Session, source_id: str) -> None:
    """Drop a lease without recording a poll (the pass was interrupted)."""
    session.execute(
        update(Source).where(Source.id == source_id).values(lease_owner=None, lease_until=None)
    )


def record_success(
    session: Session,
    source_id: str,
    *,
    now: datetime,
    interval: timedelta,
    status: int | None = 200,
    etag: str | None = None,
    last_modified: str | None = None,
    moved_to: str | None = None,
    new_items: int = 0,
    problem: str | None = None,
    found: int | None = None,
    skipped: dict[str, int] | None = None,
    notes: Sequence[str] = (),
) -> Source:
    """A successful fetch: reset failures, store validators, finish the baseline, schedule.

    ``problem`` (a refused follow-up) leaves the source degraded with it as the last error.
    ``found``/``new_items``/``skipped``/``notes`` become the source's last-poll accounting
    (what ``wirewatch sources`` shows).
    """
    row = _healthy(session, source_id, now, interval, status, moved_to)
    if problem:
        row.state, row.last_error, row.last_error_at = "degraded", problem[:MAX_ERROR_CHARS], now
    row.etag = etag
    row.last_modified = last_modified
    row.baseline_done = True
    row.items_seen = (row.items_seen or 0) + new_items
    if new_items:
        row.last_new_item_at = now
    row.last_poll_found = found if found is not None else new_items
    row.last_poll_new = new_items
    row.last_poll_skipped = dict(skipped or {})
    row.last_poll_notes = "\n".join(notes)[:MAX_NOTES_CHARS] or None
    return row


def record_not_modified(
    session: Session,
    source_id: str,
    *,
    now: datetime,
    interval: timedelta,
    etag: str | None = None,
    last_modified: str | None = None,
    moved_to: str | None = None,
) -> Source:
    """A 304: the source is healthy and nothing changed; validators kept unless renewed."""
    row = _healthy(session, source_id, now, interval, 304, moved_to)
    row.etag = etag or row.etag
    row.last_modified = last_modified or row.last_modified
    return row


def _healthy(
    session: Session,
    source_id: str,
    now: datetime,
    interval: timedelta,
    status: int | None,
    moved_to: str | None,
) -> Source:
    """What every answered poll records: health reset, permanent move, next poll, no lease."""
    row = _row(session, source_id)
    row.last_polled_at = row.last_success_at = now
    row.last_status = status
    row.consecutive_failures = 0
    row.state = "ok"
    if moved_to:
        row.url = moved_to
    row.next_poll_at = now + jittered(interval)
    row.lease_owner = row.lease_until = None
    return row


def record_failure(
    session: Session,
    source_id: str,
    *,
    now: datetime,
    interval: timedelta,
    error: str,
    status: int | None = None,
    retry_after: timedelta | None = None,
    max_backoff: timedelta = timedelta(hours=6),
    failing_after: int = FAILING_AFTER,
    rng: random.Random | None = None,
) -> Source:
    """A failed poll: count it, classify health, back off exponentially (or per Retry-After).

    The next poll is ``interval × 2^failures`` (±10 % jitter) capped at ``max_backoff``,
    but never sooner than a server's Retry-After (itself capped at a week).
    """
    row = _row(session, source_id)
    failures = (row.consecutive_failures or 0) + 1
    row.consecutive_failures = failures
    row.last_polled_at = row.last_error_at = now
    row.last_status = status
    row.last_error = error[:MAX_ERROR_CHARS]
    row.state = "failing" if failures >= failing_after else "degraded"
    delay = doubling(
        interval,
        failures,
        max_backoff,
        jitter=(-BACKOFF_JITTER, BACKOFF_JITTER),
        floor=min(interval, max_backoff),
        rng=rng,
    )
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    row.next_poll_at = now + delay
    row.lease_owner = row.lease_until = None
    return row


def record(
    session: Session,
    outcome: PollOutcome,
    *,
    now: datetime,
    interval: timedelta,
    max_backoff: timedelta,
    failing_after: int = FAILING_AFTER,
    rng: random.Random | None = None,
) -> None:
    """Store an outcome through the matching ``record_*`` function."""
    if outcome.status == "ok":
        # Entries that failed to store are read again next time: no 304 may hide them.
        retry = any(reason.startswith(FAILED_TO_STORE) for reason in outcome.skipped)
        record_success(
            session,
            outcome.source_id,
            now=now,
            interval=interval,
            status=outcome.http_status,
            etag=None if retry else outcome.etag,
            last_modified=None if retry else outcome.last_modified,
            moved_to=outcome.moved_to,
            new_items=outcome.new,
            problem=outcome.refused[0] if outcome.refused else None,
            found=outcome.found,
            skipped=outcome.skipped,
            notes=outcome.warnings,
        )
    elif outcome.status == "not_modified":
        record_not_modified(
            session,
            outcome.source_id,
            now=now,
            interval=interval,
            etag=outcome.etag,
            last_modified=outcome.last_modified,
            moved_to=outcome.moved_to,
        )
    elif outcome.status == "failed":
        record_failure(
            session,
            outcome.source_id,
            now=now,
            interval=interval,
            error=outcome.error or "unknown error",
            status=outcome.http_status,
            retry_after=outcome.retry_after,
            max_backoff=max_backoff,
            failing_after=failing_after,
            rng=rng,
        )
    else:
        release(session, outcome.source_id)


def jittered(interval: timedelta, rng: random.Random | None = None) -> timedelta:
    """``interval`` ±5 %, so sources added together drift apart instead of polling in bursts."""
    return interval * (1 + (rng or random).uniform(-POLL_JITTER, POLL_JITTER))


def _row(session: Session, source_id: str) -> Source:
    row = session.get(Source, source_id)
    if row is None:
        raise KeyError(f"unknown source {source_id!r} (run sync_sources first)")
    return row
