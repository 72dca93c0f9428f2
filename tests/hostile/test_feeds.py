"""Feeds shaped like the real world, through the real poll path, on SQLite and PostgreSQL.

Each row of :data:`SHAPES` is one nasty feed shape: the bytes a loopback server serves, and
what must be stored. One module-scoped pass per database stores a seed item per source
(the silent baseline), then serves every shape and polls again, so the shapes are read as
new items (article pages are fetched, nothing is baseline). Every row also checks the
accounting: each entry read is stored or skipped with a reason, and the source row keeps
those counts for ``wirewatch sources``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from benchmarks.newsserver import NewsServer
from crawler.models import Article, Source
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.crawler.conftest import FAST, Poller

RSS = "application/rss+xml"
ATOM = "application/atom+xml"
HUGE_ITEMS = 1_234  # more than two parse batches (crawler.parse.BATCH_ENTRIES)
TW = "經濟部與美國企業簽署合作備忘錄，涵蓋專利授權（首批六家）"


@dataclass(frozen=True)
class Seen:
    """What one shape's source got: its poll outcome, stored articles and source row."""

    base: str
    feed_url: str
    outcome: dict[str, Any]
    articles: list[Article]
    source: Source

    def by_guid(self) -> dict[str | None, Article]:
        return {a.guid: a for a in self.articles}


@dataclass(frozen=True)
class Shape:
    """A feed shape: its bytes (given the server's base URL) and what must come of them."""

    id: str
    body: Callable[[str], bytes]
    check: Callable[[Seen], None]
    content_type: str = RSS
    source: dict[str, Any] = field(default_factory=dict)
    pages: Callable[[str], dict[str, tuple[bytes, str]]] = lambda base: {}


def rss(items: str, head: str = '<?xml version="1.0" encoding="utf-8"?>\n') -> bytes:
    return (
        f"{head}<rss version='2.0'><channel><title>t</title><link>http://example.org/</link>"
        f"{items}</channel></rss>"
    ).encode()


def atom(entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>a</title><id>tag:a.example,2026:feed</id>{entries}</feed>"
    ).encode()


def old_gnews_link(target: str) -> str:
    """An old-format Google News article link: protobuf field 4 holds the target URL."""
    raw = b"\x08\x13\x22" + bytes([len(target)]) + target.encode()
    return "https://news.google.com/rss/articles/" + base64.urlsafe_b64encode(raw).decode()


# ------------------------------------------------------------------------ the shapes


def fragments(base: str) -> bytes:
    posts = ["a080605", "a030658", "a120001", "a151515", "a235959"]
    items = "".join(
        f"<item><title>Post {p}</title><link>{base}/2017/06/26.html#{p}</link>"
        f"<guid isPermaLink='false'>tag:blog,2017:{p}</guid></item>"
        for p in posts
    )
    tracked = "".join(
        f"<item><title>Tracked</title><link>{base}/2017/06/27.html{q}</link></item>"
        for q in ("?utm_source=rss&amp;utm_medium=feed", "?utm_source=twitter")
    )
    return rss(items + tracked)


def check_fragments(seen: Seen) -> None:
    urls = sorted(a.canonical_url for a in seen.articles)
    assert [u.rsplit("#", 1)[-1] for u in urls[:5]] == sorted(
        ["a030658", "a080605", "a120001", "a151515", "a235959"]
    )
    assert urls[5] == f"{seen.base}/2017/06/27.html"
    assert seen.outcome["skipped"] == {"duplicate: same URL": 1}


def empty_links(base: str) -> bytes:
    return atom(
        f'<entry><id>{base}/posts/1</id><title>URL id</title><link href=""/></entry>'
        '<entry><id>tag:a.example,2026:2</id><title>Tag id</title><link href=""/></entry>'
        "<entry><id>urn:uuid:7a1c0d7e-3b0e-4c55-9a49-1f7e0c4d2b11</id><title>Urn id</title>"
        '<link rel="alternate" href=""/></entry>'
    )


