"""Replay watchlists over the stored archive without sending anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, select, tuple_, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from alerts.matcher import Document, Matcher, WatchlistMatch
from alerts.matching import MATCHED_COLUMNS
from alerts.prefilter import SEPARATOR
from alerts.query import parse
from alerts.search_candidates import candidate_ids, index_condition
from alerts.watchlists import Watchlist
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
    match: WatchlistMatch


def article_text() -> ColumnElement[str]:
    """Title, summary and body as one column, joined by ``alerts.prefilter.SEPARATOR``."""
    parts = [func.coalesce(c, "") for c in (Article.title, Article.summary, Article.body)]
    return parts[0] + SEPARATOR + parts[1] + SEPARATOR + parts[2]


def replay(
    session: Session,
    engine: Matcher,
    since: datetime,
    source_tags: Mapping[str, Sequence[str]],
    *,
    batch: int = 5000,
    prefilter: Callable[[str], bool] | None = None,
    indexed: Watchlist | None = None,
) -> Iterator[Replayed]:
    """Yield the first matching article of each story first seen since ``since``, oldest first.

    Baseline articles count too: a backtest asks what the watchlist would have caught.
    ``prefilter`` (``alerts.prefilter.text_prefilter``) may skip articles cheaply on their
    joined text; it passes every article ``engine`` matches, so the result is the same.

    Articles are read in keyset chunks of ``batch`` as plain driver rows (no server-side
    cursor round trips, no per-row conversions): first their joined text, then the fields
    of the few that pass the prefilter. With ``indexed`` (the watchlist ``engine`` was
    compiled from), only the articles the search index names as candidates are read
    (``alerts.search_candidates``: a superset of what the watchlist matches).
    """
    seen_stories: set[int] = set()
    query = (
        select(
            Article.id,
            Article.story_id,
            article_text(),
            type_coerce(Article.fetched_at, NullType()),  # as stored: only the keyset uses it
        )
        .where(Article.fetched_at >= since)
        .order_by(Article.fetched_at, Article.id)
        .limit(batch)
    )
    conn = session.connection()  # Core, not ORM, execution
    if indexed is not None:
        cond = index_condition(parse(indexed.match, indexed.groups), indexed)
        if cond is not None:
            query = query.where(Article.id.in_(candidate_ids(conn.dialect.name, cond)))
    after: tuple[object, int] | None = None
    while True:
        chunk = query
        if after is not None:
            at = bindparam("at", after[0], type_=NullType())
            chunk = query.where(tuple_(Article.fetched_at, Article.id) > tuple_(at, after[1]))
        result = conn.execute(chunk)
        try:  # ids and text need no result processing: take the driver's rows
            rows = result.cursor.fetchall()
        finally:
            result.close()
        wanted = [
            art_id
            for art_id, story_id, text, _ in rows
            if story_id not in seen_stories and (prefilter is None or prefilter(text))
        ]
        for art in _articles(conn, wanted):
            if art.story_id is not None and art.story_id in seen_stories:
                continue
            for match in engine.match(Document.of(art, source_tags)):
                if art.story_id is not None:
                    seen_stories.add(art.story_id)
                yield Replayed(
                    art.id, art.story_id, art.source_id, art.title, art.url, art.fetched_at, match
                )
        if len(rows) < batch:
            return
        after = (rows[-1][3], rows[-1][0])


def article_fields(conn: Connection, ids: list[int], *extra: Any) -> dict[int, Any]:
    """The fields matching and reporting need (id, story, source, title, summary, body,
    url), plus ``extra`` columns, of the articles ``ids``, by id."""
    if not ids:
        return {}
    query = select(*MATCHED_COLUMNS, Article.url, *extra).where(Article.id.in_(ids))
    return {row.id: row for row in conn.execute(query)}


def _articles(conn: Connection, ids: list[int]) -> list[Any]:
    """:func:`article_fields` with the fetch time, in the order of ``ids``."""
    rows = article_fields(conn, ids, Article.fetched_at)
    return [rows[i] for i in ids if i in rows]
