"""The console's database reads: plain functions of a session, each a few indexed queries.

Every list pages by keyset, never by OFFSET: stories on ``(first_seen_at, id)`` (the
``first_seen_at`` index; measured at 1,000,000 articles on both databases, no new index was
needed), deliveries on ``id``. The rows of one page are then completed
with one ``IN`` query per table (articles by ``story_id``, matches and deliveries by their
``story_id``-led unique keys), so a page costs the same at 1,000 or 1,000,000 articles.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from alerts.models import Delivery, Match
from alerts.search import Cursor, SearchFilters, story_filters
from crawler.models import Article, Source, Story


@dataclass
class StoryRow:
    """One line of the story list."""

    id: int
    title: str
    first_seen_at: datetime
    article_count: int
    sources: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    watchlists: list[str] = field(default_factory=list)
    snippet: str = ""
    highlights: Sequence[Sequence[int]] = ()


def list_stories(
    session: Session,
    filters: SearchFilters,
    *,
    since: datetime | None,
    limit: int,
    cursor: Cursor | None,
) -> tuple[list[StoryRow], Cursor | None]:
    """Stories newest first and the cursor of the next page (None on the last)."""
    conds = story_filters(filters, since)
    if filters.sources:
        conds.append(_has_article(Article.source_id.in_(list(filters.sources))))
    if filters.languages:
        conds.append(_has_article(Article.language.in_(list(filters.languages))))
    if cursor is not None:
        conds += [
            Story.first_seen_at <= cursor.first_seen_at,  # the index range, for any planner
            tuple_(Story.first_seen_at, Story.id) < tuple_(cursor.first_seen_at, cursor.story_id),
        ]
    rows = session.execute(
        select(Story.id, Story.title, Story.first_seen_at, Story.article_count)
        .where(*conds)
        .order_by(Story.first_seen_at.desc(), Story.id.desc())
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    stories = [StoryRow(r[0], r[1] or "", r[2], r[3] or 0) for r in rows[:limit]]
    complete(session, stories)
    last = stories[-1] if more and stories else None
    return stories, (Cursor(last.first_seen_at, last.id) if last else None)


def _has_article(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return Story.id.in_(select(Article.story_id).where(cond))


def complete(session: Session, stories: Sequence[StoryRow]) -> None:
    """Fill each row's sources, languages and matched watchlists (two IN queries)."""
    by_id = {s.id: s for s in stories}
    if not by_id:
        return
    for story_id, source_id, language in session.execute(
        select(Article.story_id, Article.source_id, Article.language)
        .where(Article.story_id.in_(list(by_id)))
        .order_by(Article.id)
    ):
        row = by_id[story_id]
        if source_id not in row.sources:
            row.sources.append(source_id)
        if language and language not in row.languages:
            row.languages.append(language)
    for story_id, watchlist in session.execute(
        select(Match.story_id, Match.watchlist)
        .where(Match.story_id.in_(list(by_id)))
        .order_by(Match.id)
    ):
        by_id[story_id].watchlists.append(watchlist)


@dataclass
class StoryDetail:
    """Everything the story page shows."""

    story: Story
    articles: list[Article]
    matches: list[Match]
    deliveries: list[Delivery]


def story_detail(session: Session, story_id: int) -> StoryDetail | None:
    """The story, its articles (oldest first), matches and deliveries; None if unknown."""
    story = session.get(Story, story_id)
    if story is None:
        return None
    articles = list(
        session.scalars(
            select(Article).where(Article.story_id == story_id).order_by(Article.fetched_at)
        )
    )
    matches = list(
        session.scalars(select(Match).where(Match.story_id == story_id).order_by(Match.id))
    )
    deliveries = list(
        session.scalars(
            select(Delivery)
            .where(Delivery.story_id == story_id)
            .order_by(Delivery.watchlist, Delivery.channel)
        )
    )
    return StoryDetail(story, articles, matches, deliveries)


@dataclass
class SourceHealth:
    """A source's poll state and its items per day (oldest day first)."""

    row: Source | None
    per_day: list[tuple[date, int]]

    @property
    def total(self) -> int:
        """Articles stored over the charted days."""
        return sum(n for _, n in self.per_day)

    @property
    def peak(self) -> int:
        """The busiest day's count (at least 1, to scale the chart)."""
        return max([1, *(n for _, n in self.per_day)])


def _day(session: Session, tz: str, now: datetime) -> Any:
    """``fetched_at`` as a calendar day in ``tz`` (SQLite: today's UTC offset of ``tz``)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(tz, Article.fetched_at))
    offset = now.astimezone(ZoneInfo(tz)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return func.date(Article.fetched_at, literal_column(f"'{minutes:+d} minutes'"))


def source_health(
    session: Session, ids: Collection[str], tz: str, now: datetime, days: int = 30
) -> dict[str, SourceHealth]:
    """Poll state and items per day over the last ``days`` days, per source id."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), zone)
    rows = {r.id: r for r in session.scalars(select(Source).where(Source.id.in_(list(ids))))}
    day = _day(session, tz, now)
    counts: dict[tuple[str, date], int] = {}
    for source_id, when, n in session.execute(
        select(Article.source_id, day, func.count())
        .where(Article.fetched_at >= start)
        .group_by(Article.source_id, day)
    ):
        key = when if isinstance(when, date) else date.fromisoformat(str(when))
        counts[(source_id, key)] = int(n)
    out: dict[str, SourceHealth] = {}
    for source_id in ids:
        series = [
            (d, counts.get((source_id, d), 0))
            for d in (first + timedelta(days=i) for i in range(days))
        ]
        out[source_id] = SourceHealth(rows.get(source_id), series)
    return out


def ledger_page(
    session: Session,
    *,
    status: str | None,
    watchlist: str | None,
    channel: str | None,
    before: int | None,
    limit: int,
) -> tuple[list[tuple[Delivery, str]], int | None]:
    """Deliveries newest first with their story titles, and the ``before`` of the next page."""
    conds: list[ColumnElement[bool]] = []
    if status:
        conds.append(Delivery.status == status)
    if watchlist:
        conds.append(Delivery.watchlist == watchlist)
    if channel:
        conds.append(Delivery.channel == channel)
    if before is not None:
        conds.append(Delivery.id < before)
    rows = session.execute(
        select(Delivery, Story.title)
        .join(Story, Story.id == Delivery.story_id)
        .where(*conds)
        .order_by(Delivery.id.desc())
        .limit(limit + 1)
    ).all()
    page = [(d, title or "") for d, title in rows[:limit]]
    return page, (page[-1][0].id if len(rows) > limit else None)


def recent_matches(
    session: Session, watchlist: str, limit: int = 20
) -> list[tuple[Match, str, datetime]]:
    """A watchlist's latest matches with their story titles and first-seen times."""
    rows = session.execute(
        select(Match, Story.title, Story.first_seen_at)
        .join(Story, Story.id == Match.story_id)
        .where(Match.watchlist == watchlist)
        .order_by(Match.created_at.desc(), Match.id.desc())
        .limit(limit)
    ).all()
    return [(m, title or "", seen) for m, title, seen in rows]


def matched_story_ids(session: Session, watchlist: str, since: datetime) -> set[int]:
    """Stories first seen since ``since`` that ``watchlist`` already matched."""
    return set(
        session.scalars(
            select(Match.story_id)
            .join(Story, Story.id == Match.story_id)
            .where(Match.watchlist == watchlist, Story.first_seen_at >= since)
        )
    )
