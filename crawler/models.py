"""Database tables: sources with poll state, articles, stories, matches and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always returns aware UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (needed for migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class Source(Base):
    """A configured source and its poll state (the config is the source of truth for settings)."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    config_url: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="new")
    baseline_done: Mapped[bool] = mapped_column(Boolean, default=False)
    items_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    # What the last poll that read the source found: entries, new articles, entries left
    # out by reason ({"duplicate: same guid": 7, ...}), and its notes (feed problems).
    last_poll_found: Mapped[int | None] = mapped_column(Integer)
    last_poll_new: Mapped[int | None] = mapped_column(Integer)
    last_poll_skipped: Mapped[dict[str, int] | None] = mapped_column(JSON)
    last_poll_notes: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Story(Base):
    """A story: one or more articles about the same thing (syndicated copies, URL variants)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # No foreign key: stories and articles point at each other, and the lead is advisory.
    lead_article_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(Text, default="")
    article_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    articles: Mapped[list[Article]] = relationship(
        back_populates="story", foreign_keys="Article.story_id"
    )


class Article(Base):
    """One article, stored once per canonical URL, or once per (source, guid) without one.

    ``canonical_url`` keeps a fragment that tells entries of one page apart (see
    :func:`crawler.urls.canonical_url`); it is NULL (and ``url`` is "") for an entry
    known only by its guid. ``published_at`` is NULL when the source gave no date;
    ``fetched_at`` is when we stored it. ``publisher`` names the original publisher
    of an aggregated item (Google News ``<source>``).
    """

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source_id", "guid"),
        # content_hash first: the story lookup; with source_id: the per-source duplicate check
        Index("ix_articles_content_hash_source", "content_hash", "source_id"),
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_unmatched", "matched_at", "id"),
        # Stored without text (crawler.textfill): a source's articles still to fetch.
        Index(
            "ix_articles_missing_text",
            "source_id",
            "id",
            sqlite_where=text("body = ''"),
            postgresql_where=text("body = ''"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text, unique=True)
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None]
    date_rule: Mapped[str | None] = mapped_column(String(32))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    matched_at: Mapped[datetime | None]
    text_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    story: Mapped[Story | None] = relationship(back_populates="articles", foreign_keys=[story_id])


class StoryBand(Base):
    """MinHash LSH band keys of an article, for near-duplicate lookups in SQL.

    ``(band, article_id)`` serves the candidate lookup (newest rows of a band first);
    ``story_id`` serves story merges and the cascade when a story is deleted.
    """

    __tablename__ = "story_bands"
    __table_args__ = (
        Index("ix_story_bands_band_article", "band", "article_id"),
        Index("ix_story_bands_story_id", "story_id"),
    )

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    status: Mapped[str] = mapped_column(String(16), default="pending")
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
    status: Mapped[str] = mapped_column(String(16), default="pending")
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


class ArticleSearch(Base):
    """An article's search key: the distinct folded tokens of its text (``alerts.search_index``).

    NULL when the key is too large to index: the article is then a candidate of every search.
    The full-text structure over ``key`` (SQLite FTS5 table, PostgreSQL GIN index) is created
    by the migration, not declared here.
    """

    __tablename__ = "article_search"
    __table_args__ = (
        Index(
            "ix_article_search_unindexed",
            "article_id",
            sqlite_where=text("key IS NULL"),
            postgresql_where=text("key IS NULL"),
        ),
    )

    article_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),  # SQLite: the rowid, FTS5's content id
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    key: Mapped[str | None] = mapped_column(Text)
