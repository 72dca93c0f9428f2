"""robots.txt kept across collection passes, so a daemon asks each host once a day."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response
from scrapy.http.request import Request

DEFAULT_TTL = 24 * 3600.0  # RFC 9309 §2.4: caching longer than 24 hours is discouraged


class CachedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with parsers shared by every crawl of this process.

    Scrapy keeps parsers per crawl, and wirewatch starts a crawl per pass, so without this a
    daemon re-fetched every host's robots.txt on every poll. Parsers come from answered
    robots.txt requests (2xx or 4xx); server errors and network failures are not cached, so
    the next pass asks again. ``WIREWATCH_ROBOTSTXT_TTL`` (seconds) bounds the age.
    """

    # Process-wide on purpose: crawls come and go, the cache outlives them.
    _shared: ClassVar[dict[str, tuple[float, Any]]] = {}

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._ttl = crawler.settings.getfloat("WIREWATCH_ROBOTSTXT_TTL", DEFAULT_TTL)
        now = time.monotonic()
        for netloc, (expires, parser) in list(self._shared.items()):
            if expires > now:
                self._parsers[netloc] = parser
            else:
                del self._shared[netloc]

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        await super()._parse_robots(response, netloc, request)
        parser = self._parsers.get(netloc)
        if self._ttl > 0 and parser is not None and response.status < 500:
            self._shared[netloc] = (time.monotonic() + self._ttl, parser)

    @classmethod
    def forget(cls) -> None:
        """Drop every cached parser (tests, or an operator's reload)."""
        cls._shared.clear()
