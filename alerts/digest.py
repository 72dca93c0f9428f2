"""Digests: a watchlist route's pending matches, sent together on its cron schedule.

A batch is fixed before anything is sent: its rows get one ``batch_id`` (a hash of their
ids) in a committed claim. Sending renders those rows in a stable order, so a retry after
a failure or a crash sends the same content (and, for e-mail, the same Message-IDs); all
rows of the batch are marked sent in one transaction. The claim also takes the channel's
send lease (``alerts.channel_state``), so a digest waits while its channel is paused or
busy with another message. As with immediate alerts, a crash between sending and that
commit re-sends the batch once. A batch split into several messages (``max_length``, by
default the service's own limit) is re-sent whole when a later part fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts import channel_state
from alerts.channels import ChannelSender, SendResult, senders
from alerts.outbox import (
    LEASE,
    RETRYABLE,
    OutboxConfig,
    backoff,
    load_item,
    note_answer,
    renderer_for,
    sent_in_window,
    shifted_clock,
)
from alerts.watchlists import Watchlist
from crawler.models import Delivery, utcnow


class DigestConfig(OutboxConfig, Protocol):
    """The outbox config plus the watchlists (for their routes)."""

    watchlists: Sequence[Watchlist]


@dataclass(frozen=True)
class DigestRoute:
    """One digest route of one watchlist."""

    watchlist: str
    index: int
    channel: str
    schedule: str
    timezone: str


@dataclass
class DigestReport:
    """What one ``send_digest`` call did: ``status`` is sent|failed|dead|empty|busy|waiting
    (``busy``: its batch or its channel is taken, or the channel is paused)."""

    status: str
    batch_id: str | None = None
    rows: int = 0
    messages: int = 0
    error: str = ""


def digest_routes(config: DigestConfig) -> list[DigestRoute]:
    """Every digest route of every enabled watchlist."""
    return [
        DigestRoute(w.name, i, r.channel, r.schedule or "", r.timezone or config.settings.timezone)
        for w in config.watchlists
        if w.enabled
        for i, r in enumerate(w.notify)
        if r.mode == "digest" and r.schedule
    ]


def last_fire(route: DigestRoute, now: datetime) -> datetime:
    """The most recent time at or before ``now`` the route's schedule fired."""
    local = now.astimezone(ZoneInfo(route.timezone))
    it = croniter(route.schedule, local + timedelta(seconds=1))
    return it.get_prev(datetime).astimezone(now.tzinfo)


def _rows(route: DigestRoute) -> list[object]:
    return [
        Delivery.watchlist == route.watchlist,
        Delivery.channel == route.channel,
        Delivery.mode == "digest",
        Delivery.status.in_(RETRYABLE),
    ]


def due_digests(
    sessions: sessionmaker[Session], config: DigestConfig, now: datetime | None = None
) -> list[DigestRoute]:
    """Routes with something to send now: an unfinished batch whose retry is due, or
    pending rows that arrived before the schedule's latest firing (so missed firings,
    e.g. while the daemon was down, are caught up)."""
    now = now or utcnow()
    due = []
    with sessions() as s:
        for route in digest_routes(config):
            retry_due = or_(
                Delivery.batch_id.is_(None) & (Delivery.created_at <= last_fire(route, now)),
                Delivery.batch_id.is_not(None)
                & (Delivery.next_attempt_at <= now)
                & or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
            )
            if s.scalar(select(Delivery.id).where(*_rows(route), retry_due).limit(1)):
                due.append(route)
    return due


def _find_route(config: DigestConfig, watchlist_name: str, route_index: int) -> DigestRoute:
    for route in digest_routes(config):
        if route.watchlist == watchlist_name and route.index == route_index:
            return route
    raise KeyError(f"watchlist {watchlist_name!r} has no digest route #{route_index}")


