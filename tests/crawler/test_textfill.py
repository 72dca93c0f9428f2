"""Stored articles without text get it on later passes: bounded, newest first, never alerted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from benchmarks.newsserver import Fault, NewsServer
from crawler.collect import ARTICLES_PER_SOURCE
from crawler.models import Article, Story
from crawler.textfill import MAX_TEXT_ATTEMPTS
from tests.crawler.conftest import FAST

XML = {"Content-Type": "application/xml", "ETag": '"v1"'}


def _plain_sitemap(urls: list[str]) -> bytes:
    """A plain sitemap, as most government sites publish: URLs and dates, no titles."""
    rows = "".join(
        f"<url><loc>{u}</loc><lastmod>2026-03-0{1 + i % 9}</lastmod></url>"
        for i, u in enumerate(urls)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'
    ).encode()


def _articles(sessions: Any) -> list[Article]:
    with sessions() as s:
        return list(s.scalars(select(Article).order_by(Article.id)))


def test_baseline_sitemap_urls_get_their_text_on_later_passes(
    sqlite_db: Any, poller_factory: Any
) -> None:
    url, sessions = sqlite_db
    with NewsServer(hosts=1, feeds_per_host=2, items_per_feed=14) as srv:
        items = [i for f in srv.feed_ids() for i in srv.items(f)]
        assert len(items) > ARTICLES_PER_SOURCE
        sitemap = srv.add_static("/plain-sitemap.xml", _plain_sitemap([i.url for i in items]), XML)
        source = {"id": "map", "type": "sitemap", "url": sitemap, "fetch_article": True}
        poller = poller_factory(url)

        first = poller.poll([source], FAST)["map"]
        assert first["status"] == "ok" and first["baseline"] and first["new"] == len(items)
        stored = _articles(sessions)
        assert all(a.body == "" and a.title == "" for a in stored)
        assert srv.request_count() == 1 + 1  # robots.txt and the sitemap: no article pages
        matched = {a.id: a.matched_at for a in stored}

        # The sitemap answers 304 now; the pass still fills a bounded number, newest first.
        second = poller.poll([source], FAST)["map"]
        assert second["status"] == "not_modified"
        filled = [a for a in _articles(sessions) if a.body]
        assert len(filled) == ARTICLES_PER_SOURCE
        assert {a.id for a in filled} == {a.id for a in stored[-ARTICLES_PER_SOURCE:]}

        poller.poll([source], FAST)
        after = _articles(sessions)
        by_url = {i.url: i for i in items}
        for article in after:
            item = by_url[article.url]
            assert item.body.split("\n\n")[-1] in article.body
            assert article.title == item.title and article.published_at is not None
            # archive material for backtest and catch-up, never a new alert
            assert article.baseline and article.matched_at == matched[article.id]
            assert article.minhash is not None and article.content_hash
        with sessions() as s:
            assert all(st.title for st in s.scalars(select(Story)))

        # Everything has its text: no further article fetches.
        srv.reset_requests()
        poller.poll([source], FAST)
        assert not [r for r in srv.requests() if "/plain-sitemap.xml" not in r.path]


def test_a_page_that_never_gives_text_is_given_up_after_a_few_passes(
    sqlite_db: Any, poller_factory: Any
) -> None:
    url, sessions = sqlite_db
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=3) as srv:
        items = srv.items(srv.feed_ids()[0])
        broken = items[0].url
        srv.set_fault(broken, Fault("status", status=404))
        sitemap = srv.add_static("/plain-sitemap.xml", _plain_sitemap([i.url for i in items]), XML)
        source = {"id": "map", "type": "sitemap", "url": sitemap, "fetch_article": True}
        poller = poller_factory(url)
        for _ in range(MAX_TEXT_ATTEMPTS + 2):
            outcome = poller.poll([source], FAST)["map"]
            assert outcome["status"] in ("ok", "not_modified")
        assert srv.request_count(broken) == MAX_TEXT_ATTEMPTS
        by_url = {a.url: a for a in _articles(sessions)}
        assert by_url[broken].body == "" and by_url[broken].text_attempts == MAX_TEXT_ATTEMPTS
        assert all(a.body for u, a in by_url.items() if u != broken)
