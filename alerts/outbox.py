"""The delivery outbox: claim due rows, send them, record the outcome.

Protocol for one immediate delivery:

1. *Claim* (one transaction, committed): due rows (``pending``/``failed``, ``next_attempt_at``
   reached, no live lease) get ``lease_owner``/``lease_until`` and ``attempts + 1``.
   PostgreSQL claims ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers never share a row;
   SQLite serialises the claim at ``BEGIN IMMEDIATE``.
2. *Renew*: right before sending a row the lease is renewed if still ours (a row whose
   lease was lost to another dispatcher is skipped).
3. *Send* through the channel (no transaction open).
4. *Record* (new transaction): ``sent`` with ``sent_at`` and the Message-ID; or ``failed``
   with exponential backoff (never earlier than the service's Retry-After); or ``dead``
   after ``max_attempts`` or a permanent error.

Window: a crash after step 3 and before step 4 commits loses only the record, not the
message; the lease expires and the next dispatcher sends that row again. Rows are sent
and recorded one at a time, so a crash re-sends at most the one message in flight (e-mail
repeats the same Message-ID, which lets mail systems drop the copy). Every other failure
leaves the row pending, so nothing is lost; a send that keeps crashing the process is
counted by ``attempts`` (incremented at claim) and dead-lettered. The lease (default five
minutes) must outlast one send; apprise's own timeouts are far shorter.

Rate budgets: a channel with ``rate`` gets at most ``max`` messages per ``per`` (immediate
rows plus digest batches sent in the window); rows over budget stay pending, untouched.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import Channel, ChannelSender, SendResult, senders
from alerts.render import AlertItem, OtherSource, Renderer
from crawler.models import Article, Delivery, Match, Story, utcnow

LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
RETRYABLE = ("pending", "failed")


class _AlertSettings(Protocol):
    max_attempts: int


class _HttpSettings(Protocol):
    public_url: str | None


class _Settings(Protocol):
    alerts: _AlertSettings
    http: _HttpSettings


class OutboxConfig(Protocol):
    """The parts of the loaded config the outbox reads."""

    channels: Mapping[str, Channel]
    settings: _Settings
    directory: Path


@dataclass
class DispatchReport:
    """What one ``dispatch_due`` call did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    over_budget: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int, retry_after: float | None = None, *, jitter: bool = True) -> timedelta:
    """Delay before the next attempt: 30 s doubling to 6 h, never below Retry-After."""
    delay = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    if jitter:
        delay *= 1 + random.random() / 10  # upwards only: Retry-After stays a floor
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def renderer_for(config: OutboxConfig) -> Renderer:
    """Templates with the user's ``templates/`` (next to the config) taking precedence."""
    return Renderer(
        Path(config.directory) / "templates", public_url=config.settings.http.public_url
    )


def sent_in_window(session: Session, channel: str, since: datetime) -> int:
    """Messages a channel sent since ``since`` (a digest batch counts once)."""
    singles = session.scalar(
        select(func.count()).where(
            Delivery.channel == channel,
            Delivery.status == "sent",
            Delivery.batch_id.is_(None),
            Delivery.sent_at >= since,
        )
    )
    batches = session.scalar(
        select(func.count(func.distinct(Delivery.batch_id))).where(
            Delivery.channel == channel,
            Delivery.status == "sent",
            Delivery.batch_id.is_not(None),
            Delivery.sent_at >= since,
        )
    )
    return int(singles or 0) + int(batches or 0)


def _due(now: datetime) -> Any:
    return and_(
        Delivery.status.in_(RETRYABLE),
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
    )


def claim(
    session: Session,
    channels: Mapping[str, Channel],
    *,
    owner: str,
    limit: int,
    now: datetime,
    lease: timedelta = LEASE,
    report: DispatchReport | None = None,
) -> list[int]:
    """Claim due immediate deliveries within each channel's budget; commit; return ids."""
    report = report or DispatchReport()
    due = _due(now)
    names = session.scalars(
        select(Delivery.channel).where(due, Delivery.mode == "immediate").distinct()
    ).all()
    ids: list[int] = []
    for name in sorted(names):
        channel = channels.get(name)
        if channel is None or not channel.enabled or len(ids) >= limit:
            continue
        room = limit - len(ids)
        if channel.rate:
            left = channel.rate.max - sent_in_window(session, name, now - channel.rate.per)
            if left < room:
                waiting = session.scalar(select(func.count()).where(due, Delivery.channel == name))
                report.over_budget[name] = max(int(waiting or 0) - max(left, 0), 0)
            room = min(room, left)
        if room <= 0:
            continue
        ids += session.scalars(
            select(Delivery.id)
            .where(due, Delivery.mode == "immediate", Delivery.channel == name)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(room)
            .with_for_update(skip_locked=True)
        ).all()
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(lease_owner=owner, lease_until=now + lease, attempts=Delivery.attempts + 1)
        )
    session.commit()
    return ids


