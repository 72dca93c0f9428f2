"""RSS / Atom / RDF / JSON Feed sources."""

from __future__ import annotations

from scrapy.http import Response

from crawler.middlewares import Fetch
from crawler.parse import FeedError, parse_feed
from crawler.spiders.base import CollectError, Collector, Page, SourceRun, content_type


class FeedCollector(Collector):
    """Parses a feed document into entries (``bozo`` problems become notes, not failures)."""

    types = ("rss", "atom")

    def parse(self, response: Response, run: SourceRun, fetch: Fetch) -> Page:
        """Entries of the feed at ``response``."""
        try:
            result = parse_feed(
                response.body,
                url=response.url,
                source_id=run.config.id,
                content_type=content_type(response),
                tz=run.tz,
                language=run.config.language,
            )
        except FeedError as exc:
            raise CollectError(f"not a feed: {exc}") from exc
        notes = [f"feed problem: {result.bozo}"] if result.bozo else []
        return Page(entries=result.entries, notes=notes)
