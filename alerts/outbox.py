"""The delivery outbox: claim one due row per channel, send it, record the outcome.

Protocol for one immediate delivery (``drain_channel`` repeats it while rows are due):

1. *Claim* (one transaction, committed): the channel's send lease (``alerts.channel_state``:
   refused while the channel is paused or another dispatcher is sending on it) and the
   channel's next due row (``pending``/``failed``, ``next_attempt_at`` reached, no live
   lease), which gets ``lease_owner``/``lease_until`` and ``attempts + 1``. PostgreSQL
   claims ``FOR UPDATE SKIP LOCKED``; SQLite serialises the claim at ``BEGIN IMMEDIATE``.
2. *Send* through the channel (no transaction open).
3. *Record* (new transaction): ``sent`` with ``sent_at`` = when the service answered and
   the Message-ID; or ``failed`` with exponential backoff from that answer (never earlier
   than Retry-After, which also pauses the whole channel); or ``dead`` after
   ``max_attempts`` or a clearly permanent refusal. A 429 is pace, not failure: the row is
   due again when the pause ends, and the attempt is not counted. The channel lease is
   given back.

Window: a crash after step 2 and before step 3 commits loses only the record, not the
message; the leases expire (or a daemon restarting on the same host releases them) and
the row is sent again. Only one row per channel is claimed at a time, so a crash re-sends
at most the one message in flight on each channel (e-mail repeats the same Message-ID,
which lets mail systems drop the copy). A send that keeps crashing the process is counted
by ``attempts`` (incremented at claim) and dead-lettered. A dispatcher that stops on
purpose claims nothing more, lets the sends in flight finish within a grace period and
hands back the rest with the attempt undone (``channel_state.release_owner``). The lease
(default five minutes) must outlast one send; channel timeouts are far shorter.

Rate budgets: a channel with ``rate`` gets at most ``max`` messages per ``per`` (immediate
rows plus digest batches sent in the window); rows over budget stay pending, untouched.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts import channel_state
from alerts.channel_state import RETRYABLE
from alerts.channels import Channel, ChannelSender, SendResult, senders
from alerts.render import AlertItem, OtherSource, Renderer
from crawler.models import Article, Delivery, Match, Story, utcnow

LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)


class _AlertSettings(Protocol):
    max_attempts: int


class _HttpSettings(Protocol):
    public_url: str | None


class _Settings(Protocol):
    alerts: _AlertSettings
    http: _HttpSettings
    timezone: str


class _SourcesFile(Protocol):
    @property
    def sources(self) -> Sequence[Any]: ...


class OutboxConfig(Protocol):
    """The parts of the loaded config the outbox reads."""

    channels: Mapping[str, Channel]
    settings: _Settings
    directory: Path
    sources: _SourcesFile


@dataclass
class DispatchReport:
    """What one ``dispatch_due`` call did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    over_budget: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, status: str, error: str) -> None:
        """Tally one recorded outcome."""
        if status == "sent":
            self.sent += 1
        elif status in ("failed", "dead"):
            setattr(self, status, getattr(self, status) + 1)
            self.errors.append(error)


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
        Path(config.directory) / "templates",
        public_url=config.settings.http.public_url,
        timezone=config.settings.timezone,
        source_names={s.id: s.label for s in config.sources.sources},
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


def is_due(now: datetime) -> Any:
    """The condition of a delivery that may be claimed at ``now``."""
    return and_(
        Delivery.status.in_(RETRYABLE),
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
    )


