"""Operator alerts about sources: failing repeatedly, or silent far longer than usual.

A notice is stored once per (source, kind, fingerprint); the fingerprint of a failure is a
hash of the error with numbers, URLs and hex ids removed, so "timeout after 30.2 s" and
"timeout after 31.0 s" are one notice, while a change to "HTTP 403" is a new one. A
silence notice is keyed by the last time the source had something new, so one silent
stretch gives one notice. Notices are sent like deliveries (claimed, retried with backoff,
dead after ``max_attempts``).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts import channel_state
from alerts.channels import Channel, ChannelSender, Message, SendResult, senders
from alerts.outbox import backoff, note_answer, shifted_clock
from alerts.pipeline import dialect_insert
from crawler.models import AdminNotice, Article, Source, utcnow

CLAIM = timedelta(minutes=5)
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


def mean_gap(session: Session, source_id: str, *, sample: int = 20) -> timedelta | None:
    """The mean time between a source's recent new articles (``None`` with too few)."""
    times = session.scalars(
        select(Article.fetched_at)
        .where(Article.source_id == source_id, Article.baseline.is_(False))
        .order_by(Article.fetched_at.desc())
        .limit(sample)
    ).all()
    if len(times) < 3:
        return None
    return (times[0] - times[-1]) / (len(times) - 1)


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
    last_new = src.last_new_item_at or src.last_success_at
    if last_new is not None:
        gap = mean_gap(s, src.id)
        usual = max(cfg.interval, gap) if gap else cfg.interval
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
                        status="pending",
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
            .where(
                AdminNotice.status.in_(("pending", "failed")), AdminNotice.next_attempt_at <= now
            )
            .order_by(AdminNotice.id)
            .with_for_update(skip_locked=True)
        ).all()
        notices = [(n.id, n.channel, n.kind, n.message, n.attempts + 1) for n in due]
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
    for notice_id, channel, kind, text, attempts in notices:
        sender = out.get(channel)
        with sessions() as s:
            took = channel_state.take(s, channel, owner, clock(), CLAIM)
            if not took:  # not an attempt: hand the claim back for the next check
                s.execute(
                    update(AdminNotice)
                    .where(AdminNotice.id == notice_id)
                    .values(next_attempt_at=now, attempts=attempts - 1)
                )
            s.commit()
        if not took:
            continue
        title = f"[wirewatch] source {kind}"
        result = (
            sender.send(Message(title, text, "text", text))
            if sender
            else SendResult(False, True, f"channel {channel!r} unavailable")
        )
        result = replace(result, answered_at=clock())
        with sessions() as s:
            n = s.get(AdminNotice, notice_id)
            if n is not None and result.ok:
                n.status, n.sent_at, n.last_error = "sent", result.answered_at, None
                report.sent += 1
            elif n is not None:
                n.last_error = result.reason
                dead = attempts >= max_attempts or not result.retryable
                n.status = "dead" if dead else "failed"
                n.next_attempt_at = result.answered_at + backoff(attempts, result.retry_after)
                report.failed += 1
            note_answer(s, channel, owner, result)
            s.commit()
