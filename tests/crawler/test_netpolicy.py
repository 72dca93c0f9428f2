"""The link policy's decision, and the resolver that pins each name's answer."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IHostnameResolver
from zope.interface import implementer

from crawler.netguard import PIN_SECONDS, PinnedResolver
from crawler.netpolicy import LinkPolicy, non_public, origin_of, parse_allowance


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "is a loopback address"),
        ("127.255.0.9", "is a loopback address"),
        ("::1", "is a loopback address"),
        ("10.1.2.3", "is a private address"),
        ("172.16.0.1", "is a private address"),
        ("192.168.1.1", "is a private address"),
        ("fd00::2", "is a private address"),
        ("169.254.169.254", "is a link-local address"),
        ("fe80::1", "is a link-local address"),
        ("0.0.0.0", "is an unspecified address (it reaches this host)"),
        ("::", "is an unspecified address (it reaches this host)"),
        ("::ffff:127.0.0.1", "is a loopback address"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "is a private address"),
        ("2002:7f00:1::", "is a loopback address"),  # 6to4 carrying 127.0.0.1
        ("64:ff9b::a00:1", "is a private address"),  # NAT64 carrying 10.0.0.1
        ("100.64.0.1", "is not a public address"),  # carrier-grade NAT
        ("224.0.0.1", "is not a public address"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("64:ff9b::808:808", None),  # NAT64 carrying 8.8.8.8
    ],
)
def test_non_public_addresses(address: str, why: str | None) -> None:
    assert non_public(ipaddress.ip_address(address)) == why


def test_origin_fills_default_ports_and_folds_case() -> None:
    assert origin_of("HTTP://Example.ORG./feed") == ("http", "example.org", 80)
    assert origin_of("https://[::1]:8443/x") == ("https", "::1", 8443)
    assert origin_of("https://example.org") == ("https", "example.org", 443)
    assert origin_of("ftp://example.org/") is None
    assert origin_of("file:///etc/passwd") is None
    assert origin_of("http://example.org:99999/") is None


def test_same_origin_and_allowed_hosts_pass_without_resolving() -> None:
    policy = LinkPolicy(["intranet.example.org"])
    own = "http://10.0.0.5:8080/feed.xml"
    assert policy.trusted(("http", "10.0.0.5", 8080), own)
    assert not policy.trusted(("http", "10.0.0.5", 8081), own)  # another port
    assert not policy.trusted(("https", "10.0.0.5", 8080), own)  # another scheme
    assert policy.trusted(("https", "intranet.example.org", 443), own)


def test_allowed_networks_cover_mapped_forms() -> None:
    policy = LinkPolicy(["10.20.0.0/16", "::1"])
    addresses = [ipaddress.ip_address(a) for a in ("10.20.3.4", "::ffff:10.20.3.4", "::1")]
    assert policy.refusal("h", addresses) is None
    refused = policy.refusal("intranet", [ipaddress.ip_address("10.21.0.1")])
    assert refused == "intranet (10.21.0.1) is a private address"
    # One private address among public ones is enough: the connection may pick it.
    mixed = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("127.0.0.1")]
    assert policy.refusal("x.example", mixed) == "x.example (127.0.0.1) is a loopback address"


@pytest.mark.parametrize("entry", ["", "a b", "*.example.org", "http://x/", "10.0.0.0/33"])
def test_bad_allowances_are_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="neither an IP address, an IP network nor a host name"):
        parse_allowance(entry)


@implementer(IHostnameResolver)
class _Changing:
    """A DNS server whose answer changes between questions (a rebinding attacker)."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.asked = 0

    def resolveHostName(self, receiver: Any, name: str, portNumber: int = 0, *rest: Any) -> Any:
        receiver.resolutionBegan(None)
        receiver.addressResolved(IPv4Address("TCP", self.answers[self.asked], portNumber))
        self.asked += 1
        receiver.resolutionComplete()


class _Collect:
    def __init__(self) -> None:
        self.addresses: list[Any] = []
        self.done = False

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.done = True


def test_pinned_resolver_answers_the_connection_what_it_told_the_check() -> None:
    now = [0.0]
    inner = _Changing(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    resolver = PinnedResolver(inner, clock=lambda: now[0])
    check, connect = _Collect(), _Collect()
    resolver.resolveHostName(check, "news.example", 0)
    now[0] += PIN_SECONDS / 2
    resolver.resolveHostName(connect, "news.example", 443)
    assert inner.asked == 1 and connect.done
    assert [(a.host, a.port) for a in connect.addresses] == [("93.184.216.34", 443)]
    now[0] += PIN_SECONDS + 1  # unused for longer than the pin: asked again
    later = _Collect()
    resolver.resolveHostName(later, "news.example", 80)
    assert inner.asked == 2 and [a.host for a in later.addresses] == ["127.0.0.1"]
