"""Stories: the list (filters, search, cursor paging) and one story's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts.query import QuerySyntaxError
from alerts.search import Cursor, SearchFilters, search
from crawler.models import Story
from scheduler.config import Config
from scheduler.console.app import PAGE_SIZE, context, render
from scheduler.console.queries import StoryRow, complete, list_stories, story_detail


@dataclass(frozen=True)
class StoryQuery:
    """The story list's query string, parsed."""

    q: str = ""
    watchlist: str = ""
    source: str = ""
    tag: str = ""
    lang: str = ""
    day_from: str = ""
    day_to: str = ""

    def params(self) -> dict[str, str]:
        """The non-empty parameters, to carry into paging links."""
        names = {"day_from": "from", "day_to": "to"}
        return {names.get(k, k): v for k, v in self.__dict__.items() if v}


def _day(value: str, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{what}: not a date (YYYY-MM-DD): {value[:40]!r}") from None


def _window(query: StoryQuery, tz: str) -> tuple[datetime | None, datetime | None]:
    zone = ZoneInfo(tz)
    first, last = _day(query.day_from, "from"), _day(query.day_to, "to")
    since = datetime.combine(first, time.min, zone) if first else None
    until = datetime.combine(last + timedelta(days=1), time.min, zone) if last else None
    return since, until


def _sources(query: StoryQuery, cfg: Config) -> set[str] | None:
    """Source ids the source and tag filters allow (None: no restriction)."""
    allowed: set[str] | None = None
    if query.source:
        allowed = {query.source}
    if query.tag:
        tagged = {s.id for s in cfg.sources.sources if query.tag in s.tags}
        allowed = tagged if allowed is None else allowed & tagged
    return allowed


def stories_page(request: Request) -> Response:
    """GET /stories: newest first; filters, a watchlist-language search, cursor paging."""
    ctx = context(request)
    cfg = ctx.config()
    p = request.query_params
    query = StoryQuery(**{k: p.get(n, "").strip() for k, n in _PARAMS.items()})
    since, until = _window(query, cfg.settings.timezone)
    cursor = None
    if p.get("after"):
        try:
            cursor = Cursor.decode(p["after"])
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
    allowed = _sources(query, cfg)
    filters = SearchFilters(
        sources=sorted(allowed) if allowed is not None else (),
        languages=(query.lang,) if query.lang else (),
        watchlist=query.watchlist or None,
        until=until,
    )
    error: QuerySyntaxError | None = None
    rows: list[StoryRow] = []
    after: Cursor | None = None
    scanned = 0
    if allowed is None or allowed:  # empty: a tag the chosen source lacks, nothing matches
        with ctx.read() as session:
            if query.q:
                try:
                    page = search(
                        session,
                        query.q,
                        filters=filters,
                        since=since,
                        limit=PAGE_SIZE,
                        cursor=cursor,
                    )
                except QuerySyntaxError as exc:
                    error = exc
                else:
                    rows, after, scanned = _search_rows(session, page), page.cursor, page.scanned
            else:
                rows, after = list_stories(
                    session, filters, since=since, limit=PAGE_SIZE, cursor=cursor
                )
    return render(
        request,
        "stories.html.j2",
        query=query,
        rows=rows,
        next_page=after.encode() if after else "",
        searched_to=after.first_seen_at if after and query.q else None,
        first_page=cursor is None,
        scanned=scanned,
        error=error,
        choices=_choices(cfg),
    )


_PARAMS = {
    "q": "q",
    "watchlist": "watchlist",
    "source": "source",
    "tag": "tag",
    "lang": "lang",
    "day_from": "from",
    "day_to": "to",
}


def _search_rows(session: Any, page: Any) -> list[StoryRow]:
    """Search hits as list rows: the story's own title and size, the hit's snippet."""
    stories = {
        sid: (title, count)
        for sid, title, count in session.execute(
            select(Story.id, Story.title, Story.article_count).where(
                Story.id.in_([h.story_id for h in page.hits])
            )
        )
    }
    rows = [
        StoryRow(
            h.story_id,
            stories.get(h.story_id, (h.title, 1))[0] or h.title,
            h.first_seen_at,
            stories.get(h.story_id, (h.title, 1))[1],
            snippet=h.match.snippet,
            highlights=h.match.highlights,
        )
        for h in page.hits
    ]
    complete(session, rows)
    return rows


def _choices(cfg: Config) -> dict[str, list[str]]:
    sources = cfg.sources.sources
    return {
        "watchlists": [w.name for w in cfg.watchlists],
        "sources": [s.id for s in sources],
        "tags": sorted({t for s in sources for t in s.tags}),
        "languages": sorted({s.language for s in sources if s.language}),
    }


def story_page(request: Request) -> Response:
    """GET /stories/{id}: articles, matches with snippets and terms, each channel's delivery."""
    ctx = context(request)
    cfg = ctx.config()
    story_id = request.path_params["story_id"]
    with ctx.read() as session:
        detail = story_detail(session, story_id)
    if detail is None:
        raise HTTPException(404, f"no story {story_id}")
    names = {s.id: s.name or s.id for s in cfg.sources.sources}
    return render(request, "story.html.j2", detail=detail, source_names=names)


routes = [
    Route("/stories", stories_page),
    Route("/stories/{story_id:int}", story_page),
]
