"""Database tables of the crawler: sources with poll state, articles, stories, band keys.

The declarative ``Base`` (one metadata for the whole schema) lives here; the alert tables
(matches, deliveries, notices, watchlist state) are in :mod:`alerts.models` on the same
metadata, so a complete schema needs both modules imported.
"""

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

    ``(band, article_id, story_id)`` serves the candidate lookup (newest rows of a band first,
    with their story, from the index alone);
    ``story_id`` serves story merges and the cascade when a story is deleted.
    """

    __tablename__ = "story_bands"
    __table_args__ = (
        Index("ix_story_bands_band_article_story", "band", "article_id", "story_id"),
        Index("ix_story_bands_story_id", "story_id"),
    )

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArticleSearch(Base):
    """An article's search key: the distinct folded tokens of its text (``crawler.search_index``).

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
