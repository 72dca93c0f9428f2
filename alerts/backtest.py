"""Replay watchlists over the stored archive without sending anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.matcher import Document, Engine, Match
from crawler.models import Article


@dataclass(frozen=True, slots=True)
class Replayed:
    """An archived article whose story a watchlist would have alerted on."""

    article_id: int
    story_id: int | None
    source_id: str
    title: str
    url: str
    seen_at: datetime
    match: Match


def replay(
    session: Session,
    engine: Engine,
    since: datetime,
    source_tags: Mapping[str, Sequence[str]],
    *,
    batch: int = 500,
    prefilter: Callable[[str, str, str], bool] | None = None,
) -> Iterator[Replayed]:
    """Yield the first matching article of each story first seen since ``since``, oldest first.

    Baseline articles count too: a backtest asks what the watchlist would have caught.
    ``prefilter(title, summary, body)`` may skip articles cheaply; it must be true for every
    article ``engine`` matches (``alerts.search.text_prefilter``), so the result is the same.
    """
    seen_stories: set[int] = set()
    # Only what matching needs is read per article; URL and time only for the few hits.
    query = (
        select(
            Article.id,
            Article.story_id,
            Article.source_id,
            Article.title,
            Article.summary,
            Article.body,
        )
        .where(Article.fetched_at >= since)
        .order_by(Article.fetched_at, Article.id)
        .execution_options(yield_per=batch)
    )
    # Core, not ORM, execution: plain rows, a fraction of the per-row cost.
    for art_id, story_id, source_id, title, summary, body in session.connection().execute(query):
        if story_id is not None and story_id in seen_stories:
            continue
        title, summary, body = title or "", summary or "", body or ""
        if prefilter is not None and not prefilter(title, summary, body):
            continue
        doc = Document(title, summary, body, source_id, source_tags.get(source_id, ()))
        for match in engine.match(doc):
            if story_id is not None:
                seen_stories.add(story_id)
            url, fetched = session.execute(
                select(Article.url, Article.fetched_at).where(Article.id == art_id)
            ).one()
            yield Replayed(art_id, story_id, source_id, title, url, fetched, match)