def check_empty_links(seen: Seen) -> None:
    got = {a.guid: a.url for a in seen.articles}
    assert got == {
        f"{seen.base}/posts/1": f"{seen.base}/posts/1",
        "tag:a.example,2026:2": "",
        "urn:uuid:7a1c0d7e-3b0e-4c55-9a49-1f7e0c4d2b11": "",
    }
    assert all(a.url != seen.feed_url for a in seen.articles)


def blank_links(base: str) -> bytes:
    return rss(
        "<item><title>Blank RSS link</title><link>  \n </link><guid>g-1</guid></item>"
        "<item><title>Blank too</title><link>\t</link><guid>g-2</guid></item>"
    )


def check_blank_links(seen: Seen) -> None:
    assert {a.guid: a.url for a in seen.articles} == {"g-1": "", "g-2": ""}
    assert all(a.canonical_url is None for a in seen.articles)


def blank_atom_links(base: str) -> bytes:
    return atom(
        '<entry><id>tag:a.example,2026:w1</id><title>W1</title><link href="   "/></entry>'
        '<entry><id>tag:a.example,2026:w2</id><title>W2</title><link href="\n\t"/></entry>'
    )


def check_blank_atom_links(seen: Seen) -> None:
    assert sorted((a.guid, a.url) for a in seen.articles) == [
        ("tag:a.example,2026:w1", ""),
        ("tag:a.example,2026:w2", ""),
    ]


def relative_ids(base: str) -> bytes:
    return atom(
        f'<entry><id>posts/1</id><title>One</title><link href="{base}/p/1"/></entry>'
        f'<entry><id>/posts/2</id><title>Two</title><link href="{base}/p/2"/></entry>'
    )


def check_relative_ids(seen: Seen) -> None:
    assert sorted(a.guid or "" for a in seen.articles) == ["/posts/2", "posts/1"]


def latin1_undeclared(path: str) -> Callable[[str], bytes]:
    def body(base: str) -> bytes:
        return (
            "<rss version='2.0'><channel><title>Eleições</title>"
            f"<item><title>Pesquisa: simulações de 2º turno</title><link>{base}{path}</link>"
            "<description>Candidatos à presidência; ação e reação</description></item>"
            "</channel></rss>"
        ).encode("latin-1")

    return body


def check_latin1(seen: Seen) -> None:
    (a,) = seen.articles
    assert a.title == "Pesquisa: simulações de 2º turno"
    assert a.summary == "Candidatos à presidência; ação e reação"


def declared_utf8_is_cp1252(base: str) -> bytes:
    item = f"<item><title>“Tarifa” – café</title><link>{base}/es/1</link></item>"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + f"<rss><channel>{item}</channel></rss>"
    ).encode("cp1252")


def check_cp1252(seen: Seen) -> None:
    assert [a.title for a in seen.articles] == ["“Tarifa” – café"]


def declared_latin1_is_utf8(base: str) -> bytes:
    items = f"<item><title>台灣專利 – café</title><link>{base}/tw/9</link></item>"
    return rss(items, head='<?xml version="1.0" encoding="ISO-8859-1"?>\n')


def check_utf8_despite_declaration(seen: Seen) -> None:
    assert [a.title for a in seen.articles] == ["台灣專利 – café"]


def gb2312_meta_page(base: str) -> bytes:
    return rss(f"<item><title>Ministry</title><link>{base}/page/utf8-gb2312.html</link></item>")


def gb2312_pages(base: str) -> dict[str, tuple[bytes, str]]:
    text = "".join(f"<p>{TW}。第{n}段說明授權範圍與期限。</p>" for n in range(1, 6))
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        f"<title>{TW}</title></head><body><article><h1>{TW}</h1>{text}</article></body></html>"
    )
    return {"/page/utf8-gb2312.html": (html.encode("utf-8"), "text/html")}


def check_gb2312_page(seen: Seen) -> None:
    (a,) = seen.articles
    assert TW in a.body and "第3段說明授權範圍與期限" in a.body


