"""The link policy (:mod:`crawler.netpolicy`) applied to every request of a crawl.

Protocol: every request of a source carries the source's configured URL (``Fetch.origin``).
:class:`LinkPolicyMiddleware` runs first among the downloader middlewares, so it sees each
request before anything is sent for it (robots.txt included), and each redirect hop too:
Scrapy sends a hop as a new request through the whole chain. A refused request fails with
:class:`RefusedHop` (an ``IgnoreRequest``), which the spider records on the source. That
covers every follow-up alike: redirects, next listing pages, child sitemaps, article pages,
Google News lookups, and robots.txt requests (judged against the URL that asked for them).
A URL that is not http(s) is refused outright.

What resolves to what: the host is resolved by the resolver the download itself connects
through, so every spelling of an address is judged by where it leads: ``2130706433``,
``0177.0.0.1``, ``0x7f.1``, ``0``, ``localhost``, a name whose DNS answer is ``10.0.0.5``,
``[::1]``, ``[::ffff:127.0.0.1]`` (IPv4-mapped), 6to4, Teredo and NAT64 forms (judged by the
IPv4 address they carry). ``0.0.0.0`` and ``::`` reach the local host and are refused.

Window: :class:`PinnedResolver` (installed on the reactor once per process) keeps each name's
answer for ``PIN_SECONDS`` after its last use, so the check and the connection that follows
see the same addresses: a DNS answer cannot switch to a private address in between (DNS
rebinding) unless the request waits longer than that in the downloader's queue.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attr
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHostnameResolver, IHostResolution, IResolutionReceiver
from zope.interface import implementer

from crawler.middlewares import fetch_of
from crawler.netpolicy import IPAddress, LinkPolicy, origin_of

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ALLOW_SETTING = "WIREWATCH_ALLOW_PRIVATE"
PIN_SECONDS = 600.0


class RefusedHop(IgnoreRequest):
    """A fetch the link policy refused; ``str()`` says which, why, and how to allow it."""


def describe(request: Request, reason: str) -> str:
    """The one-line error of a refused request: which hop, and why."""
    chain = request.meta.get("redirect_urls") or []
    fetch = fetch_of(request)
    if chain:
        what = f"redirect from {chain[-1]} to {request.url}"
    elif fetch is not None and fetch.role != "index":
        what = f"link to {request.url}"
    else:
        what = f"fetch of {request.url}"
    return f"refused {what}: {reason}"


class LinkPolicyMiddleware:
    """Downloader middleware applying :class:`LinkPolicy` to every request (see module doc)."""

    def __init__(self, policy: LinkPolicy, reactor: Any) -> None:
        self.policy = policy
        self.reactor = reactor

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LinkPolicyMiddleware:
        """Build it from ``WIREWATCH_ALLOW_PRIVATE`` and pin the reactor's name answers."""
        from twisted.internet import reactor

        PinnedResolver.install(reactor)
        return cls(LinkPolicy(crawler.settings.getlist(ALLOW_SETTING)), reactor)

    async def process_request(self, request: Request) -> None:
        """Raise :class:`RefusedHop` for a request the policy refuses."""
        fetch = fetch_of(request)
        chain = request.meta.get("redirect_urls") or []
        origin = fetch.origin if fetch is not None else (chain[0] if chain else request.url)
        target = origin_of(request.url)
        if target is None:
            raise RefusedHop(describe(request, "not an http(s) URL"))
        if self.policy.trusted(target, origin):
            return
        addresses = await self.resolve(target[1], target[2] or 0)
        reason = self.policy.refusal(target[1], addresses)
        if reason is not None:
            message = describe(
                request,
                f"{reason} and not the source's own origin "
                "(list it in crawl.allow_private to allow it)",
            )
            logger.warning("%s: %s", fetch.source_id if fetch else "robots.txt", message)
            raise RefusedHop(message)

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, through the resolver downloads use."""
        try:
            return [ipaddress.ip_address(host.split("%", 1)[0])]
        except ValueError:
            pass
        done: Deferred[list[Any]] = Deferred()
        found: list[Any] = []

        @implementer(IResolutionReceiver)
        class Receiver:
            def resolutionBegan(self, resolution: IHostResolution) -> None:
                pass

            def addressResolved(self, address: Any) -> None:
                found.append(address)

            def resolutionComplete(self) -> None:
                done.callback(found)

        self.reactor.nameResolver.resolveHostName(Receiver(), host, portNumber=port)
        resolved = await maybe_deferred_to_future(done)
        out: list[IPAddress] = []
        for address in resolved:
            try:
                out.append(ipaddress.ip_address(address.host.split("%", 1)[0]))
            except (AttributeError, ValueError):
                continue
        # An unresolvable name fails in the download itself ("DNS lookup failed").
        return out


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        """Answers come from memory: nothing to cancel."""


@implementer(IHostnameResolver)
class PinnedResolver:
    """A name resolver that remembers each answer for ``PIN_SECONDS`` after its last use."""

    def __init__(self, inner: Any, clock: Any = time.monotonic) -> None:
        self.inner = inner
        self.clock = clock
        self.answers: dict[tuple[str, Any, str], tuple[float, list[Any]]] = {}

    @classmethod
    def install(cls, reactor: Any) -> None:
        """Wrap the reactor's name resolver, once."""
        if not isinstance(reactor.nameResolver, cls):
            reactor.installNameResolver(cls(reactor.nameResolver))

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[Any]] | None = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        """Answer from memory when fresh, else ask the wrapped resolver and remember."""
        key = (hostName, tuple(addressTypes) if addressTypes else None, transportSemantics)
        now = self.clock()
        cached = self.answers.get(key)
        if cached is not None and now - cached[0] < PIN_SECONDS:
            self.answers[key] = (now, cached[1])
            resolution = _Resolution(hostName)
            resolutionReceiver.resolutionBegan(resolution)
            for address in cached[1]:
                resolutionReceiver.addressResolved(attr.evolve(address, port=portNumber))
            resolutionReceiver.resolutionComplete()
            return resolution
        if len(self.answers) > 10_000:
            self.answers = {k: v for k, v in self.answers.items() if now - v[0] < PIN_SECONDS}
        answers = self.answers
        addresses: list[Any] = []

        @implementer(IResolutionReceiver)
        class Remember:
            def resolutionBegan(self, resolution: IHostResolution) -> None:
                resolutionReceiver.resolutionBegan(resolution)

            def addressResolved(self, address: Any) -> None:
                addresses.append(address)
                resolutionReceiver.addressResolved(address)

            def resolutionComplete(self) -> None:
                if addresses:
                    answers[key] = (now, addresses)
                resolutionReceiver.resolutionComplete()

        return self.inner.resolveHostName(
            Remember(), hostName, portNumber, addressTypes, transportSemantics
        )
