"""Compressed responses reach the spider as Scrapy would make them, without the charset
detection Scrapy runs on the compressed bytes (crawler.middlewares.PlainBeforeInflateMiddleware)."""

from __future__ import annotations

import gzip

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import HtmlResponse, Response, XmlResponse
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.crawl_settings import CrawlSettings
from crawler.middlewares import PlainBeforeInflateMiddleware
from crawler.scrapy_settings import scrapy_settings

FEED = '<?xml version="1.0"?><rss version="2.0"><channel><title>Café</title></channel></rss>'
PAGE = "<html><head><title>Caf\xe9</title></head><body><p>Cr\xe8me br\xfbl\xe9e</p></body></html>"


def _compressed(cls: type[Response], body: bytes, content_type: bytes) -> Response:
    headers = {"Content-Encoding": "gzip", "Content-Type": content_type}
    return cls(url="http://example.org/x", body=gzip.compress(body), headers=headers)


CASES = {
    "feed, no charset": (XmlResponse, FEED.encode("utf-8"), b"application/rss+xml"),
    "page, windows-1252, no charset": (HtmlResponse, PAGE.encode("cp1252"), b"text/html"),
    "page, declared charset": (HtmlResponse, PAGE.encode("latin-1"), b"text/html; charset=latin-1"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_an_inflated_response_is_what_scrapy_makes_without_detecting_twice(case: str) -> None:
    cls, body, content_type = CASES[case]
    request = Request("http://example.org/x")
    ours = _compressed(cls, body, content_type)
    theirs = _compressed(cls, body, content_type)
    inflate = HttpCompressionMiddleware.from_crawler(get_crawler())

    got = inflate.process_response(
        request, PlainBeforeInflateMiddleware().process_response(request, ours)
    )
    expected = inflate.process_response(request, theirs)

    assert ours._cached_benc is None  # nothing was detected in the compressed bytes
    assert type(got) is type(expected)
    assert got.body == expected.body == body
    assert got.headers == expected.headers
    assert (got.url, got.status, got.flags) == (expected.url, expected.status, expected.flags)
    assert got.encoding == expected.encoding
    assert got.text == expected.text


def test_plain_and_uncompressed_responses_pass_through_unchanged() -> None:
    request = Request("http://example.org/x")
    middleware = PlainBeforeInflateMiddleware()
    text = XmlResponse(url="http://example.org/x", body=FEED.encode(), headers={})
    plain = Response(url="http://example.org/x", body=b"x", headers={"Content-Encoding": "gzip"})
    assert middleware.process_response(request, text) is text
    assert middleware.process_response(request, plain) is plain


def test_a_crawl_sees_compressed_responses_before_scrapy_inflates_them() -> None:
    """process_response runs from the highest order down: ours must come first."""
    settings = Settings(scrapy_settings(CrawlSettings()))
    order = settings.getwithbase("DOWNLOADER_MIDDLEWARES")
    inflate = order["scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware"]
    assert order["crawler.middlewares.PlainBeforeInflateMiddleware"] > inflate
