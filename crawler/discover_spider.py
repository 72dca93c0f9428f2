"""The discovery crawl behind ``wirewatch sources discover`` (rules in :mod:`crawler.discover`).

One crawl with the settings of a poll pass (User-Agent, robots.txt, timeouts, size cap; no
storage): the URL, the site's home page when the URL is deeper, and the site's robots.txt
are fetched together; every feed link found is fetched once; common paths are tried only
after both pages answered without a feed link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import Request
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.collectors.base import content_type
from crawler.crawl_settings import CrawlSettings
from crawler.discover import (
    MAX_CANDIDATES,
    Discovery,
    common_paths,
    feed_links,
    identify,
    robots_sitemaps,
    site_root,
)
from crawler.scrapy_settings import scrapy_settings
from crawler.spider import describe_failure


class DiscoverSpider(scrapy.Spider):
    """Fills ``result`` (a :class:`Discovery`) for ``url``."""

    name = "wirewatch-discover"

    def __init__(self, url: str, result: Discovery, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = url
        self.result = result
        # url -> its place in the documented order (page, its feed links, common paths,
        # robots.txt sitemaps), not the order responses happen to arrive in
        self.order: dict[str, tuple[int, ...]] = {}
        self.pages_left = 0
        self.links_found = False

    async def start(self) -> AsyncIterator[Request]:
        """The URL, the home page (for an article URL) and robots.txt."""
        root = site_root(self.url)
        parts = urlsplit(self.url)
        pages = [self.url] if parts.path in ("", "/") and not parts.query else [self.url, root]
        self.pages_left = len(pages)
        for i, page in enumerate(pages):
            yield Request(
                page,
                callback=self.on_page,
                errback=self.on_page_error,
                cb_kwargs={"given": i == 0},
                dont_filter=True,
            )
        yield Request(root + "robots.txt", callback=self.on_robots, errback=self.on_quiet_error)

    def on_page(self, response: Response, given: bool) -> Iterator[Request]:
        """The given page or the home page: a feed itself, or HTML naming feeds."""
        page = 0 if given else 1
        self._track(response.url, (0, page))
        found = identify(response.body, response.url, content_type(response))
        if found is not None:
            self.links_found = True  # the page is a feed: no guessing needed
            self._add(found)
        elif isinstance(response, TextResponse):
            links = feed_links(response.text, response.url)
            self.links_found |= bool(links)
            yield from self._candidates(links, (1, page))
        yield from self._page_done()

    def on_page_error(self, failure: Failure) -> Iterator[Request]:
        """A page failed: say why when it was the URL given."""
        request: Request = failure.request  # type: ignore[attr-defined]
        message = describe_failure(failure, self.settings)[0]
        if request.cb_kwargs.get("given"):
            self.result.errors.append(f"{request.url}: {message}")
        yield from self._page_done()

    def on_robots(self, response: Response) -> Iterator[Request]:
        """robots.txt: its Sitemap lines are candidates."""
        if response.status == 200 and isinstance(response, TextResponse):
            yield from self._candidates(robots_sitemaps(response.text, response.url), (3,))

    def on_candidate(self, response: Response) -> None:
        """A candidate fetched: keep it when it parses as a feed or a sitemap."""
        found = identify(response.body, response.url, content_type(response))
        if found is not None:
            self._add(found)

    def on_quiet_error(self, failure: Failure) -> None:
        """A candidate or robots.txt failed: a guess that missed, nothing to report."""

    def _page_done(self) -> Iterator[Request]:
        self.pages_left -= 1
        if self.pages_left == 0 and not self.links_found:
            yield from self._candidates(common_paths(self.url), (2,))

    def _candidates(self, urls: list[str], rank: tuple[int, ...]) -> Iterator[Request]:
        for i, url in enumerate(urls):
            if url in self.order or len(self.result.tried) >= MAX_CANDIDATES:
                continue
            self._track(url, (*rank, i))
            self.result.tried.append(url)
            yield Request(url, callback=self.on_candidate, errback=self.on_quiet_error)

    def _track(self, url: str, rank: tuple[int, ...]) -> None:
        self.order.setdefault(url, rank)

    def _add(self, found: Any) -> None:
        if all(f.url != found.url for f in self.result.found):
            self.result.found.append(found)
            self.result.found.sort(key=lambda f: self.order.get(f.url, (9,)))


async def crawl_discovery(url: str, crawl: CrawlSettings, overrides: dict[str, Any]) -> Discovery:
    """Run one discovery crawl for ``url`` in the running reactor."""
    from scrapy.crawler import AsyncCrawlerRunner

    result = Discovery(url)
    settings = scrapy_settings(crawl, ITEM_PIPELINES={}, **overrides)
    await AsyncCrawlerRunner(settings).crawl(DiscoverSpider, url=url, result=result)
    return result
