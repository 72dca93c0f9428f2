"""RSS / Atom / RDF / JSON Feed sources."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from scrapy.http import Response

from crawler.collectors.base import CollectError, Collector, Page, SourceRun, content_type
from crawler.feed_job import read_for_storage
from crawler.middlewares import Fetch
from crawler.parse import FeedError, FeedPart, feed_parts, open_feed
from crawler.parse_pool import POOLED_MAX_BYTES, ParsePool, PoolUnavailable
from crawler.sources import FeedSource


class FeedCollector(Collector):
    """Parses a feed document into entries (``bozo`` problems become notes, not failures).

    The first batch of entries comes back at once; the rest of a large feed follows in
    :attr:`Page.more`, a batch at a time, so memory does not grow with the item count.
    With a parse pool, a feed of up to :data:`POOLED_MAX_BYTES` is parsed in a parser
    process instead, with the same result.
    """

    source = FeedSource

    def parse(self, response: Response, run: SourceRun, fetch: Fetch) -> Page:
        """Entries of the feed at ``response``."""
        return self.parse_with(None, response, run, fetch)

    def pooled(self, response: Response) -> bool:
        """A feed of up to ``POOLED_MAX_BYTES``; a gzip body could inflate to a large one."""
        body = response.body
        return len(body) <= POOLED_MAX_BYTES and body[:2] != b"\x1f\x8b"

    def parse_with(
        self, pool: ParsePool | None, response: Response, run: SourceRun, fetch: Fetch
    ) -> Page:
        """Entries of the feed at ``response``, parsed by ``pool`` when it takes the body."""
        body = response.body
        args: dict[str, Any] = {
            "url": response.url,
            "source_id": run.config.id,
            "content_type": content_type(response),
            "tz": run.tz,
            "language": run.config.language,
        }
        try:
            parts: Iterator[FeedPart] | None = None
            if pool is not None and self.pooled(response):
                with contextlib.suppress(PoolUnavailable):  # then parsed here
                    tags = tuple(run.config.tags)
                    done = pool.call(
                        read_for_storage, body, tags=tags, callback=run.known_guids, **args
                    )
                    parts = iter(done)
            if parts is None:
                parts = feed_parts(open_feed(body, known_guids=run.known_guids, **args))
            first = next(parts)
        except FeedError as exc:
            raise CollectError(f"not a feed: {exc}") from exc
        return _page(first, more=_pages(parts))


def _pages(parts: Iterable[FeedPart]) -> Iterator[Page]:
    for part in parts:
        yield _page(part)


def _page(part: FeedPart, more: Iterator[Page] | None = None) -> Page:
    notes = [f"feed problem: {note}" for note in part.notes]
    return Page(
        entries=part.entries,
        notes=notes,
        skipped=part.skipped,
        more=more,
        normalized=part.normalized,
    )
