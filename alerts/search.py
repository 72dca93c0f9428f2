"""Search the archive with the watchlist query language, verified by the watchlist matcher.

A search query is a ``match`` expression (``alerts.query``) in which a bare word is a phrase,
since a search box has no groups: ``MOU AND (Taiwan OR 臺灣) AND NOT title:recipe``. It is
compiled into an ad-hoc watchlist, so an article is found exactly when a watchlist with that
``match`` would have matched it (same folding, word edges, NEAR, fields).

Protocol of one page:

1. *Narrow*: the query's necessary condition on index tokens (``alerts.search_candidates``)
   is looked up in the full-text index, up to ``CANDIDATE_CAP`` ids. Up to the cap, the SQL
   below reads only those articles (``id IN (…)``): a rare term costs what its candidates cost,
   whatever the archive's size. Over the cap (a common term: hits are dense, the newest
   few thousand articles hold a page of them) or without a condition (``NOT x``), the SQL
   reads every article in order and step 3 decides.
2. *Candidates*: articles of stories in keyset order ``(first_seen_at, story id, article
   id)`` newest first, narrowed in SQL by the filters, read in chunks as plain rows
   (``ix_stories_first_seen_at``, then ``ix_articles_story_id``).
3. *Prefilter*: ``alerts.prefilter.text_prefilter`` drops, in a few microseconds, articles
   that lack the literals the query needs.
4. *Verify*: the rest run through ``Matcher.match``; the first matching article of a story
   (newest first) is its hit, later articles of that story are skipped.
5. *Stop* at ``limit`` stories, or after ``budget`` articles read (a query the index cannot
   narrow would read the whole archive); the returned cursor resumes exactly there,
   mid-story if need be, so a story is never reported twice or skipped. The caller shows
   how far back it searched.

:func:`search_articles` (``wirewatch articles --search``) lists articles newest published
first, an order no index serves: it sorts the ids of all the index's candidates (uncapped;
every article within the filters when the query has no condition) once, up to ``budget``,
then prefilters and verifies them in chunks until ``limit`` articles matched.

Reads only; callers pass a reader session (``crawler.db.make_reader``) so a search never
waits for the daemon's writes. An article written between the index lookup and the read is
found by the next search.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, tuple_, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from alerts.backtest import article_fields, article_text
from alerts.matcher import Document, Matcher, WatchlistMatch
from alerts.models import Match as MatchRow
from alerts.prefilter import text_prefilter
from alerts.query import And, Expr, Field, Group, Near, Not, Or, Phrase, parse
from alerts.search_candidates import Condition, candidate_ids, index_condition
from alerts.watchlists import Watchlist
from crawler.models import Article, Story

__all__ = [
    "CANDIDATE_CAP",
    "ArticleHit",
    "ArticlePage",
    "Cursor",
    "SearchFilters",
    "SearchHit",
    "SearchPage",
    "compile_query",
    "narrowing",
    "search",
    "search_articles",
    "story_filters",
]

# Above this many candidates a term is common: reading in order finds a page sooner.
CANDIDATE_CAP = 5_000


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: after story ``(first_seen_at, story_id)``, or inside it before
    ``article_id`` when a scan budget ran out mid-story."""

    first_seen_at: datetime
    story_id: int
    article_id: int | None = None

    def encode(self) -> str:
        """An opaque, URL-safe token."""
        raw = f"{self.first_seen_at.isoformat()}|{self.story_id}|{self.article_id or ''}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Parse ``encode()``'s output; ValueError for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, story, article = raw.split("|")
            when = datetime.fromisoformat(at)
            if when.tzinfo is None:
                raise ValueError("naive time")
            return cls(when, int(story), int(article) if article else None)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"invalid cursor {token[:40]!r}") from exc


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions besides the query; empty collections restrict nothing."""

    sources: Collection[str] = ()
    languages: Collection[str] = ()
    watchlist: str | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A story and its first matching article (newest article first within the story)."""

    story_id: int
    first_seen_at: datetime
    article_id: int
    source_id: str
    title: str
    url: str
    language: str | None
    published_at: datetime | None
    fetched_at: datetime
    match: WatchlistMatch


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of hits; ``cursor`` is None when the archive is exhausted."""

    hits: list[SearchHit]
    cursor: Cursor | None
    scanned: int


# ----- the query -----------------------------------------------------------------------------


class _BareWords(Collection[str]):
    """Accepts any bare word as a "group" so the parser keeps it (it becomes a phrase)."""

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and not word.startswith("-")

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _phrases(expr: Expr) -> Expr:
    match expr:
        case Group(name):
            return Phrase(name)
        case Phrase():
            return expr
        case Not(item):
            return Not(_phrases(item))
        case Field(name, item):
            return Field(name, _phrases(item))
        case And(items):
            return And(tuple(_phrases(i) for i in items))
        case Or(items):
            return Or(tuple(_phrases(i) for i in items))
        case Near(left, right, distance):
            return Near(_phrases(left), _phrases(right), distance)
    raise TypeError(expr)


def compile_query(query: str) -> Watchlist:
    """The ad-hoc watchlist of a search query; ``QuerySyntaxError`` (with position) if bad."""
    expr = _phrases(parse(query, _BareWords()))
    return Watchlist(name="search", match=str(expr))


# ----- the search ----------------------------------------------------------------------------


def story_filters(filters: SearchFilters, since: datetime | None) -> list[ColumnElement[bool]]:
    """Conditions on ``Story`` shared by the story list and search (source/language apart)."""
    conds: list[ColumnElement[bool]] = []
    if since is not None:
        conds.append(Story.first_seen_at >= since)
    if filters.until is not None:
        conds.append(Story.first_seen_at < filters.until)
    if filters.watchlist:
        conds.append(
            Story.id.in_(select(MatchRow.story_id).where(MatchRow.watchlist == filters.watchlist))
        )
    return conds


def narrowing(
    conn: Connection, wl: Watchlist, cap: int = CANDIDATE_CAP
) -> ColumnElement[bool] | None:
    """``Article.id IN (candidates)`` when the index names at most ``cap`` candidates for
    ``wl``'s match; None when it cannot narrow (no condition, or a common term)."""
    return _narrowed(conn, index_condition(parse(wl.match, wl.groups), wl), cap)


