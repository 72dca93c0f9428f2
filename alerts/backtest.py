"""Replay watchlists over the stored archive without sending anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, tuple_, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

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
    article ``engine`` matches (``alerts.prefilter.text_prefilter``), so the result is the same.
    """
    seen_stories: set[int] = set()
    # Only what matching needs is read per article (URL and time in one query per chunk, for
    # its few hits), in keyset chunks of ``batch`` rows: plain queries, no server-side cursor
    # round trips.
    query = (
        select(
            Article.id,
            Article.story_id,
            Article.source_id,
            Article.title,
            Article.summary,
            Article.body,
            type_coerce(Article.fetched_at, NullType()),  # as stored: only the keyset uses it
        )
        .where(Article.fetched_at >= since)
        .order_by(Article.fetched_at, Article.id)
        .limit(batch)
    )
    conn = session.connection()  # Core, not ORM, execution: plain rows, far cheaper
    after: tuple[object, int] | None = None
    while True:
        chunk = query
        if after is not None:
            at, last_id = bindparam("at", after[0], type_=NullType()), after[1]
            chunk = query.where(tuple_(Article.fetched_at, Article.id) > tuple_(at, last_id))
        result = conn.execute(chunk)
        try:  # ids, text and the stored time need no result processing: take the driver's rows
            rows = result.cursor.fetchall()
        finally:
            result.close()
        found: list[tuple[int, int | None, str, str, Match]] = []
        for art_id, story_id, source_id, title, summary, body, _ in rows:
            if story_id is not None and story_id in seen_stories:
                continue
            title, summary, body = title or "", summary or "", body or ""
            if prefilter is not None and not prefilter(title, summary, body):
                continue
            doc = Document(title, summary, body, source_id, source_tags.get(source_id, ()))
            for match in engine.match(doc):
                if story_id is not None:
                    seen_stories.add(story_id)
                found.append((art_id, story_id, source_id, title, match))
        if found:
            where = {
                i: (url, at)
                for i, url, at in conn.execute(
                    select(Article.id, Article.url, Article.fetched_at).where(
                        Article.id.in_({f[0] for f in found})
                    )
                )
            }
            for art_id, story_id, source_id, title, match in found:
                url, fetched = where[art_id]
                yield Replayed(art_id, story_id, source_id, title, url, fetched, match)
        if len(rows) < batch:
            return
        after = (rows[-1][6], rows[-1][0])