def dispatch_due(
    sessions: sessionmaker[Session],
    config: OutboxConfig,
    *,
    owner: str,
    limit: int = 100,
    now: datetime | None = None,
    lease: timedelta = LEASE,
    channel_senders: Mapping[str, ChannelSender] | None = None,
) -> DispatchReport:
    """Claim, send and record due immediate deliveries (see the module docstring)."""
    now = now or utcnow()
    report = DispatchReport()
    with sessions() as s:
        ids = claim(
            s, config.channels, owner=owner, limit=limit, now=now, lease=lease, report=report
        )
    report.claimed = len(ids)
    if not ids:
        return report
    out = channel_senders if channel_senders is not None else senders(config.channels)
    renderer = renderer_for(config)
    max_attempts = config.settings.alerts.max_attempts
    for delivery_id in ids:
        with sessions() as s:
            row = _renew(s, delivery_id, owner, now + lease)
            if row is None:
                report.skipped += 1
                continue
            sender = out.get(row.channel)
            if sender is None:
                result = SendResult(False, False, f"channel {row.channel!r} is not configured")
            else:
                item = load_item(s, row.match_id)
                msg = renderer.immediate(
                    item,
                    sender.format,
                    message_id=message_id(row),
                    max_length=sender.channel.max_length,
                )
                s.commit()
                result = sender.send(msg)
        with sessions() as s:
            status = record(s, delivery_id, owner, result, max_attempts=max_attempts, now=now)
        if status == "sent":
            report.sent += 1
        elif status == "dead":
            report.dead += 1
            report.errors.append(f"delivery {delivery_id}: {result.reason}")
        elif status == "failed":
            report.failed += 1
            report.errors.append(f"delivery {delivery_id}: {result.reason}")
    return report


def message_id(row: Delivery) -> str:
    """The Message-ID of a delivery; the same on every attempt."""
    return f"<delivery-{row.id}.{row.story_id}@wirewatch>"


def _renew(s: Session, delivery_id: int, owner: str, until: datetime) -> Delivery | None:
    done = s.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.lease_owner == owner,
            Delivery.status.in_(RETRYABLE),
        )
        .values(lease_until=until)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        s.rollback()
        return None
    s.commit()
    return s.get(Delivery, delivery_id)


def record(
    s: Session,
    delivery_id: int,
    owner: str,
    result: SendResult,
    *,
    max_attempts: int,
    now: datetime | None = None,
) -> str:
    """Store a send outcome for a claimed delivery; return its new status."""
    now = now or utcnow()
    row = s.get(Delivery, delivery_id)
    if row is None:
        return "gone"
    if result.ok:
        row.status, row.sent_at, row.last_error = "sent", now, None
        row.message_id = message_id(row)
    elif not result.retryable or row.attempts >= max_attempts:
        row.status, row.last_error = "dead", result.reason or "failed"
    else:
        row.status, row.last_error = "failed", result.reason or "failed"
        row.next_attempt_at = now + backoff(row.attempts, result.retry_after)
    row.lease_owner, row.lease_until = None, None
    s.commit()
    return row.status


def load_item(s: Session, match_id: int) -> AlertItem:
    """The template data for one match: its article, story and the other sources."""
    m = s.get(Match, match_id)
    if m is None:
        raise LookupError(f"match {match_id} is gone")
    article = s.get(Article, m.article_id)
    story = s.get(Story, m.story_id)
    others = s.execute(
        select(Article.source_id, Article.title, Article.url)
        .where(Article.story_id == m.story_id, Article.id != m.article_id)
        .order_by(Article.id)
    ).all()
    seen = {article.source_id} if article else set()
    other_sources = []
    for source_id, title, url in others:
        if source_id not in seen:
            seen.add(source_id)
            other_sources.append(OtherSource(source_id, title or "", url))
    terms = sorted({str(h.get("term", "")) for h in m.hits or [] if h.get("term")})
    return AlertItem(
        watchlist=m.watchlist,
        title=(article.title if article else "") or (story.title if story else ""),
        url=article.url if article else "",
        source=article.source_id if article else "",
        snippet=m.snippet or "",
        highlights=[tuple(h) for h in m.highlights or []],
        terms=terms,
        published_at=article.published_at if article else None,
        others=tuple(other_sources),
        story_id=m.story_id,
    )


def retry(session: Session, ids: Iterable[int] = (), *, all_dead: bool = False) -> int:
    """Re-queue deliveries (by id, or every dead one) for an immediate attempt; commit."""
    ids = list(ids)
    cond: list[Any] = []
    if ids:
        cond.append(Delivery.id.in_(ids))
    if all_dead:
        cond.append(Delivery.status == "dead")
    if not cond:
        return 0
    done = session.execute(
        update(Delivery)
        .where(or_(*cond), Delivery.status != "sent")
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
            batch_id=None,
            lease_owner=None,
            lease_until=None,
        )
    )
    session.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def ledger(session: Session, *, status: str | None = None, limit: int = 50) -> Sequence[Delivery]:
    """Recent deliveries, newest first, optionally of one status."""
    q = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        q = q.where(Delivery.status == status)
    return session.scalars(q).all()