def _narrowed(
    conn: Connection, cond: Condition | None, cap: int = CANDIDATE_CAP
) -> ColumnElement[bool] | None:
    """:func:`narrowing` for an index condition already derived from the query."""
    if cond is None:
        return None
    ids = conn.execute(candidate_ids(conn.dialect.name, cond).limit(cap + 1)).scalars().all()
    if len(ids) > cap:
        return None
    return Article.id.in_(sorted(set(ids)))  # fetched once, not re-run for every chunk


def _after(cursor: Cursor) -> ColumnElement[bool]:
    # The plain range first: it is what SQLite's planner turns into an index range.
    upto = Story.first_seen_at <= cursor.first_seen_at
    story = tuple_(Story.first_seen_at, Story.id) < tuple_(cursor.first_seen_at, cursor.story_id)
    if cursor.article_id is None:
        return and_(upto, story)
    inside = and_(
        Story.first_seen_at == cursor.first_seen_at,
        Story.id == cursor.story_id,
        Article.id < cursor.article_id,
    )
    return and_(upto, or_(story, inside))


def _utc(value: object) -> datetime:
    """A stored time as the driver returns it (SQLite: naive UTC text) → aware UTC."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def search(
    session: Session,
    query: str,
    *,
    filters: SearchFilters | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: Cursor | None = None,
    budget: int = 50_000,
    chunk: int = 5_000,
) -> SearchPage:
    """Stories first seen since ``since`` with an article matching ``query``, newest first.

    Raises ``QuerySyntaxError`` for a malformed query; see the module docstring.
    """
    filters = filters or SearchFilters()
    wl = compile_query(query)
    engine = Matcher.compile_one(wl)
    prefilter = text_prefilter(wl)
    conds = story_filters(filters, since)
    if filters.sources:
        conds.append(Article.source_id.in_(list(filters.sources)))
    if filters.languages:
        conds.append(Article.language.in_(list(filters.languages)))
    conn = session.connection()
    narrow = narrowing(conn, wl)
    if narrow is not None:
        conds.append(narrow)
    base = (
        select(
            Story.id,
            type_coerce(Story.first_seen_at, NullType()),  # as stored; converted when needed
            Article.id,
            article_text(),
        )
        .join(Story, Story.id == Article.story_id)
        .where(*conds)
        .order_by(Story.first_seen_at.desc(), Story.id.desc(), Article.id.desc())
    )
    found: list[SearchHit] = []
    hit: set[int] = set()
    scanned = 0
    last: Cursor | None = cursor
    size = _first_chunk(limit, chunk)
    while True:
        want = min(size, budget - scanned)
        size = min(2 * size, chunk)
        result = conn.execute((base if last is None else base.where(_after(last))).limit(want))
        try:  # ids and text need no result processing: take the driver's rows
            rows = result.cursor.fetchall()
        finally:
            result.close()
        wanted = [
            aid
            for sid, _, aid, text in rows
            if sid not in hit and (prefilter is None or prefilter(text))
        ]
        fields = _fields(conn, wanted)
        for sid, first, aid, _ in rows:
            scanned += 1
            art = fields.get(aid)
            if art is None or sid in hit:
                continue
            matches = engine.match(Document(art.title or "", art.summary or "", art.body or ""))
            if matches:
                hit.add(sid)
                found.append(
                    SearchHit(
                        sid,
                        _utc(first),
                        aid,
                        art.source_id,
                        art.title,
                        art.url,
                        art.language,
                        art.published_at,
                        art.fetched_at,
                        matches[0],
                    )
                )
                if len(found) >= limit:
                    return SearchPage(found, Cursor(_utc(first), sid), scanned)
        if len(rows) < want:
            return SearchPage(found, None, scanned)  # the archive is exhausted
        sid, first, aid, _ = rows[-1]
        last = Cursor(_utc(first), sid, None if sid in hit else aid)
        if scanned >= budget:
            return SearchPage(found, last, scanned)


def _fields(conn: Connection, ids: list[int]) -> dict[int, Any]:
    """What matching and the hit need, for the articles that passed the prefilter."""
    more = (Article.language, Article.published_at, Article.fetched_at)
    return article_fields(conn, ids, *more, Article.publisher, Article.guid)


# ----- articles (``wirewatch articles --search``) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class ArticleHit:
    """A matching article."""

    id: int
    story_id: int | None
    source_id: str
    publisher: str | None
    title: str
    url: str
    guid: str | None
    language: str | None
    published_at: datetime | None
    fetched_at: datetime
    match: WatchlistMatch


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """The newest matching articles; ``complete`` is False when ``budget`` stopped the read
    before the archive (within the filters) was exhausted."""

    hits: list[ArticleHit]
    scanned: int
    complete: bool


def search_articles(
    session: Session,
    query: str,
    *,
    source: str | None = None,
    fetched_since: datetime | None = None,
    limit: int = 50,
    budget: int = 200_000,
    chunk: int = 2_000,
) -> ArticlePage:
    """Articles matching ``query``, newest published (else fetched) first, as the article
    list orders them. Raises ``QuerySyntaxError``; see the module docstring."""
    wl = compile_query(query)
    engine = Matcher.compile_one(wl)
    prefilter = text_prefilter(wl)
    conn = session.connection()
    # One sort of the keys (no index serves this order, so chunks would each sort again),
    # then the text chunk by chunk until the page is full.
    newest = type_coerce(func.coalesce(Article.published_at, Article.fetched_at), NullType())
    conds: list[ColumnElement[bool]] = []
    if source:
        conds.append(Article.source_id == source)
    if fetched_since is not None:
        conds.append(Article.fetched_at >= fetched_since)
    # A few candidates are fetched first and looked up by primary key: as a subquery,
    # PostgreSQL's planner may hash-join them against every article (45 ms at 1M for none).
    cond = index_condition(parse(wl.match, wl.groups), wl)
    few = _narrowed(conn, cond)
    if few is not None:
        conds.append(few)
    elif cond is not None:
        conds.append(Article.id.in_(candidate_ids(conn.dialect.name, cond)))
    keys = (
        conn.execute(
            select(Article.id)
            .where(*conds)
            .order_by(newest.desc(), Article.id.desc())
            .limit(budget + 1)
        )
        .scalars()
        .all()
    )
    hits: list[ArticleHit] = []
    scanned = 0
    for begin, end in _chunks(min(len(keys), budget), _first_chunk(limit, chunk), chunk):
        ids = keys[begin:end]
        texts = conn.execute(select(Article.id, article_text()).where(Article.id.in_(ids)))
        wanted = [aid for aid, text in texts if prefilter is None or prefilter(text)]
        fields = _fields(conn, wanted)
        for aid in ids:
            scanned += 1
            art = fields.get(aid)
            if art is None:
                continue
            matches = engine.match(Document(art.title or "", art.summary or "", art.body or ""))
            if matches:
                hits.append(_article_hit(art, matches[0]))
                if len(hits) >= limit:
                    return ArticlePage(hits, scanned, True)
    return ArticlePage(hits, scanned, len(keys) <= budget)


def _chunks(total: int, first: int, largest: int) -> Iterator[tuple[int, int]]:
    """(start, end) ranges over ``total`` items, ``first`` long, then doubling."""
    start, size = 0, first
    while start < total:
        yield start, min(total, start + size)
        start, size = start + size, min(2 * size, largest)


def _first_chunk(limit: int, chunk: int) -> int:
    """Chunks start small and double: dense hits fill a page from the first few rows."""
    return min(chunk, max(2 * limit, 100))


def _article_hit(art: Any, match: WatchlistMatch) -> ArticleHit:
    return ArticleHit(
        art.id,
        art.story_id,
        art.source_id,
        art.publisher,
        art.title,
        art.url,
        art.guid,
        art.language,
        art.published_at,
        art.fetched_at,
        match,
    )
