"""Match newly stored articles against the watchlists and queue their deliveries.

One transaction per call: claim unmatched articles, insert ``Match`` rows (one per story and
watchlist; a later copy of an already-matched story adds nothing) and one ``Delivery`` per
route, each kind in one multi-row statement, then set ``matched_at``. A crash before the
commit leaves the articles unmatched, so the next call redoes the work; nothing is queued
twice thanks to the unique keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts import matcher
from alerts.channels import Channel
from alerts.models import Delivery, DeliveryStatus, Match
from alerts.watchlists import Route, Watchlist
from crawler.db import dialect_insert
from crawler.models import Article, utcnow

__all__ = ["MATCHED_COLUMNS", "match_pending", "record_match", "record_matches"]
_CHUNK = 500
# What matching reads of an article (the matcher's document plus where it belongs).
MATCHED_COLUMNS = (
    Article.id,
    Article.story_id,
    Article.source_id,
    Article.title,
    Article.summary,
    Article.body,
)


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
    rows = session.execute(
        select(*MATCHED_COLUMNS)
        .where(Article.matched_at.is_(None), Article.baseline.is_(False))
        .order_by(Article.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    found: list[tuple[int, int, matcher.WatchlistMatch]] = []
    for row in rows:
        if row.story_id is None:
            continue
        matched = engine.match(matcher.Document.of(row, tags))
        found += [(row.id, row.story_id, m) for m in matched if m.watchlist in routes]
    record_matches(session, found, routes, config.channels, now)
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), _CHUNK):
        session.execute(
            update(Article)
            .where(Article.id.in_(ids[start : start + _CHUNK]))
            .values(matched_at=now)
        )
    session.commit()
    return len(rows)


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
    assert article.story_id is not None
    new = record_matches(
        session,
        [(article.id, article.story_id, found)],
        {found.watchlist: routes},
        channels,
        now,
        backfill=backfill,
    )
    return bool(new)


def record_matches(
    session: Session,
    found: Sequence[tuple[int, int, matcher.WatchlistMatch]],
    routes: Mapping[str, Sequence[Route]],
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    backfill: bool = False,
) -> int:
    """Insert matches ((article id, story id, match) in order) and one delivery per route of
    each, in two statements; the first match of a story and watchlist wins, and one whose
    story already alerted that watchlist adds nothing. Returns how many were new; the
    caller commits."""
    first: dict[tuple[int, str], tuple[int, matcher.WatchlistMatch]] = {}
    for a_id, story_id, m in found:
        first.setdefault((story_id, m.watchlist), (a_id, m))
    if not first:
        return 0
    rows = [
        {
            "story_id": story_id,
            "article_id": a_id,
            "watchlist": watchlist,
            "hits": [asdict(h) for h in m.hits],
            "snippet": m.snippet,
            "highlights": [list(h) for h in m.highlights],
            "backfill": backfill,
            "created_at": now,
        }
        for (story_id, watchlist), (a_id, m) in first.items()
    ]
    table = Match.__table__
    new = session.execute(
        dialect_insert(session, table)
        .on_conflict_do_nothing(index_elements=["story_id", "watchlist"])
        .returning(table.c.id, table.c.story_id, table.c.watchlist),
        rows,
    ).all()
    deliveries = [
        {
            "match_id": match_id,
            "story_id": story_id,
            "watchlist": watchlist,
            "channel": route.channel,
            "mode": route.mode,
            "digest_route": digest_key(route) if route.mode == "digest" else None,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for match_id, story_id, watchlist in new
        for route in routes[watchlist]
        if (channel := channels.get(route.channel)) is not None and channel.enabled
    ]
    if deliveries:
        session.execute(
            dialect_insert(session, Delivery.__table__).on_conflict_do_nothing(
                index_elements=["story_id", "watchlist", "channel"]
            ),
            deliveries,
        )
    return len(new)
