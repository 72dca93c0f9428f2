"""Sitemaps, sitemap indexes and Google News sitemaps (``type: sitemap``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from scrapy.http import Response

from crawler.collectors.base import CollectError, Collector, Page, SourceRun
from crawler.items import Entry
from crawler.middlewares import Fetch
from crawler.parse import parse_sitemap
from crawler.sources import SitemapSource

MAX_CHILD_SITEMAPS = 10
MAX_DEPTH = 2
_OLDEST = datetime.min.replace(tzinfo=UTC)


class SitemapCollector(Collector):
    """URLs of a sitemap (newest first, filtered by ``link_pattern``, at most ``max_urls``)."""

    source = SitemapSource

    def parse(self, response: Response, run: SourceRun, fetch: Fetch) -> Page:
        """Entries of one sitemap and the child sitemaps of an index."""
        cfg: SitemapSource = self.config(run)
        result = parse_sitemap(response.body, url=response.url, source_id=cfg.id, tz=run.tz)
        if not result.entries and not result.sitemaps and fetch.role == "index":
            raise CollectError(f"not a sitemap: {result.bozo or 'no URLs found'}")
        entries = _select(result.entries, cfg.link_pattern, cfg.max_urls)
        follow = result.sitemaps[:MAX_CHILD_SITEMAPS] if fetch.depth < MAX_DEPTH else []
        notes = [f"sitemap problem: {result.bozo}"] if result.bozo else []
        return Page(entries=entries, follow=follow, notes=notes)


def _select(entries: list[Entry], pattern: str | None, limit: int) -> list[Entry]:
    if pattern:
        rx = re.compile(pattern)
        entries = [e for e in entries if rx.search(e.url)]
    entries = sorted(entries, key=lambda e: e.published_at or _OLDEST, reverse=True)
    return entries[:limit]
