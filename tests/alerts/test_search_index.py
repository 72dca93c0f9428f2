"""The search index: its candidates are a superset of what the matcher finds, search equals
a watchlist's matches on a bilingual archive, and the index follows inserts, text fills and
retention (SQLite FTS5 and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from alerts.backtest import replay
from alerts.matcher import Document, Matcher
from alerts.query import parse
from alerts.search import CANDIDATE_CAP, compile_query, narrowing, search, search_articles
from alerts.search_candidates import candidate_ids, holds, index_condition, term_tokens
from alerts.watchlists import Watchlist
from crawler.extract import ExtractedArticle as PageText
from crawler.models import Article, ArticleSearch
from crawler.retention import prune_articles
from crawler.search_index import MAX_KEY_BYTES, article_key, index_articles, reindex
from crawler.textfill import fill_text
from tests.alerts.test_matcher_properties import documents, watchlists
from tests.factories import add_article, add_source

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _condition(wl: Watchlist) -> Any:
    return index_condition(parse(wl.match, wl.groups), wl)


# ----- the superset property, in Python ----------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(watchlists("w"), st.lists(documents, min_size=1, max_size=4))
def test_every_match_meets_the_index_condition(wl: Watchlist, docs: list[Document]) -> None:
    engine = Matcher.compile_one(wl.model_copy(update={"exclude": None, "sources": []}))
    cond = _condition(wl)
    for doc in docs:
        if engine.match(doc) and cond is not None:
            assert holds(cond, article_key(doc.title, doc.summary, doc.body)), (wl.match, doc)


@pytest.mark.parametrize(
    ("term", "tokens"),
    [
        ("MOU", {"mou"}),
        ("=US", {"us"}),
        ("U.S.", {"u", "s"}),
        ("臺北", {"台北"}),  # folded, one pair
        ("專利授權", {"专利", "利授", "授权"}),
        ("美", {"美"}),
        ("用MOU", {"用", "mou"}),
        ("ＭＯＵ", {"mou"}),
        ("100%", {"100"}),
        ("%", set()),
    ],
)
def test_term_tokens(term: str, tokens: set[str]) -> None:
    assert term_tokens(term) == tokens


def test_keys_are_folded_and_text_is_not() -> None:
    key = article_key("臺灣與ＵＳ簽署ＭＯＵ", "", "Mountain")
    assert key is not None
    assert {"台湾", "us", "mou", "mountain"} <= set(key.split())
    assert "臺" not in key and "MOU" not in key


# ----- the database's candidates -----------------------------------------------------------------

VOCAB = [
    "MOU", "Mountain", "Taiwan", "Taiwan's", "US", "us", "U.S.", "patent", "licensing",
    "臺灣", "台湾", "臺北", "台北", "台中", "專利授權", "专利授权", "技術授權", "合作備忘錄",
    "签署", "美國", "用", "的", "ＭＯＵ", "2026", "job", "fair", "recipe",
]  # fmt: skip
QUERIES = [
    "MOU", "Mountain", "臺北", "台北", "专利授权", "專利授權", '"=US"', '"U.S."', "Taiwan",
    "MOU AND NOT Taiwan", "MOU OR 台中", "title:MOU", "body:专利授权", "MOU NEAR/2 Taiwan",
    '"patent licensing"', "授權", "美", "NOT recipe", '"job fair" OR "合作备忘录"', "台",
]  # fmt: skip


def _corpus(seed: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    seps = [" ", "", "，", ". ", "\n"]

    def say(k: int) -> str:
        return "".join(rng.choice(VOCAB) + rng.choice(seps) for _ in range(k))

    return [(say(rng.randint(0, 4)), say(rng.randint(0, 12))) for _ in range(n)]


@pytest.fixture
def corpus(db: tuple[Any, sessionmaker[Session]]) -> tuple[Any, sessionmaker[Session], dict]:
    engine, sessions = db
    docs: dict[int, tuple[str, str]] = {}
    with sessions.begin() as s:
        add_source(s)
        for i, (title, body) in enumerate(_corpus(3, 160)):
            art = add_article(s, i, title, body, when=NOW - timedelta(minutes=i))
            docs[art.id] = (title, body)
    return engine, sessions, docs


def _matched(query: str, docs: dict[int, tuple[str, str]]) -> set[int]:
    engine = Matcher.compile_one(compile_query(query))
    return {aid for aid, (t, b) in docs.items() if engine.match(Document(t, "", b))}


@pytest.mark.parametrize("query", QUERIES)
def test_database_candidates_contain_every_match_and_search_equals_it(
    corpus: tuple[Any, sessionmaker[Session], dict], query: str
) -> None:
    engine, sessions, docs = corpus
    expected = _matched(query, docs)
    cond = _condition(compile_query(query))
    with sessions() as s:
        if cond is not None:
            found = set(s.execute(candidate_ids(engine.dialect.name, cond)).scalars())
            assert expected <= found
        hits = search_articles(s, query, limit=1000)
        stories = search(s, query, limit=1000)
    assert {h.id for h in hits.hits} == expected
    assert {h.article_id for h in stories.hits} == expected  # one article per story here


def test_narrowing_gives_way_to_reading_in_order_for_common_terms(
    corpus: tuple[Any, sessionmaker[Session], dict],
) -> None:
    _, sessions, docs = corpus
    wl = compile_query("的")
    common = len(_matched("的", docs))
    assert 1 < common < len(docs)
    with sessions() as s:
        conn = s.connection()
        assert narrowing(conn, wl, cap=common) is not None
        assert narrowing(conn, wl, cap=common - 1) is None
        assert narrowing(conn, compile_query("NOT 的")) is None
        assert CANDIDATE_CAP >= 1_000
        small = search_articles(s, "的", limit=1000, chunk=7)  # read in order, in chunks
    assert {h.id for h in small.hits} == _matched("的", docs)


# ----- the bilingual archive: search agrees with a watchlist --------------------------------------

BILINGUAL = [
    ("Taiwan and US sign MOU on chips", "The memorandum of understanding covers patents."),
    ("Mountain resort reopens", "Hikers return to the mountain near Taipei."),
    ("台北市與美方簽署MOU", "雙方簽署專利授權合約，涵蓋半導體。"),
    ("臺北國際書展開幕", "今年的書展在臺北舉行。"),
    ("台中港擴建", "台中市政府今天宣布擴建計畫。"),
    ("专利授权协议签署", "双方签署专利授权合约。"),
    ("Patent licensing pact", "Taiwan's ministry signed a patent licensing pact with US firms."),
    ("Tell us more", "Readers tell us what they think."),
]
BILINGUAL_QUERIES = [
    ("MOU", {0, 2}),
    ("臺北", {2, 3}),
    ("台北", {2, 3}),
    ("专利授权", {2, 5}),
    ("專利授權", {2, 5}),
    ('"=US"', {0, 6}),
    ("US", {0, 6, 7}),
    ('"patent licensing" OR 專利授權', {2, 5, 6}),
    ("Taiwan AND NOT MOU", {6}),
    ("title:MOU", {0, 2}),
    ("Mountain", {1}),
]


@pytest.mark.parametrize(("query", "expected"), BILINGUAL_QUERIES)
def test_bilingual_search_equals_the_watchlist(
    db: tuple[Any, sessionmaker[Session]], query: str, expected: set[int]
) -> None:
    _, sessions = db
    with sessions.begin() as s:
        add_source(s)
        ids = [
            add_article(s, i, t, b, when=NOW - timedelta(hours=i)).id
            for i, (t, b) in enumerate(BILINGUAL)
        ]
    engine = Matcher.compile_one(Watchlist(name="w", match=compile_query(query).match))
    watched = {i for i, (t, b) in enumerate(BILINGUAL) if engine.match(Document(t, "", b))}
    assert watched == expected
    with sessions() as s:
        articles = {ids.index(h.id) for h in search_articles(s, query).hits}
        stories = {ids.index(h.article_id) for h in search(s, query).hits}
    assert articles == stories == expected


# ----- keeping the index current ----------------------------------------------------------------


def _found(sessions: sessionmaker[Session], query: str) -> list[int]:
    with sessions() as s:
        return [h.id for h in search_articles(s, query).hits]


def test_retention_removes_index_rows(db: tuple[Any, sessionmaker[Session]]) -> None:
    engine, sessions = db
    with sessions.begin() as s:
        add_source(s)
        old = add_article(s, 1, "Quasar MOU", when=NOW - timedelta(days=400)).id
        new = add_article(s, 2, "Quasar MOU", when=NOW).id
    assert _found(sessions, "Quasar") == [new, old]
    with sessions.begin() as s:
        assert prune_articles(s, NOW - timedelta(days=30), keep=None) == 1
    with sessions() as s:
        assert s.scalars(select(ArticleSearch.article_id)).all() == [new]
        cond = _condition(compile_query("Quasar"))
        assert list(s.execute(candidate_ids(engine.dialect.name, cond)).scalars()) == [new]


def test_filled_text_is_indexed(db: tuple[Any, sessionmaker[Session]]) -> None:
    _, sessions = db
    with sessions.begin() as s:
        add_source(s)
        aid = add_article(s, 1, "Notice", when=NOW).id
    assert _found(sessions, "專利授權") == []
    page = PageText(title="Notice", text="雙方簽署专利授权合約")
    with sessions.begin() as s:
        assert fill_text(s, aid, page, now=NOW)
    assert _found(sessions, "專利授權") == [aid]


def test_a_key_too_large_to_index_is_always_a_candidate(
    db: tuple[Any, sessionmaker[Session]],
) -> None:
    _, sessions = db
    rng = random.Random(1)
    words = {"".join(rng.choices("abcdefghij", k=12)) for _ in range(MAX_KEY_BYTES // 12)}
    huge = "Quasar " + " ".join(sorted(words))
    assert article_key("", "", huge) is None
    with sessions.begin() as s:
        add_source(s)
        aid = add_article(s, 1, "Huge", huge, when=NOW).id
        add_article(s, 2, "Other", "nothing", when=NOW)
    with sessions() as s:
        assert s.scalar(select(ArticleSearch.key).where(ArticleSearch.article_id == aid)) is None
    assert _found(sessions, "Quasar") == [aid]
    assert _found(sessions, "nothing") != [aid]


def test_reindex_fills_missing_rows_and_rebuilds(db: tuple[Any, sessionmaker[Session]]) -> None:
    _, sessions = db
    with sessions.begin() as s:
        add_source(s)
        ids = [add_article(s, i, f"Quasar {i}", when=NOW).id for i in range(5)]
        s.execute(
            text("DELETE FROM article_search WHERE article_id IN (:a, :b)"),
            {"a": ids[0], "b": ids[1]},
        )
    assert sorted(_found(sessions, "Quasar")) == ids[2:]
    with sessions.begin() as s:
        assert reindex(s.connection(), batch=2) == 2
    assert sorted(_found(sessions, "Quasar")) == ids
    with sessions.begin() as s:
        s.execute(text("UPDATE articles SET title = 'Pulsar'"))
        assert reindex(s.connection(), everything=True, batch=2) == 5
    assert _found(sessions, "Quasar") == [] and len(_found(sessions, "Pulsar")) == 5


def test_index_rows_are_rewritten_not_duplicated(db: tuple[Any, sessionmaker[Session]]) -> None:
    _, sessions = db
    with sessions.begin() as s:
        add_source(s)
        art = add_article(s, 1, "Quasar", when=NOW)
        art.title = "Pulsar"
        s.flush()
        index_articles(s.connection(), [art])
    assert _found(sessions, "Quasar") == [] and _found(sessions, "Pulsar") == [art.id]
    with sessions() as s:
        assert s.scalar(select(Article.title)) == "Pulsar"
        assert len(s.scalars(select(ArticleSearch.article_id)).all()) == 1


def test_upgrade_indexes_an_existing_archive(db_url: str) -> None:
    from crawler.db import make_engine, session_factory
    from scheduler.migrate import upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0005_ingest_fidelity")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sources (id, type, url, config_url, enabled, consecutive_failures,"
                    " state, baseline_done, items_seen, created_at) VALUES ('src', 'rss', 'u', 'u',"
                    " true, 0, 'ok', true, 0, :now)"
                ),
                {"now": NOW},
            )
            for i, body in enumerate(["雙方簽署專利授權合約", "Mountain", "Taiwan MOU"]):
                conn.execute(
                    text(
                        "INSERT INTO articles (source_id, url, canonical_url, title, summary, body,"
                        " tags, fetched_at, baseline, text_attempts) VALUES ('src', :u, :u, '',"
                        " '', :b, '[]', :now, false, 0)"
                    ),
                    {"u": f"https://n.test/{i}", "b": body, "now": NOW},
                )
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions() as s:
            assert len(s.scalars(select(ArticleSearch.article_id)).all()) == 3
        assert len(_found(sessions, "专利授权")) == 1 and len(_found(sessions, "MOU")) == 1
    finally:
        engine.dispose()


def test_a_query_the_index_cannot_narrow_stops_at_its_budget(
    db: tuple[Any, sessionmaker[Session]],
) -> None:
    _, sessions = db
    with sessions.begin() as s:
        add_source(s)
        for i in range(5):
            add_article(s, i, f"story {i}", when=NOW - timedelta(minutes=i))
    with sessions() as s:
        cut = search_articles(s, "NOT MOU", budget=3)
        whole = search_articles(s, "NOT MOU")
    assert (len(cut.hits), cut.scanned, cut.complete) == (3, 3, False)
    assert (len(whole.hits), whole.complete) == (5, True)


@pytest.mark.parametrize("query", QUERIES)
def test_replay_through_the_index_equals_a_full_replay(
    corpus: tuple[Any, sessionmaker[Session], dict], query: str
) -> None:
    """What the try-out and backtest read through the index is what a full replay finds."""
    _, sessions, docs = corpus
    wl = Watchlist(name="w", match=compile_query(query).match, groups=compile_query(query).groups)
    engine = Matcher.compile_one(wl)
    since = NOW - timedelta(days=1)
    with sessions() as s:
        full = [(h.article_id, h.match.hits) for h in replay(s, engine, since, {})]
        narrowed = [(h.article_id, h.match.hits) for h in replay(s, engine, since, {}, indexed=wl)]
    assert narrowed == full
    assert {aid for aid, _ in full} == _matched(query, docs)
