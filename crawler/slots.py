"""Scrapy's downloader with per-host slots that hold their concurrency limit.

Scrapy (2.19, asyncio reactor) takes a request off a slot's queue and starts its download
as a new asyncio task; the request joins ``slot.transferring`` only once that task runs.
Until then the slot still looks free, so a burst of requests to one host all leave the
queue at once and ``CONCURRENT_REQUESTS_PER_DOMAIN`` (``crawl.per_host``) is not enforced:
50 feeds on one host with ``per_host: 1`` were fetched with 15 requests in flight.

:class:`PoliteDownloader` marks the request as transferring when it leaves the queue, in
the same call, so the next look at the slot sees it. Scrapy's own ``_download`` adds it to
the set again (a no-op) and removes it when the response arrives, as before.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from twisted.internet.defer import Deferred


class PoliteDownloader(Downloader):
    """A downloader whose slots never have more than ``concurrency`` requests in flight."""

    def _wait_for_download(  # type: ignore[override]
        self, slot: Slot, request: Request, queue_dfd: Deferred[Any]
    ) -> Coroutine[Any, Any, None]:
        # Called (not awaited) by _process_queue while it decides how many to start: the
        # reservation must be visible before the download task first runs.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
