"""RSS / Atom / RDF / JSON Feed sources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawler.collectors.base import CollectError, Collector, Page, SourceRun, content_type
from crawler.items import Entry
from crawler.middlewares import Fetch
from crawler.parse import FeedError, FeedStream, open_feed
from crawler.sources import FeedSource


class FeedCollector(Collector):
    """Parses a feed document into entries (``bozo`` problems become notes, not failures).

    The first batch of entries comes back at once; the rest of a large feed follows in
    :attr:`Page.more`, a batch at a time, so memory does not grow with the item count.
    """

    source = FeedSource

    def parse(self, response: Response, run: SourceRun, fetch: Fetch) -> Page:
        """Entries of the feed at ``response``."""
        try:
            stream = open_feed(
                response.body,
                url=response.url,
                source_id=run.config.id,
                content_type=content_type(response),
                tz=run.tz,
                language=run.config.language,
                known_guids=run.known_guids,
            )
        except FeedError as exc:
            raise CollectError(f"not a feed: {exc}") from exc
        batches = stream.batches()
        first = next(batches, [])
        return Page(entries=first, more=_rest(stream, batches), **_counts(stream))


def _rest(stream: FeedStream, batches: Iterator[list[Entry]]) -> Iterator[Page]:
    """The remaining batches, each with the notes and skips found while parsing it."""
    for batch in batches:
        yield Page(entries=batch, **_counts(stream))
    if stream.notes or stream.skipped:  # found after the last entry
        yield Page(**_counts(stream))


def _counts(stream: FeedStream) -> dict[str, Any]:
    """Notes and skips found so far, taken out of the stream so each is reported once."""
    notes = [f"feed problem: {note}" for note in dict.fromkeys(stream.notes)]
    skipped = dict(stream.skipped)
    stream.notes.clear()
    stream.skipped.clear()
    return {"notes": notes, "skipped": skipped}
