"""Operator alerts about sources: failing repeatedly, or silent far longer than usual.

A notice is stored once per (source, kind, fingerprint); the fingerprint of a failure is a
hash of the error with numbers, URLs and hex ids removed, so "timeout after 30.2 s" and
"timeout after 31.0 s" are one notice, while a change to "HTTP 403" is a new one. A
silence notice is keyed by the last time the source had something new, so one silent
stretch gives one notice. Notices are sent like deliveries (claimed, retried with backoff,
dead after ``max_attempts``).

Silence is judged on the source's own publishing history: the dates of its newest items
(baseline items included; an item's date is its published date, never later than when it
was fetched; an undated new item counts when it was fetched), and a new item found later
than its date says counts as news at that moment. Its usual gap is the mean gap
between the newest ``HISTORY_SAMPLE`` of them, but never less than its poll interval or
``SILENCE_FLOOR``; it is silent when nothing is newer than ``silence_factor`` usual gaps.

Grouping: the notices claimed together for one channel go out as one message
(:func:`group_notices`): one notice as itself, several as a list, so a restart that finds
180 silent sources sends one message, not 180. Each row is still marked by the outcome of
the message it went out in, so every problem is reported once.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts import channel_state
from alerts.channels import Channel, ChannelSender, Message, SendResult, senders
from alerts.models import WAITING, AdminNotice, DeliveryStatus
from alerts.outbox import backoff, note_answer, shifted_clock
from crawler.db import dialect_insert
from crawler.models import Article, Source, utcnow

CLAIM = timedelta(minutes=5)
HISTORY_SAMPLE = 20
SILENCE_FLOOR = timedelta(hours=1)
# A grouped message lists this many problems in full, then the ids of the rest.
MAX_LISTED = 50
_VOLATILE = re.compile(
    r"https?://\S+|\b[0-9a-f]{8,}\b|\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\"", re.IGNORECASE
)


class _AdminSettings(Protocol):
    admin_channel: str | None
    failure_threshold: int
    silence_factor: float
    max_attempts: int


class _Settings(Protocol):
    alerts: _AdminSettings


class _SourceConfig(Protocol):
    id: str
    interval: timedelta
    enabled: bool


class _SourcesFile(Protocol):
    sources: Sequence[_SourceConfig]


class AdminConfig(Protocol):
    """The parts of the loaded config the admin checks read."""

    channels: Mapping[str, Channel]
    settings: _Settings
    sources: _SourcesFile


@dataclass
class AdminReport:
    """What ``check_sources`` found and sent."""

    queued: list[str] = field(default_factory=list)
    sent: int = 0
    failed: int = 0


def error_fingerprint(error: str | None) -> str:
    """A stable id for an error message: volatile parts (numbers, URLs, ids) removed."""
    text = _VOLATILE.sub("#", (error or "unknown error").lower())
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class History:
    """When a source last had something new, and its mean gap between items (None: too few).

    ``last`` is the newest item date, or the newest fetch of a non-baseline item if later.
    """

    last: datetime | None
    gap: timedelta | None


def publishing_history(session: Session, source_id: str) -> History:
    """The source's newest item dates (see the module docstring) and their mean gap."""
    rows = session.execute(
        select(Article.published_at, Article.fetched_at, Article.baseline)
        .where(Article.source_id == source_id)
        .order_by(Article.id.desc())
        .limit(10 * HISTORY_SAMPLE)
    ).all()
    times = sorted(
        (
            min(published, fetched) if published is not None else fetched
            for published, fetched, baseline in rows
            if published is not None or not baseline
        ),
        reverse=True,
    )[:HISTORY_SAMPLE]
    found = [fetched for _, fetched, baseline in rows if not baseline]
    last = max([*times[:1], *found], default=None)
    gap = (times[0] - times[-1]) / (len(times) - 1) if len(times) >= 3 else None
    return History(last, gap)


def _problems(
    s: Session, src: Source, cfg: _SourceConfig, settings: _AdminSettings, now: datetime
) -> list[tuple[str, str, str]]:
    found = []
    if src.consecutive_failures >= settings.failure_threshold:
        found.append(
            (
                "failing",
                error_fingerprint(src.last_error),
                f"source {src.id} failed {src.consecutive_failures} times in a row: "
                f"{(src.last_error or 'unknown error')[:300]}",
            )
        )
    history = publishing_history(s, src.id)
    last_new = history.last or src.last_new_item_at or src.last_success_at
    if last_new is not None:
        usual = max(history.gap or timedelta(0), cfg.interval, SILENCE_FLOOR)
        if now - last_new > usual * settings.silence_factor:
            hours = (now - last_new).total_seconds() / 3600
            found.append(
                (
                    "silent",
                    hashlib.sha256(last_new.isoformat().encode()).hexdigest()[:32],
                    f"source {src.id} has had nothing new for {hours:.1f} h "
                    f"(usually every {usual.total_seconds() / 3600:.1f} h)",
                )
            )
    return found


@dataclass(frozen=True)
class Notice:
    """A claimed notice row: what grouping needs to know of it."""

    id: int
    channel: str
    kind: str
    source_id: str
    message: str


