"""Search the archive with the watchlist query language, verified by the watchlist matcher.

A search query is a ``match`` expression (``alerts.query``) in which a bare word is a phrase,
since a search box has no groups: ``MOU AND (Taiwan OR 臺灣) AND NOT title:recipe``. It is
compiled into an ad-hoc watchlist, so a story is found exactly when a watchlist with that
``match`` would have matched one of its articles (same folding, word edges, NEAR, fields).

Protocol of one page:

1. *Candidates* (SQL): articles of stories in keyset order ``(first_seen_at, story id,
   article id)`` newest first, narrowed by the filters and by ``candidate_filter``: one
   ``lower(column) LIKE`` pattern per literal, combined as the expression combines them
   (``NOT`` and regex terms narrow nothing). A pattern writes ``_`` (any one character) for
   every character that folding merges with others (台/臺, 专/專, non-ASCII case, spaces) and
   has a full-width twin for Latin text, so it is a superset of what the matcher accepts
   wherever folding maps one character to one. Folding that changes length (``ß`` → ``ss``,
   ligatures) can hide an article from the filter; a full-text index will replace it.
2. *Verify*: each candidate runs through ``Engine.match``; the first matching article of a
   story is its hit, later articles of that story are skipped.
3. *Stop* at ``limit`` stories, or after ``budget`` candidates (a ``NOT``-only query over a
   large archive otherwise reads it all); the returned cursor resumes exactly there, mid-story
   if need be, so a story is never reported twice or skipped.

Reads only; callers pass a reader session (``crawler.db.make_reader``) so a search never
waits for the daemon's writes.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from alerts.folding import chinese_variants, fold
from alerts.matcher import Document, Engine, Match
from alerts.query import And, Expr, Field, Group, Near, Not, Or, Phrase, parse
from alerts.scripts import NON_SPACED
from alerts.watchlists import RegexTerm, Watchlist
from crawler.models import Article, Story
from crawler.models import Match as MatchRow

__all__ = [
    "Cursor",
    "SearchFilters",
    "SearchHit",
    "SearchPage",
    "candidate_filter",
    "compile_query",
    "like_patterns",
    "search",
    "story_filters",
]

_COLUMNS = {"title": Article.title, "summary": Article.summary, "body": Article.body}
_FULL_WIDTH = 0xFEE0  # U+FF01..U+FF5E are U+0021..U+007E shifted by this


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
    match: Match


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


# ----- the SQL candidate filter --------------------------------------------------------------


def _escape(ch: str) -> str:
    return "\\" + ch if ch in "\\%_" else ch


def like_patterns(term: str) -> list[str]:
    """``LIKE`` patterns (for ``lower(column)``) that every text the term matches satisfies."""
    text = term.strip()
    if text.startswith("="):
        text = text[1:].strip()
    folded = fold(text).text.strip()
    base: list[str] = []
    for ch in folded:
        if ch == " ":
            base.append("_")  # any whitespace folds to a space
        elif ch.isascii():
            base.append(_escape(ch))
        elif NON_SPACED.match(ch):
            base.append("_" if ch in chinese_variants() else ch)
        else:
            base.append("_")  # non-ASCII case and width variants that lower() may not fold
    patterns = ["%" + "".join(base) + "%"]
    if any(ch.isascii() and ch.isalnum() for ch in folded):
        for case in (str.lower, str.upper):
            wide = [
                chr(ord(case(ch)) + _FULL_WIDTH) if "!" <= ch <= "~" else pat
                for ch, pat in zip(folded, base, strict=True)
            ]
            patterns.append("%" + "".join(wide) + "%")
    return patterns


def _term_filter(term: str, fields: Sequence[str]) -> ColumnElement[bool]:
    return or_(
        *(
            func.lower(_COLUMNS[f]).like(pattern, escape="\\")
            for pattern in like_patterns(term)
            for f in fields
        )
    )


def _expr_filter(expr: Expr, wl: Watchlist, fields: Sequence[str]) -> ColumnElement[bool] | None:
    """A SQL condition implied by ``expr``, or None when it implies nothing usable."""
    match expr:
        case Group(name):
            terms = wl.groups[name]
            if any(isinstance(t, RegexTerm) for t in terms):
                return None
            return or_(*(_term_filter(str(t), fields) for t in terms))
        case Phrase(text):
            return _term_filter(text, fields)
        case Not():
            return None
        case Field(name, item):
            return _expr_filter(item, wl, (name,))
        case And(items):
            parts = [p for i in items if (p := _expr_filter(i, wl, fields)) is not None]
            return and_(*parts) if parts else None
        case Near(left, right, _):
            return _expr_filter(And((left, right)), wl, fields)
        case Or(items):
            parts = [_expr_filter(i, wl, fields) for i in items]
            if any(p is None for p in parts):
                return None
            return or_(*parts)  # type: ignore[arg-type]
    raise TypeError(expr)


def candidate_filter(wl: Watchlist) -> ColumnElement[bool] | None:
    """A SQL condition every article ``wl`` matches satisfies (None: cannot narrow)."""
    return _expr_filter(parse(wl.match, wl.groups), wl, tuple(_COLUMNS))


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


def _after(cursor: Cursor) -> ColumnElement[bool]:
    story = tuple_(Story.first_seen_at, Story.id) < tuple_(cursor.first_seen_at, cursor.story_id)
    if cursor.article_id is None:
        return story
    inside = and_(
        Story.first_seen_at == cursor.first_seen_at,
        Story.id == cursor.story_id,
        Article.id < cursor.article_id,
    )
    return or_(story, inside)


def search(
    session: Session,
    query: str,
    *,
    filters: SearchFilters | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: Cursor | None = None,
    budget: int = 20_000,
    chunk: int = 500,
) -> SearchPage:
    """Stories first seen since ``since`` with an article matching ``query``, newest first.

    Raises ``QuerySyntaxError`` for a malformed query; see the module docstring.
    """
    filters = filters or SearchFilters()
    wl = compile_query(query)
    engine = Engine.compile_one(wl)
    conds = story_filters(filters, since)
    narrow = candidate_filter(wl)
    if narrow is not None:
        conds.append(narrow)
    if filters.sources:
        conds.append(Article.source_id.in_(list(filters.sources)))
    if filters.languages:
        conds.append(Article.language.in_(list(filters.languages)))
    base = (
        select(
            Story.id,
            Story.first_seen_at,
            Article.id,
            Article.source_id,
            Article.title,
            Article.summary,
            Article.body,
            Article.url,
            Article.language,
            Article.published_at,
            Article.fetched_at,
        )
        .join(Story, Story.id == Article.story_id)
        .where(*conds)
        .order_by(Story.first_seen_at.desc(), Story.id.desc(), Article.id.desc())
    )
    hits: list[SearchHit] = []
    scanned = 0
    last: Cursor | None = cursor
    done_story: int | None = None
    while True:
        q = base if last is None else base.where(_after(last))
        want = min(chunk, budget - scanned)
        rows = session.execute(q.limit(want)).all()
        for sid, first, aid, src, title, summary, body, url, lang, pub, fetched in rows:
            scanned += 1
            last = Cursor(first, sid, aid)
            if sid == done_story:
                continue
            found = engine.match(Document(title or "", summary or "", body or ""))
            if found:
                done_story = sid
                hits.append(
                    SearchHit(sid, first, aid, src, title, url, lang, pub, fetched, found[0])
                )
                if len(hits) >= limit:
                    return SearchPage(hits, Cursor(first, sid), scanned)
        if len(rows) < want:
            return SearchPage(hits, None, scanned)
        if scanned >= budget:
            assert last is not None
            if last.story_id == done_story:
                last = Cursor(last.first_seen_at, last.story_id)
            return SearchPage(hits, last, scanned)
