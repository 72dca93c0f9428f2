"""Where a source's fetches may go: never into loopback, private or link-local networks,
unless the fetch stays on the source's own origin. The decision, without I/O; the Scrapy
glue that resolves hosts and refuses requests is :mod:`crawler.netguard`.

A request that has the source's origin (scheme, host, port of its configured URL) passes: a
source configured on a private address stays allowed, the user chose it. Any other request
passes only if every address its host resolves to is public (globally routable unicast), or
``crawl.allow_private`` names its host or a network holding the address. IPv6 forms that
carry an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64) are judged by that address;
``0.0.0.0`` and ``::`` reach the local host and are not public.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, default ports filled in; None otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme]


def parse_allowance(entry: str) -> IPNetwork | str:
    """An ``allow_private`` entry: an IP network (``10.0.0.0/8``, ``::1``) or an exact host
    name (``intranet.example.org``); ValueError for anything else."""
    text = entry.strip().lower().rstrip(".")
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    labels = text.split(".")
    if not text or len(text) > 253 or not all(_label_ok(label) for label in labels):
        raise ValueError(f"{entry!r} is neither an IP address, an IP network nor a host name")
    return text


def _label_ok(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label.replace("-", "").replace("_", "").isalnum()
        and (label.isascii())
    )


def effective(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), or itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]  # the client's address
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def non_public(address: IPAddress) -> str | None:
    """Why ``address`` is not public ("is a loopback address", …), or None when it is."""
    inner = effective(address)
    for candidate in (inner, address) if inner != address else (address,):
        if candidate.is_loopback:
            return "is a loopback address"
        if candidate.is_unspecified:
            return "is an unspecified address (it reaches this host)"
        if candidate.is_link_local:
            return "is a link-local address"
        if candidate.is_private:
            return "is a private address"
        if not candidate.is_global or candidate.is_multicast:
            return "is not a public address"
    return None


class LinkPolicy:
    """The decision, without I/O: which (request URL, addresses) pairs may be fetched."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        parsed = [parse_allowance(entry) for entry in allow]
        self.hosts = frozenset(p for p in parsed if isinstance(p, str))
        self.networks = tuple(p for p in parsed if not isinstance(p, str))

    def trusted(self, target: Origin, origin: str | None) -> bool:
        """True when ``target`` (see :func:`origin_of`) passes without looking at addresses:
        it is the source's own origin, or ``allow_private`` names its host."""
        return target[1] in self.hosts or (origin is not None and target == origin_of(origin))

    def refusal(self, host: str, addresses: Sequence[IPAddress]) -> str | None:
        """Why ``host`` may not be fetched at these addresses, or None."""
        for address in addresses:
            why = non_public(address)
            if why is None or self.allowed(address):
                continue
            shown = host if host == str(address) else f"{host} ({address})"
            return f"{shown} {why}"
        return None

    def allowed(self, address: IPAddress) -> bool:
        """Whether ``allow_private`` lists a network holding ``address`` (or what it carries)."""
        both = {address, effective(address)}
        return any(a in net for a in both for net in self.networks)