@dataclass(frozen=True)
class NoticeBatch:
    """Notices that go out as one message through one channel."""

    channel: str
    ids: tuple[int, ...]
    message: Message


def group_notices(notices: Sequence[Notice]) -> list[NoticeBatch]:
    """One message per channel: a single notice as itself, several as one list."""
    by_channel: dict[str, list[Notice]] = {}
    for notice in notices:
        by_channel.setdefault(notice.channel, []).append(notice)
    batches = []
    for channel, group in by_channel.items():
        ids = tuple(n.id for n in group)
        if len(group) == 1:
            [one] = group
            title, text = f"[wirewatch] source {one.kind}", one.message
        else:
            kinds = Counter(n.kind for n in group)
            title = f"[wirewatch] {len(group)} source problems: " + ", ".join(
                f"{count} {kind}" for kind, count in sorted(kinds.items())
            )
            lines = [f"- {n.message}" for n in group[:MAX_LISTED]]
            rest = group[MAX_LISTED:]
            if rest:
                more = ", ".join(f"{n.source_id} ({n.kind})" for n in rest)
                lines.append(f"… and {len(rest)} more: {more}")
            lines.append("`wirewatch sources` shows every source's state.")
            text = "\n".join(lines)
        batches.append(NoticeBatch(channel, ids, Message(title, text, "text", text)))
    return batches


def check_sources(
    sessions: sessionmaker[Session],
    config: AdminConfig,
    now: datetime | None = None,
    *,
    channel_senders: Mapping[str, ChannelSender] | None = None,
) -> AdminReport:
    """Queue a notice for each new source problem, then send the due notices."""
    now = now or utcnow()
    settings = config.settings.alerts
    report = AdminReport()
    channel = settings.admin_channel
    if not channel:
        return report
    configured = {c.id: c for c in config.sources.sources if c.enabled}
    with sessions() as s:
        for src in s.scalars(select(Source).where(Source.id.in_(list(configured)))).all():
            for kind, fingerprint, message in _problems(s, src, configured[src.id], settings, now):
                done = s.execute(
                    dialect_insert(s, AdminNotice)
                    .values(
                        source_id=src.id,
                        kind=kind,
                        fingerprint=fingerprint,
                        message=message,
                        channel=channel,
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["source_id", "kind", "fingerprint"])
                    .returning(AdminNotice.id)
                ).scalar()
                if done is not None:
                    report.queued.append(f"{src.id}:{kind}")
        s.commit()
    _send_due(sessions, config, now, report, channel_senders)
    return report


def _send_due(
    sessions: sessionmaker[Session],
    config: AdminConfig,
    now: datetime,
    report: AdminReport,
    channel_senders: Mapping[str, ChannelSender] | None,
) -> None:
    """Send due notices one at a time, each under its channel's send lease (so a paused or
    busy channel keeps its notices waiting, untouched), stamped with the answer's time."""
    with sessions() as s:
        due = s.scalars(
            select(AdminNotice)
            .where(AdminNotice.status.in_(WAITING), AdminNotice.next_attempt_at <= now)
            .order_by(AdminNotice.id)
            .with_for_update(skip_locked=True)
        ).all()
        notices = [Notice(n.id, n.channel, n.kind, n.source_id, n.message) for n in due]
        # Pushing next_attempt_at forward is the claim: no other checker picks these up.
        ids = [n.id for n in due]
        if ids:
            s.execute(
                update(AdminNotice)
                .where(AdminNotice.id.in_(ids))
                .values(next_attempt_at=now + CLAIM, attempts=AdminNotice.attempts + 1)
            )
        s.commit()
    if not notices:
        return
    out = channel_senders if channel_senders is not None else senders(config.channels)
    max_attempts = config.settings.alerts.max_attempts
    owner = f"{socket.gethostname()}:{os.getpid()}"
    clock = shifted_clock(now)
    for batch in group_notices(notices):
        sender = out.get(batch.channel)
        with sessions() as s:
            took = channel_state.take(s, batch.channel, owner, clock(), CLAIM)
            if not took:  # not an attempt: hand the claim back for the next check
                s.execute(
                    update(AdminNotice)
                    .where(AdminNotice.id.in_(batch.ids))
                    .values(next_attempt_at=now, attempts=AdminNotice.attempts - 1)
                )
            s.commit()
        if not took:
            continue
        result = (
            sender.send(batch.message)
            if sender
            else SendResult(False, True, f"channel {batch.channel!r} unavailable")
        )
        result = replace(result, answered_at=clock())
        with sessions() as s:
            for n in s.scalars(select(AdminNotice).where(AdminNotice.id.in_(batch.ids))):
                if result.ok:
                    n.status, n.sent_at, n.last_error = (
                        DeliveryStatus.SENT,
                        result.answered_at,
                        None,
                    )
                    report.sent += 1
                    continue
                n.last_error = result.reason
                dead = n.attempts >= max_attempts or not result.retryable
                n.status = DeliveryStatus.DEAD if dead else DeliveryStatus.FAILED
                n.next_attempt_at = result.answered_at + backoff(n.attempts, result.retry_after)
                report.failed += 1
            note_answer(s, batch.channel, owner, result)
            s.commit()