def full_width(base: str) -> bytes:
    return rss(
        f"<item><title>{TW}</title><link>{base}/tw/1</link>"
        "<description>「台美」合作！涵蓋：專利、商標；ＭＯＵ共６份。</description></item>"
        # The same story with ASCII punctuation: a duplicate by content (keys fold).
        f"<item><title>{TW.replace('，', ',')}</title><link>{base}/tw/1-print</link>"
        "<description>「台美」合作!涵蓋:專利、商標;MOU共6份。</description></item>"
    )


def check_full_width(seen: Seen) -> None:
    (a,) = seen.articles
    assert a.title == TW
    assert a.summary == "「台美」合作！涵蓋：專利、商標；ＭＯＵ共６份。"
    assert seen.outcome["skipped"] == {"duplicate: same content": 1}


def huge(base: str) -> bytes:
    items = "".join(
        f"<item><title>Item {n}</title><link>{base}/huge/{n}</link>"
        f"<guid isPermaLink='false'>h{n}</guid></item>"
        for n in range(HUGE_ITEMS)
    )
    return rss(items + "<item><title>No identity</title></item>")


def check_huge(seen: Seen) -> None:
    assert seen.outcome["found"] == HUGE_ITEMS + 1
    assert seen.outcome["new"] == HUGE_ITEMS == len(seen.articles)
    assert seen.outcome["skipped"] == {"no link and no guid": 1}
    assert {a.guid for a in seen.articles} == {f"h{n}" for n in range(HUGE_ITEMS)}


def json_feed(version: str) -> Callable[[str], bytes]:
    def body(base: str) -> bytes:
        items = [
            {"id": f"{version}-1", "url": f"{base}/j/{version}/1", "title": "One"},
            {"id": f"{version}-2", "title": "Guid only", "content_text": "text"},
        ]
        return json.dumps({"version": version, "title": "J", "items": items}).encode()

    return body


def check_json_feed(seen: Seen) -> None:
    assert sorted(a.title for a in seen.articles) == ["Guid only", "One"]


def google_news(base: str) -> bytes:
    items = "".join(
        f"<item><title>{title} - {name}</title><link>{old_gnews_link(f'{base}/gn/{n}')}</link>"
        f"<guid isPermaLink='false'>gn-{n}</guid>"
        f'<source url="https://{name.lower()}.example">{name}</source></item>'
        for n, (title, name) in enumerate(
            [("Taiwan signs patent pact", "Reuters"), ("Export rules - a primer", "Focus Taiwan")]
        )
    )
    return rss(items)


def check_google_news(seen: Seen) -> None:
    got = {a.guid: (a.title, a.publisher, a.url) for a in seen.articles}
    assert got == {
        "gn-0": ("Taiwan signs patent pact", "Reuters", f"{seen.base}/gn/0"),
        "gn-1": ("Export rules - a primer", "Focus Taiwan", f"{seen.base}/gn/1"),
    }


def missing_dates(base: str) -> bytes:
    return rss(
        f"<item><title>Undated</title><link>{base}/d/1</link></item>"
        f"<item><title>Garbled</title><link>{base}/d/2</link>"
        "<pubDate>sometime last week</pubDate></item>"
    )


def check_missing_dates(seen: Seen) -> None:
    assert len(seen.articles) == 2
    for a in seen.articles:
        assert a.published_at is None and a.date_rule is None and a.fetched_at is not None


def no_identity(base: str) -> bytes:
    return rss(
        "<item><title>Nothing to hold on to</title><description>x</description></item>"
        f"<item><title>Same guid</title><link>{base}/g/1</link><guid>dup</guid></item>"
        f"<item><title>Same guid again</title><link>{base}/g/2</link><guid>dup</guid></item>"
    )


def check_no_identity(seen: Seen) -> None:
    assert [a.title for a in seen.articles] == ["Same guid"]
    assert seen.outcome["skipped"] == {"no link and no guid": 1, "duplicate: same guid": 1}


