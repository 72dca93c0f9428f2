"""Search with the watchlist language: a bilingual table, the SQL candidate filter, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from alerts.matcher import Document, Matcher
from alerts.query import QuerySyntaxError
from alerts.search import (
    Cursor,
    SearchFilters,
    compile_query,
    search,
)
from tests.factories import add_article, add_source

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# (query, title, body, found) — each row is its own archive of one article
TABLE: list[tuple[str, str, str, bool]] = [
    ("MOU", "Taiwan and US sign MOU", "", True),
    ("MOU", "Mountain hiking near Taipei", "We climbed the mountain.", False),
    ("MOU", "", "臺灣與ＵＳ簽署ＭＯＵ", True),  # full-width
    ("MOU", "", "Taiwan與美國簽署MOU合作", True),  # CJK next to Latin
    ("MOU", "", "they signed MOUs", False),  # no stemming, as in watchlists
    ("台北", "", "臺北市政府今天宣布", True),
    ("臺北", "", "台北市政府今天宣布", True),
    ("台北", "", "台中市政府今天宣布", False),
    ("专利授权", "", "雙方簽署專利授權合約", True),
    ("專利授權", "", "双方签署专利授权合约", True),
    ("專利授權", "", "雙方簽署技術授權合約", False),
    ('"job fair"', "", "a job\nfair in Taipei", True),  # whitespace folds
    ('"=US"', "", "tell us more", False),  # case-sensitive term
    ('"=US"', "", "the US said", True),
    ("title:MOU", "Nothing here", "MOU in the body", False),
    ("body:MOU", "Nothing here", "MOU in the body", True),
    ("MOU NEAR/2 Taiwan", "", "MOU signed by Taiwan", True),
    ("MOU NEAR/2 Taiwan", "", "MOU was finally after long talks signed by Taiwan", False),
    ("Taiwan AND NOT recipe", "", "Taiwan recipe", False),
    ("Taiwan AND NOT recipe", "", "Taiwan news", True),
    ('"U.S."', "", "the U.S. and Taiwan", True),
    ('"100%"', "", "a 100% tariff", True),
    ('"100%"', "", "a 1000 tariff", False),
    ("a_b", "", "axb", False),
]


@pytest.fixture
def sessions(db: tuple[Any, sessionmaker[Session]]) -> sessionmaker[Session]:
    return db[1]


@pytest.mark.parametrize(("query", "title", "body", "found"), TABLE)
def test_bilingual_table(
    sessions: sessionmaker[Session], query: str, title: str, body: str, found: bool
) -> None:
    with sessions.begin() as s:
        add_source(s)
        add_article(s, 1, title, body, when=NOW)
    with sessions() as s:
        page = search(s, query)
    assert bool(page.hits) is found
    # exactly what a watchlist with that match would say
    engine = Matcher.compile_one(compile_query(query))
    assert bool(engine.match(Document(title, "", body))) is found


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("taiwan mou", 7, "adjacent terms"),
        ("(MOU", 0, "unclosed"),
        ("-MOU", 0, "write NOT MOU"),
        ("MOU AND", 4, "needs an operand"),
        ('"MOU', 0, "unterminated"),
        ("foo:MOU", 0, "unknown field"),
    ],
)
def test_syntax_errors_carry_positions(query: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        compile_query(query)
    assert info.value.position == position and message in str(info.value)


def test_pages_by_cursor_and_resumes_a_spent_budget(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        add_source(s)
        for i in range(30):
            body = "Taiwan MOU" if i % 3 == 0 else "nothing"
            first = add_article(s, i, f"story {i}", body, when=NOW - timedelta(minutes=i))
            if i % 5 == 0:  # a second, matching article in the same story
                add_article(s, 100 + i, f"copy {i}", "Taiwan MOU", when=NOW, story=first.story)
    expected = sorted({i for i in range(30) if i % 3 == 0 or i % 5 == 0})
    with sessions() as s:
        seen: list[str] = []
        cursor: Cursor | None = None
        while True:
            page = search(s, "MOU", limit=4, cursor=cursor, budget=7, chunk=3)
            seen += [h.title for h in page.hits]
            if page.cursor is None:
                break
            cursor = Cursor.decode(page.cursor.encode())
    stories = [int(t.split()[1]) for t in seen]
    assert stories == sorted(stories) and sorted(set(stories)) == expected  # once each


def test_filters_and_window(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        add_source(s, "a")
        add_source(s, "b")
        add_article(s, 1, "MOU a", when=NOW, source_id="a", language="en")
        add_article(s, 2, "MOU b", when=NOW - timedelta(days=3), source_id="b", language="zh")
    with sessions() as s:
        assert [h.source_id for h in search(s, "MOU").hits] == ["a", "b"]
        assert [
            h.source_id for h in search(s, "MOU", filters=SearchFilters(sources=["b"])).hits
        ] == ["b"]
        zh = SearchFilters(languages=["zh"])
        assert [h.source_id for h in search(s, "MOU", filters=zh).hits] == ["b"]
        recent = search(s, "MOU", since=NOW - timedelta(days=1))
        assert [h.source_id for h in recent.hits] == ["a"]
        old = SearchFilters(until=NOW - timedelta(days=1))
        assert [h.source_id for h in search(s, "MOU", filters=old).hits] == ["b"]


def test_cursor_tokens_are_checked() -> None:
    c = Cursor(NOW, 5, 9)
    assert Cursor.decode(c.encode()) == c
    for bad in ("", "garbage", "MjAyNnwx"):
        with pytest.raises(ValueError):
            Cursor.decode(bad)
