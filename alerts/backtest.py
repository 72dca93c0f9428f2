"""Replay watchlists over the stored archive without sending anything."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
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
    where: ColumnElement[bool] | None = None,
) -> Iterator[Replayed]:
    """Yield the first matching article of each story first seen since ``since``, oldest first.

    Baseline articles count too: a backtest asks what the watchlist would have caught.
    ``where`` narrows the articles read (``alerts.search.candidate_filter``: a superset of
    what ``engine`` matches, so the result is the same, only cheaper).
    """
    seen_stories: set[int] = set()
    query = (
        select(Article)
        .where(Article.fetched_at >= since, *(() if where is None else (where,)))
        .order_by(Article.fetched_at, Article.id)
        .execution_options(yield_per=batch)
    )
    for art in session.scalars(query):
        if art.story_id is not None and art.story_id in seen_stories:
            continue
        doc = Document(
            art.title, art.summary, art.body, art.source_id, source_tags.get(art.source_id, ())
        )
        for match in engine.match(doc):
            if art.story_id is not None:
                seen_stories.add(art.story_id)
            yield Replayed(
                art.id, art.story_id, art.source_id, art.title, art.url, art.fetched_at, match
            )