def _claim(
    s: Session, route: DigestRoute, config: DigestConfig, owner: str, now: datetime
) -> DigestReport:
    free = or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)
    rows = _rows(route)
    open_batch = s.scalar(
        select(Delivery.batch_id).where(*rows, Delivery.batch_id.is_not(None)).limit(1)
    )
    if open_batch:
        ids = s.scalars(
            select(Delivery.id)
            .where(*rows, Delivery.batch_id == open_batch, free, Delivery.next_attempt_at <= now)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            s.rollback()
            return DigestReport("busy", open_batch)
        batch = open_batch
    else:
        channel = config.channels.get(route.channel)
        if channel and channel.rate:
            used = sent_in_window(s, route.channel, now - channel.rate.per)
            if used >= channel.rate.max:
                s.rollback()
                return DigestReport("waiting")
        ids = s.scalars(
            select(Delivery.id)
            .where(*rows, Delivery.batch_id.is_(None), Delivery.created_at <= now, free)
            .order_by(Delivery.id)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            s.rollback()
            return DigestReport("empty")
        key = f"{route.watchlist}|{route.channel}|" + ",".join(map(str, sorted(ids)))
        batch = hashlib.sha256(key.encode()).hexdigest()[:32]
    if not channel_state.take(s, route.channel, owner, now, LEASE):
        s.rollback()
        return DigestReport("busy", batch)
    s.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            batch_id=batch,
            lease_owner=owner,
            lease_until=now + LEASE,
            attempts=Delivery.attempts + 1,
        )
    )
    s.commit()
    return DigestReport("claimed", batch, len(ids))


def send_digest(
    sessions: sessionmaker[Session],
    config: DigestConfig,
    watchlist_name: str,
    route_index: int,
    now: datetime | None = None,
    *,
    owner: str = "digest",
    channel_senders: Mapping[str, ChannelSender] | None = None,
) -> DigestReport:
    """Send the digest of one route: claim a batch, send it, record it for all its rows."""
    now = now or utcnow()
    route = _find_route(config, watchlist_name, route_index)
    with sessions() as s:
        report = _claim(s, route, config, owner, now)
    if report.status != "claimed":
        return report
    out = channel_senders if channel_senders is not None else senders(config.channels)
    sender = out.get(route.channel)
    clock = shifted_clock(now)
    with sessions() as s:
        batch = s.scalars(
            select(Delivery)
            .where(Delivery.batch_id == report.batch_id)
            .order_by(Delivery.created_at, Delivery.id)
        ).all()
        items = [load_item(s, row.match_id) for row in batch]
        attempts = max(row.attempts for row in batch)
    result = SendResult(False, True, f"channel {route.channel!r} is not configured")
    messages = []
    if sender is not None:
        messages = renderer_for(config).digest_parts(
            route.watchlist,
            items,
            sender.format,
            max_length=sender.max_length,
            batch_id=report.batch_id or "",
        )
        for msg in messages:
            result = sender.send(msg)
            if not result.ok:
                break
    result = replace(result, answered_at=clock())
    report.messages = len(messages)
    with sessions() as s:
        values: dict[str, object] = {"lease_owner": None, "lease_until": None}
        if result.ok:
            values |= {
                "status": "sent",
                "sent_at": result.answered_at,
                "last_error": None,
                "message_id": messages[0].message_id,
            }
        elif not result.retryable or attempts >= config.settings.alerts.max_attempts:
            values |= {"status": "dead", "last_error": result.reason or "failed"}
        else:
            values |= {
                "status": "failed",
                "last_error": result.reason or "failed",
                "next_attempt_at": result.answered_at + backoff(attempts, result.retry_after),
            }
        rows = [Delivery.batch_id == report.batch_id, Delivery.status.in_(RETRYABLE)]
        if not result.ok:  # a failure is recorded only while the batch is still ours
            rows.append(Delivery.lease_owner == owner)
        s.execute(update(Delivery).where(*rows).values(**values))
        note_answer(s, route.channel, owner, result)
        s.commit()
    report.status = str(values.get("status", "failed"))
    report.error = "" if result.ok else result.reason
    return report
