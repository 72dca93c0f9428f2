"""Match newly stored articles against the watchlists and queue their deliveries.

One transaction per call: claim unmatched articles, insert ``Match`` rows (one per story and
watchlist; a later copy of an already-matched story adds nothing) and one ``Delivery`` per
route, then set ``matched_at``. A crash before the commit leaves the articles unmatched, so
the next call redoes the work; nothing is queued twice thanks to the unique keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from alerts import matcher
from alerts.channels import Channel
from alerts.models import Delivery, DeliveryStatus, Match
from alerts.watchlists import Route, Watchlist
from crawler.models import Article, utcnow


class Matching(Protocol):
    """What the pipeline needs from a compiled engine (``alerts.matcher.Matcher``)."""

    def match(self, doc: matcher.Document) -> list[matcher.WatchlistMatch]: ...


class _SourceConfig(Protocol):
    id: str
    tags: list[str]


class _SourcesFile(Protocol):
    sources: Sequence[_SourceConfig]


class PipelineConfig(Protocol):
    """The parts of the loaded config the pipeline reads."""

    channels: Mapping[str, Channel]
    watchlists: Sequence[Watchlist]
    sources: _SourcesFile


def digest_key(route: Route) -> str:
    """What identifies a digest route in ``Delivery.digest_route``."""
    return f"{route.schedule} {route.timezone or 'UTC'}"


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT supporting ``on_conflict_do_nothing`` on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def match_pending(
    session: Session,
    engine: Matching,
    config: PipelineConfig,
    *,
    limit: int = 500,
    now: datetime | None = None,
) -> int:
    """Match up to ``limit`` unmatched, non-baseline articles; commit; return how many.

    On PostgreSQL the articles are claimed ``FOR UPDATE SKIP LOCKED`` so concurrent callers
    split the work; SQLite serialises writers at ``BEGIN IMMEDIATE``.
    """
    now = now or utcnow()
    tags = {s.id: tuple(s.tags) for s in config.sources.sources}
    routes = {w.name: w.notify for w in config.watchlists if w.enabled}
    articles = session.scalars(
        select(Article)
        .where(Article.matched_at.is_(None), Article.baseline.is_(False))
        .order_by(Article.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for article in articles:
        article.matched_at = now
        if article.story_id is None:
            continue
        for found in engine.match(matcher.Document.of(article, tags)):
            if found.watchlist in routes:
                record_match(session, article, found, routes[found.watchlist], config.channels, now)
    session.commit()
    return len(articles)


def record_match(
    session: Session,
    article: Article,
    found: matcher.WatchlistMatch,
    routes: Sequence[Route],
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    backfill: bool = False,
) -> bool:
    """Insert the match and one delivery per route, unless the story already alerted this
    watchlist; True when it was new. The caller commits."""
    match_id = session.execute(
        dialect_insert(session, Match)
        .values(
            story_id=article.story_id,
            article_id=article.id,
            watchlist=found.watchlist,
            hits=[asdict(h) for h in found.hits],
            snippet=found.snippet,
            highlights=[list(h) for h in found.highlights],
            backfill=backfill,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["story_id", "watchlist"])
        .returning(Match.id)
    ).scalar()
    if match_id is None:
        return False  # this story already alerted this watchlist
    for route in routes:
        channel = channels.get(route.channel)
        if channel is None or not channel.enabled:
            continue
        session.execute(
            dialect_insert(session, Delivery)
            .values(
                match_id=match_id,
                story_id=article.story_id,
                watchlist=found.watchlist,
                channel=route.channel,
                mode=route.mode,
                digest_route=digest_key(route) if route.mode == "digest" else None,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["story_id", "watchlist", "channel"])
        )
    return True
