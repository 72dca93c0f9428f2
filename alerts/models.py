"""Database tables of the alerts: matches, the delivery outbox, channel state, notices.

They sit on :data:`crawler.models.Base`'s metadata (one schema, one migration history) but
belong to the alerts: the crawler never reads or writes them. Where a crawler operation
touches stories that alerts refer to (a story merge, retention), it calls back into
:mod:`alerts.story_hooks`.

``status`` of a delivery or admin notice is a :class:`DeliveryStatus`: ``pending`` (not
tried yet, or retried by an operator), ``failed`` (tried, will be retried at
``next_attempt_at``), ``sent`` and ``dead`` (gave up; an operator may retry). Nothing holds
a row in an in-between "sending" state: a send is claimed with a lease (``lease_owner``,
``lease_until``) and its status changes only once the channel has answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from alerts.statuses import RESENDABLE as RESENDABLE
from alerts.statuses import WAITING as WAITING
from alerts.statuses import DeliveryStatus
from crawler.models import Base, utcnow


class Match(Base):
    """A story matched a watchlist (once per story and watchlist)."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("story_id", "watchlist"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    watchlist: Mapped[str] = mapped_column(String(80), index=True)
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    snippet: Mapped[str] = mapped_column(Text, default="")
    highlights: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Delivery(Base):
    """The outbox: one row per (story, watchlist, channel), claimed and sent by a dispatcher."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("story_id", "watchlist", "channel"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    watchlist: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(80))
    mode: Mapped[str] = mapped_column(String(16), default="immediate")
    digest_route: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ChannelState(Base):
    """Per-channel sending state shared by every dispatcher: a pause and a send lease."""

    __tablename__ = "channel_states"

    channel: Mapped[str] = mapped_column(String(80), primary_key=True)
    paused_until: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class AdminNotice(Base):
    """An operator alert about a source, sent once per distinct problem."""

    __tablename__ = "admin_notices"
    __table_args__ = (UniqueConstraint("source_id", "kind", "fingerprint"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class WatchlistState(Base):
    """What the archive has been matched against, so new terms can offer a catch-up."""

    __tablename__ = "watchlist_state"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    caught_up_at: Mapped[datetime | None]