def claim_next(
    s: Session,
    name: str,
    channel: Channel,
    *,
    owner: str,
    now: datetime,
    lease: timedelta = LEASE,
    report: DispatchReport | None = None,
) -> int | None:
    """Claim the channel's next due immediate delivery with its send lease; commit."""
    due = and_(is_due(now), Delivery.mode == "immediate", Delivery.channel == name)
    if channel.rate:
        left = channel.rate.max - sent_in_window(s, name, now - channel.rate.per)
        if left <= 0:
            if report is not None:
                report.over_budget[name] = int(s.scalar(select(func.count()).where(due)) or 0)
            s.rollback()
            return None
    row_id = s.scalar(
        select(Delivery.id)
        .where(due)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if row_id is None or not channel_state.take(s, name, owner, now, lease):
        s.rollback()
        return None
    s.execute(
        update(Delivery)
        .where(Delivery.id == row_id)
        .values(lease_owner=owner, lease_until=now + lease, attempts=Delivery.attempts + 1)
    )
    s.commit()
    return int(row_id)


def drain_channel(
    sessions: sessionmaker[Session],
    config: OutboxConfig,
    name: str,
    sender: ChannelSender | None,
    *,
    owner: str,
    report: DispatchReport,
    limit: int = 100,
    now: Callable[[], datetime] = utcnow,
    lease: timedelta = LEASE,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Send one channel's due immediate deliveries one at a time (see the module docstring)
    until none is due, ``limit`` are claimed, the channel is paused or we are stopping."""
    channel = config.channels.get(name)
    if channel is None or not channel.enabled:
        return
    renderer = renderer_for(config)
    max_attempts = config.settings.alerts.max_attempts
    claimed = 0
    while claimed < limit and not stopping():
        with sessions() as s:
            delivery_id = claim_next(
                s, name, channel, owner=owner, now=now(), lease=lease, report=report
            )
        if delivery_id is None:
            return
        claimed += 1
        report.claimed += 1
        result = replace(_send_one(sessions, renderer, sender, delivery_id), answered_at=now())
        with sessions() as s:
            status = record(s, delivery_id, owner, result, max_attempts=max_attempts)
        report.count(status, f"delivery {delivery_id}: {result.reason}")
        if result.retry_after is not None:
            return  # the channel is paused now


def _send_one(
    sessions: sessionmaker[Session],
    renderer: Renderer,
    sender: ChannelSender | None,
    delivery_id: int,
) -> SendResult:
    if sender is None:
        return SendResult(False, True, "channel is not configured or cannot be loaded")
    with sessions() as s:
        row = s.get(Delivery, delivery_id)
        if row is None:
            return SendResult(False, False, "delivery is gone")
        try:
            msg = renderer.immediate(
                load_item(s, row.match_id),
                sender.format,
                message_id=message_id(row),
                max_length=sender.max_length,
            )
        except Exception as exc:  # a broken user template must not stop the channel
            return SendResult(False, True, f"could not render: {type(exc).__name__}: {exc}")
    return sender.send(msg)


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
    """Drain every channel in turn, in this thread (the daemon gives each its own thread).

    ``now`` sets the clock (claims, answer times) to start from there, for tests.
    """
    clock = utcnow if now is None else shifted_clock(now)
    report = DispatchReport()
    out = channel_senders if channel_senders is not None else senders(config.channels)
    for name in sorted(config.channels):
        if report.claimed >= limit:
            break
        drain_channel(
            sessions,
            config,
            name,
            out.get(name),
            owner=owner,
            report=report,
            limit=limit - report.claimed,
            now=clock,
            lease=lease,
        )
    return report


def shifted_clock(start: datetime) -> Callable[[], datetime]:
    """A clock reading ``start`` now and running on from there."""
    offset = start - utcnow()
    return lambda: utcnow() + offset


def message_id(row: Delivery) -> str:
    """The Message-ID of a delivery; the same on every attempt."""
    return f"<delivery-{row.id}.{row.story_id}@wirewatch>"


def record(
    s: Session,
    delivery_id: int,
    owner: str,
    result: SendResult,
    *,
    max_attempts: int,
) -> str:
    """Store a send outcome for a claimed delivery, give the channel back; return the status.

    A failure is recorded only while the row is still ours (a stop may have handed it back);
    a success always is, so the message is not sent again."""
    row = s.get(Delivery, delivery_id)
    if row is None:
        return "gone"
    at = result.answered_at
    ours = row.lease_owner == owner
    if row.status in RETRYABLE and result.ok:
        row.status, row.sent_at, row.last_error = "sent", at, None
        row.message_id = message_id(row)
        row.lease_owner, row.lease_until = None, None
    elif row.status in RETRYABLE and ours:
        if result.throttled and result.retry_after is not None:  # paced, not failed
            row.status, row.last_error = "failed", result.reason or "rate limited"
            row.attempts -= 1
            row.next_attempt_at = at + timedelta(seconds=result.retry_after)
        elif not result.retryable or row.attempts >= max_attempts:
            row.status, row.last_error = "dead", result.reason or "failed"
        else:
            row.status, row.last_error = "failed", result.reason or "failed"
            row.next_attempt_at = at + backoff(row.attempts, result.retry_after)
        row.lease_owner, row.lease_until = None, None
    note_answer(s, row.channel, owner, result)
    s.commit()
    return row.status


def note_answer(s: Session, channel: str, owner: str, result: SendResult) -> None:
    """Pause the channel if the service asked for it, and give back its send lease."""
    if result.retry_after is not None:
        until = result.answered_at + timedelta(seconds=result.retry_after)
        channel_state.pause(s, channel, until, result.reason or "rate limited")
    channel_state.give_back(s, channel, owner)


def load_item(s: Session, match_id: int) -> AlertItem:
    """The template data for one match: its article, story and the other sources."""
    m = s.get(Match, match_id)
    if m is None:
        raise LookupError(f"match {match_id} is gone")
    article = s.get(Article, m.article_id)
    story = s.get(Story, m.story_id)
    others = s.execute(
        select(Article.source_id, Article.title, Article.url, Article.publisher)
        .where(Article.story_id == m.story_id, Article.id != m.article_id)
        .order_by(Article.id)
    ).all()
    seen = {(article.source_id, article.publisher)} if article else set()
    other_sources = []
    for source_id, title, url, publisher in others:
        if (source_id, publisher) not in seen:
            seen.add((source_id, publisher))
            other_sources.append(OtherSource(source_id, title or "", url, publisher))
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
        publisher=article.publisher if article else None,
        fetched_at=article.fetched_at if article else None,
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
