"""Downloader middleware for source fetches: conditional GET and permanent-redirect tracking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.http import Response

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

META_KEY = "wirewatch"
PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass
class Fetch:
    """Per-request bookkeeping, kept in ``request.meta[META_KEY]`` (shared across redirects).

    ``role`` is index, page (follow-up of a collector), article or resolve. ``origin`` is
    the source's configured URL (the link policy of :mod:`crawler.netpolicy` compares with
    it). ``etag``/``last_modified`` are the stored validators to send (index requests only);
    the middleware fills ``new_etag``/``new_last_modified`` from the response and
    ``moved_to`` when the chain started with permanent redirects.
    """

    source_id: str
    role: str = "index"
    depth: int = 0
    etag: str | None = None
    last_modified: str | None = None
    new_etag: str | None = None
    new_last_modified: str | None = None
    moved_to: str | None = None
    origin: str | None = None


def fetch_of(request: Request) -> Fetch | None:
    """The :class:`Fetch` of a request, if it belongs to a source."""
    value = request.meta.get(META_KEY)
    return value if isinstance(value, Fetch) else None


def permanent_target(request: Request) -> str | None:
    """The URL reached by the leading run of 301/308 hops, or None without one.

    ``A -301-> B -302-> C`` gives ``B``: only a permanent move may replace the stored URL.
    """
    urls = [*request.meta.get("redirect_urls", ()), request.url]
    reasons = request.meta.get("redirect_reasons", ())
    target = None
    for hop, reason in enumerate(reasons):
        if reason not in PERMANENT_REDIRECTS:
            break
        target = urls[hop + 1]
    return target


class ConditionalGetMiddleware:
    """Sends stored validators (If-None-Match / If-Modified-Since) and records new ones.

    A 304 reaches the spider callback (the request lists it in ``handle_httpstatus_list``)
    and means: nothing to parse. Redirect hops are recorded by Scrapy's RedirectMiddleware
    in ``redirect_urls``/``redirect_reasons``; this middleware turns them into ``moved_to``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        """Build the middleware for ``crawler``."""
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        """Add the validators of an index request."""
        fetch = fetch_of(request)
        if fetch is None or fetch.role != "index":
            return
        if fetch.etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = fetch.etag
        if fetch.last_modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = fetch.last_modified

    def process_response(self, request: Request, response: Response) -> Response:
        """Record validators and a permanent move from a successful (or 304) response."""
        fetch = fetch_of(request)
        if fetch is None or not (200 <= response.status < 300 or response.status == 304):
            return response
        fetch.new_etag = _header(response, b"ETag")
        fetch.new_last_modified = _header(response, b"Last-Modified")
        fetch.moved_to = permanent_target(request)
        return response


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    if not value:
        return None
    text = value.decode("latin-1").strip()
    return text[:500] or None


class PlainBeforeInflateMiddleware:
    """Hands a compressed response to Scrapy's HttpCompressionMiddleware as a plain
    :class:`~scrapy.http.Response`.

    That middleware makes the inflated response with ``response.replace``, which reads every
    attribute of the compressed one first, ``encoding`` too: for a text response without a
    declared charset that runs charset detection over the compressed bytes, to be thrown
    away. On a first pass of 1,000 gzip feeds that was 1.7 s of the crawling thread's CPU
    (benchmarks/RESULTS.md). The inflated response gets its class and encoding from its
    headers and inflated body, as before.
    """

    def process_response(self, request: Request, response: Response) -> Response:
        """The same response as a plain Response when it is compressed text."""
        if type(response) is Response or not response.headers.get(b"Content-Encoding"):
            return response
        return Response(**{name: getattr(response, name) for name in Response.attributes})
