"""Listing pages, sitemaps and full-text article fetches through a real pass."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from benchmarks.newsserver import NewsServer
from crawler.models import Article
from tests.crawler.conftest import FAST, feed

LISTING = {"list": "article.story", "link": "h2 a", "date": "time"}


def _articles(sessions: Any, source_id: str) -> list[Article]:
    with sessions() as s:
        return list(s.scalars(select(Article).where(Article.source_id == source_id)))


def test_listing_source_with_headers_tags_and_language(
    sqlite_db: Any, server: NewsServer, poller_factory: Any
) -> None:
    url, sessions = sqlite_db
    listing = server.listing_urls()[0]
    source = {
        "id": "gov-list",
        "type": "html",
        "url": listing,
        "selectors": LISTING,
        "headers": {"X-Wirewatch-Test": "yes"},
        "tags": ["official", "tw"],
        "language": "xx",
        "timezone": "Asia/Taipei",
    }
    outcome = poller_factory(url).poll([source], FAST)["gov-list"]
    assert outcome["status"] == "ok" and outcome["new"] == 5
    (request,) = server.requests(listing)
    assert request.headers["x-wirewatch-test"] == "yes"
    stored = _articles(sessions, "gov-list")
    titles = {i.title for i in server.items(server.feed_ids()[0])}
    assert {a.title for a in stored} == titles
    assert all(a.published_at is not None and a.date_rule for a in stored)
    assert all(a.tags[:2] == ["official", "tw"] and a.language == "xx" for a in stored)


def test_listing_pages_stop_at_known_items(
    sqlite_db: Any, server: NewsServer, poller_factory: Any
) -> None:
    url, sessions = sqlite_db

    def page(items: range, next_href: str | None) -> bytes:
        rows = "".join(
            f'<article class="story"><h2><a href="/n/{i}.html">Notice {i}</a></h2>'
            f'<time datetime="2026-03-{i:02d}">2026-03-{i:02d}</time></article>'
            for i in items
        )
        nxt = f'<a class="next" href="{next_href}">next</a>' if next_href else ""
        return f"<html><body><main>{rows}</main>{nxt}</body></html>".encode()

    html = {"Content-Type": "text/html; charset=utf-8"}
    first = server.add_static("/list/1", page(range(1, 4), "/list/2"), html, host=1)
    second = server.add_static("/list/2", page(range(4, 7), "/list/3"), html, host=1)
    third = server.add_static("/list/3", page(range(7, 10), None), html, host=1)
    source = {
        "id": "paged",
        "type": "html",
        "url": first,
        "selectors": {**LISTING, "next_page": "a.next"},
        "max_pages": 2,
    }
    poller = poller_factory(url)
    outcome = poller.poll([source], FAST)["paged"]
    assert outcome["status"] == "ok" and outcome["new"] == 6
    assert server.request_count(second) == 1 and server.request_count(third) == 0
    assert len(_articles(sessions, "paged")) == 6

    # Nothing new on page 1: page 2 is not fetched again.
    outcome = poller.poll([source], FAST)["paged"]
    assert outcome["status"] == "ok" and outcome["new"] == 0 and outcome["duplicates"] == 3
    assert server.request_count(second) == 1


def test_sitemap_source(sqlite_db: Any, server: NewsServer, poller_factory: Any) -> None:
    url, sessions = sqlite_db
    source = {
        "id": "map",
        "type": "sitemap",
        "url": server.sitemap_urls()[0],
        "link_pattern": r"/news/\d+/",
        "max_urls": 7,
    }
    outcome = poller_factory(url).poll([source], FAST)["map"]
    assert outcome["status"] == "ok" and outcome["new"] == 7
    assert all("/news/" in a.url for a in _articles(sessions, "map"))


def test_fetch_article_adds_full_text_for_new_items_only(
    sqlite_db: Any, server: NewsServer, poller_factory: Any
) -> None:
    url, sessions = sqlite_db
    feed_id = server.feed_ids()[0]
    source = feed("full", server.feed_urls()[0], fetch_article=True)
    poller = poller_factory(url)
    baseline = poller.poll([source], FAST)["full"]
    assert baseline["status"] == "ok" and baseline["baseline"]
    # History is stored silently, without fetching every article page.
    assert all(server.request_count(i.url) == 0 for i in server.items(feed_id))

    item = server.publish(
        feed_id,
        "Customs rules on origin of solar modules",
        summary="Short summary.",
        body="First paragraph of the ruling text.\n\nSecond paragraph with the details.",
    )
    outcome = poller.poll([source], FAST)["full"]
    assert outcome["new"] == 1
    assert server.request_count(item.url) == 1
    (article,) = [a for a in _articles(sessions, "full") if not a.baseline]
    assert "Second paragraph with the details" in article.body