SHAPES = [
    Shape("fragments", fragments, check_fragments),
    Shape("empty-links", empty_links, check_empty_links, ATOM),
    Shape("blank-links", blank_links, check_blank_links),
    Shape("blank-atom-links", blank_atom_links, check_blank_atom_links, ATOM),
    Shape("relative-ids", relative_ids, check_relative_ids, ATOM),
    Shape("latin1-undeclared", latin1_undeclared("/br/1"), check_latin1),
    Shape("latin1-text-xml", latin1_undeclared("/br/2"), check_latin1, "text/xml"),
    Shape("declared-utf8-is-cp1252", declared_utf8_is_cp1252, check_cp1252),
    Shape("declared-latin1-is-utf8", declared_latin1_is_utf8, check_utf8_despite_declaration),
    Shape(
        "utf8-page-gb2312-meta",
        gb2312_meta_page,
        check_gb2312_page,
        source={"fetch_article": True},
        pages=gb2312_pages,
    ),
    Shape("full-width-punctuation", full_width, check_full_width),
    Shape("huge", huge, check_huge),
    Shape("json-feed-1.0", json_feed("1.0"), check_json_feed, "application/feed+json"),
    Shape("json-feed-1.1", json_feed("1.1"), check_json_feed, "application/json"),
    Shape("google-news-source", google_news, check_google_news),
    Shape("missing-dates", missing_dates, check_missing_dates),
    Shape("no-identity-and-dup-guids", no_identity, check_no_identity),
]


# ------------------------------------------------------------------------ the pass


@dataclass
class Polled:
    base: str
    urls: dict[str, str]
    outcomes: dict[str, dict[str, Any]]
    sessions: Any

    def seen(self, shape_id: str) -> Seen:
        with self.sessions() as s:
            articles = list(
                s.scalars(
                    select(Article)
                    .where(Article.source_id == shape_id, ~Article.url.like("%/seed/%"))
                    .order_by(Article.id)
                )
            )
            source = s.get(Source, shape_id)
        assert source is not None
        return Seen(self.base, self.urls[shape_id], self.outcomes[shape_id], articles, source)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def polled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Polled]:
    """Seed every shape's source (baseline), then serve the shapes and poll them once."""
    from crawler.db import make_engine, session_factory
    from scheduler.migrate import upgrade

    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('shapes') / 'w.db'}", None
    else:
        admin = request.getfixturevalue("pg_server")
        name, url = _create_pg_database(admin)
        drop = (admin, name)
    engine = make_engine(url)
    upgrade(engine)
    poller = Poller(url)
    try:
        with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as server:
            base = server.host_urls()[0]
            urls: dict[str, str] = {}
            for shape in SHAPES:
                seed = rss(f"<item><title>Seed</title><link>{base}/seed/{shape.id}</link></item>")
                urls[shape.id] = server.add_static(f"/{shape.id}.feed", seed, {"Content-Type": RSS})
            sources = [{"id": s.id, "type": "rss", "url": urls[s.id], **s.source} for s in SHAPES]
            first = poller.poll(sources, FAST)
            assert all(o["status"] == "ok" and o["baseline"] for o in first.values()), first
            for shape in SHAPES:
                server.add_static(
                    f"/{shape.id}.feed", shape.body(base), {"Content-Type": shape.content_type}
                )
                for path, (page, ctype) in shape.pages(base).items():
                    server.add_static(path, page, {"Content-Type": ctype})
            outcomes = poller.poll(sources, FAST)
            yield Polled(base, urls, outcomes, session_factory(engine))
    finally:
        poller.close()
        engine.dispose()
        if drop:
            _drop_pg_database(*drop)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_feed_shape(polled: Polled, shape: Shape) -> None:
    seen = polled.seen(shape.id)
    outcome = seen.outcome
    assert outcome["status"] == "ok" and not outcome["baseline"], outcome
    # Every entry read is stored or skipped with a reason, and the source row says so.
    assert outcome["found"] == outcome["new"] + sum(outcome["skipped"].values()), outcome
    assert outcome["new"] == len(seen.articles)
    assert seen.source.last_poll_found == outcome["found"]
    assert seen.source.last_poll_new == outcome["new"]
    assert seen.source.last_poll_skipped == outcome["skipped"]
    assert all(a.matched_at is None and not a.baseline for a in seen.articles)
    shape.check(seen)
