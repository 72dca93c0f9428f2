"""Hostile HTML pages and listings (see README.md): one table per family, one test each.

- listing pages polled through a real pass (loopback server, child-process poller): what
  fails the poll, with which message in the source's ``last_error``, and what does not;
- article pages given to the extractor: lying dates, script-only pages, enormous pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from benchmarks.newsserver import NewsServer
from crawler.extract import MAX_HTML_BYTES, extract_article
from crawler.models import Source
from tests.cli import wirewatch
from tests.crawler.conftest import FAST

HTML = {"Content-Type": "text/html; charset=utf-8"}
PARA = (
    "<p>The customs agency said on Tuesday that new rules of origin for solar modules take "
    "effect next month, after a consultation with importers and trade associations.</p>"
)


def _listing(rows: str) -> bytes:
    return f"<html><head><title>News</title></head><body><main>{rows}</main></body></html>".encode()


NEWS_ROWS = "".join(
    f'<li class="news"><a href="/news/{i}.html">Notice {i} on tariff rulings</a> 2026-03-0{i}</li>'
    for i in range(1, 4)
)


@dataclass(frozen=True)
class ListingCase:
    name: str
    page: bytes
    selectors: dict[str, str]
    error: str | None  # None: the poll succeeds (every pass)
    link_pattern: str | None = None
    polls: int = 1


LISTING_CASES = [
    ListingCase(
        "selectors match nothing (the site changed its markup)",
        _listing(NEWS_ROWS.replace('class="news"', 'class="item"')),
        {"list": "li.news"},
        "selector 'li.news' matched 0 items",
    ),
    ListingCase(
        "script-only page (items rendered by JavaScript)",
        b'<html><body><div id="app"></div><script>render([{"t": "Notice 1"}])</script>'
        b"<noscript><li class='news'>Enable JavaScript</li></noscript></body></html>",
        {"list": "main li.news"},
        "selector 'main li.news' matched 0 items",
    ),
    ListingCase(
        "items without links",
        _listing('<li class="news">Notice 1</li><li class="news">Notice 2</li>'),
        {"list": "li.news"},
        "selector 'li.news' matched 2 items but none had a link",
    ),
    ListingCase(
        "link_pattern that keeps nothing",
        _listing(NEWS_ROWS),
        {"list": "li.news"},
        "selector 'li.news' matched 3 items; link_pattern '/press/' kept none of their 3 links",
        link_pattern="/press/",
    ),
    ListingCase(
        "enormous page (over crawl.max_bytes)",
        _listing(NEWS_ROWS + "<p>" + "x" * 300_000 + "</p>"),
        {"list": "li.news"},
        "exceeds max_bytes",
    ),
    ListingCase(
        "every item already known (second poll): a quiet success, not an empty page",
        _listing(NEWS_ROWS),
        {"list": "li.news"},
        None,
        polls=2,
    ),
]


@pytest.mark.parametrize("case", LISTING_CASES, ids=lambda c: c.name)
def test_hostile_listing_pages(case: ListingCase, sqlite_db: Any, poller_factory: Any) -> None:
    url, sessions = sqlite_db
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
        page = srv.add_static("/list.html", case.page, HTML)
        source: dict[str, Any] = {"id": "list", "type": "html", "url": page}
        source |= {"selectors": case.selectors, "link_pattern": case.link_pattern}
        poller = poller_factory(url)
        crawl = {**FAST, "max_bytes": 256 * 1024}
        outcomes = [poller.poll([source], crawl)["list"] for _ in range(case.polls)]
    last = outcomes[-1]
    with sessions() as s:
        row = s.scalars(select(Source).where(Source.id == "list")).one()
    if case.error is None:
        assert all(o["status"] == "ok" for o in outcomes), outcomes
        assert last["new"] == 0 and last["duplicates"] == 3
        assert row.consecutive_failures == 0
    else:
        assert last["status"] == "failed" and case.error in last["error"], last
        # a failed poll: in `wirewatch sources` and counted toward admin notices
        assert row.consecutive_failures == 1 and case.error in (row.last_error or "")


def test_empty_listing_shows_in_wirewatch_sources(tmp_path: Path) -> None:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
        page = srv.add_static("/list.html", _listing("<p>Redesigned</p>"), HTML)
        root = tmp_path / "config"
        (root / "watchlists").mkdir(parents=True)
        (root / "wirewatch.yaml").write_text(
            f"database_url: sqlite:///{tmp_path / 'ww.db'}\ncrawl: {{timeout: 5s, retries: 0}}\n"
        )
        (root / "sources.yaml").write_text(
            f"sources:\n  - {{id: moea, type: html, url: '{page}', selectors: {{list: li.news}}}}\n"
        )
        polled, health = wirewatch(root, "poll"), wirewatch(root, "sources")
    assert "1 failed" in polled.stdout, polled.stdout + polled.stderr
    (line,) = [ln for ln in health.stdout.splitlines() if "moea" in ln]
    assert "degraded" in line and "selector 'li.news' matched 0 items" in line


@dataclass(frozen=True)
class ArticleCase:
    name: str
    html: bytes
    text: str | None  # a snippet of the expected text; None: no article
    published: datetime | None = None


ARTICLE_CASES = [
    ArticleCase(
        "meta date in the future and at the epoch: the <time> below the headline wins",
        (
            '<html><head><meta property="article:published_time" content="2099-01-01T00:00:00Z">'
            '<meta name="date" content="1970-01-01"></head><body><article><h1>Origin rules</h1>'
            f'<time datetime="2026-03-10T08:00:00Z">10 March</time>{PARA * 3}'
            "</article></body></html>"
        ).encode(),
        "rules of origin for solar modules",
        datetime(2026, 3, 10, 8, tzinfo=UTC),
    ),
    ArticleCase(
        "script-only page: no text, no article (the feed's own text is kept)",
        b'<html><body><div id="root"></div><script>window.__DATA__ = {"body": "'
        + b"Customs rules " * 500
        + b'"}</script></body></html>',
        None,
    ),
    ArticleCase(
        "enormous page: cut at MAX_HTML_BYTES, the article before the cut survives",
        f"<html><body><article><h1>Origin rules</h1>{PARA * 3}</article>".encode()
        + b"<div>"
        + b"<span>filler</span>" * (MAX_HTML_BYTES // 16)
        + b"</div></body></html>",
        "rules of origin for solar modules",
    ),
    ArticleCase(
        "a date only inside a script: ignored",
        (
            "<html><body><script>var published = '2026-03-01';</script><article><h1>Rules</h1>"
            f"{PARA * 3}</article></body></html>"
        ).encode(),
        "rules of origin",
        None,
    ),
]


@pytest.mark.parametrize("case", ARTICLE_CASES, ids=lambda c: c.name)
def test_hostile_article_pages(case: ArticleCase) -> None:
    article = extract_article(case.html, url="https://customs.example/news/1")
    if case.text is None:
        assert article is None
        return
    assert article is not None and case.text in article.text
    assert article.published_at == case.published
