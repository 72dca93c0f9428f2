"""Pure pieces of a pass: Scrapy settings, redirect bookkeeping, follow-up helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scrapy import Request

from crawler.crawl_settings import CrawlSettings
from crawler.extract import ExtractedArticle
from crawler.followups import google_news_target, merge_article
from crawler.items import Entry
from crawler.middlewares import permanent_target
from crawler.scrapy_settings import scrapy_settings


def test_scrapy_settings_from_crawl_settings() -> None:
    crawl = CrawlSettings(
        user_agent="ua/1",
        concurrency=8,
        per_host=1,
        delay=timedelta(seconds=2),
        timeout=timedelta(seconds=20),
        max_bytes=1 << 20,
        obey_robots=False,
        retries=3,
    )
    s = scrapy_settings(crawl, LOG_LEVEL="ERROR")
    assert s["TELNETCONSOLE_ENABLED"] is False and s["REMOTE_CONTROL_ENABLED"] is False
    assert s["USER_AGENT"] == "ua/1" and s["ROBOTSTXT_OBEY"] is False
    assert s["CONCURRENT_REQUESTS"] == 8 and s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert s["DOWNLOAD_DELAY"] == 2.0 and s["DOWNLOAD_DELAY_JITTER"] == 0.5
    assert "RANDOMIZE_DOWNLOAD_DELAY" not in s  # deprecated in 2.19
    assert s["DOWNLOAD_TIMEOUT"] == 20.0 and s["DOWNLOAD_MAXSIZE"] == 1 << 20
    assert s["RETRY_TIMES"] == 3 and not {429, 503} & set(s["RETRY_HTTP_CODES"])
    assert s["COOKIES_ENABLED"] is False and s["HTTPCACHE_ENABLED"] is False
    assert s["AUTOTHROTTLE_ENABLED"] is False and s["DOWNLOAD_VERIFY_CERTIFICATES"] is True
    assert s["LOG_LEVEL"] == "ERROR"
    assert scrapy_settings(CrawlSettings())["DOWNLOAD_DELAY_JITTER"] == 0.0


def _redirected(urls: list[str], reasons: list[int], final: str) -> Request:
    return Request(final, meta={"redirect_urls": urls, "redirect_reasons": reasons})


def test_permanent_target_only_follows_leading_permanent_hops() -> None:
    a, b, c = "http://h/a", "http://h/b", "http://h/c"
    assert permanent_target(Request(a)) is None
    assert permanent_target(_redirected([a], [301], b)) == b
    assert permanent_target(_redirected([a, b], [308, 301], c)) == c
    assert permanent_target(_redirected([a, b], [301, 302], c)) == b
    assert permanent_target(_redirected([a, b], [302, 301], c)) is None


def test_google_news_target() -> None:
    gn = "https://news.google.com/rss/articles/CBMiAU_yqL?oc=5"
    assert google_news_target("https://publisher.example/a", b"") == "https://publisher.example/a"
    page = b'<c-wiz data-n-au="https://publisher.example/story?id=1&amp;x=2"></c-wiz>'
    assert google_news_target(gn, page) == "https://publisher.example/story?id=1&x=2"
    links = b'<a href="https://www.google.com/x">g</a><a href="https://pub.example/s">s</a>'
    assert google_news_target(gn, links) == "https://pub.example/s"
    assert google_news_target(gn, b"<html>consent</html>") is None


def test_merge_article_keeps_feed_metadata_first() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    entry = Entry("s", "http://h/a", title="Feed title", summary="short", date_rule=None)
    article = ExtractedArticle(
        title="Page title",
        text="Full text.",
        author="Lin",
        published_at=when,
        language="zh",
        date_rule="json-ld",
    )
    merged = merge_article(entry, article)
    assert merged.title == "Feed title" and merged.body == "Full text."
    assert merged.author == "Lin" and merged.published_at == when
    assert merged.date_rule == "json-ld" and merged.summary == "short"
    assert merge_article(entry, None) is entry
