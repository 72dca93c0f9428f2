"""Feed discovery: from a site or article URL to ready-to-paste ``sources.yaml`` entries.

Where feeds are looked for, in this order (what feed readers do):

1. the page itself, when it is a feed or a sitemap;
2. ``<link rel="alternate">`` elements of the page (and of the site's home page when the
   URL was an article) whose ``type`` names RSS, Atom, RDF or JSON Feed; rel and type
   compare case-insensitively and as whitespace-separated tokens, hrefs are trimmed and
   resolved against a ``<base href>`` that comes before them, else the page URL;
3. only when 2 found nothing: a few common paths on the site (``/feed``, ``/rss.xml`` …);
4. the ``Sitemap:`` lines of the site's robots.txt.

Every candidate is fetched and parsed; only those that parse as a feed (with a title or
entries) or as a sitemap are reported, with their item count. All fetching goes through the
crawl settings of a poll pass (:mod:`crawler.discover_spider`): the configured
User-Agent, robots.txt, timeouts and ``crawl.max_bytes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html
from protego import Protego

from crawler.crawl_settings import CrawlSettings
from crawler.extract import decode_html
from crawler.parse import FeedError, parse_feed, parse_sitemap

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "application/xml",
        "text/xml",
    }
)
COMMON_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml")
MAX_CANDIDATES = 20
_ATOM_NS = b"http://www.w3.org/2005/Atom"
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)


@dataclass(frozen=True, slots=True)
class FoundFeed:
    """A fetched and parsed candidate: a feed (``rss``/``atom``) or a ``sitemap``."""

    url: str
    type: str
    title: str
    items: int
    note: str = ""


@dataclass
class Discovery:
    """What discovery tried and found for one URL."""

    url: str
    found: list[FoundFeed] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def feed_links(html: str | bytes, url: str) -> list[str]:
    """Feed URLs named by ``<link rel="alternate" type=…>`` in an HTML page, in page order."""
    text = decode_html(html) if isinstance(html, bytes) else html  # BOM, <meta charset> …
    try:
        root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return []
    base = url
    links: list[str] = []
    for el in root.iter("base", "link"):
        href = (el.get("href") or "").strip()
        if not href:
            continue
        if el.tag == "base":
            if base == url:  # the first <base href> counts, for what comes after it
                base = urljoin(url, href)
            continue
        rels = (el.get("rel") or "").casefold().split()
        kind = (el.get("type") or "").strip().casefold()
        if "alternate" in rels and kind in FEED_TYPES:
            link = urljoin(base, href)
            if link.startswith(("http://", "https://")) and link not in links:
                links.append(link)
    return links


def common_paths(url: str) -> list[str]:
    """The common feed locations on ``url``'s site."""
    return [urljoin(site_root(url), path) for path in COMMON_PATHS]


def site_root(url: str) -> str:
    """``scheme://host/`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def robots_sitemaps(text: str, url: str) -> list[str]:
    """Absolute URLs of the ``Sitemap:`` lines of a robots.txt fetched from ``url``."""
    found = [urljoin(url, s.strip()) for s in Protego.parse(text).sitemaps]
    return [u for u in dict.fromkeys(found) if u.startswith(("http://", "https://"))]


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True for an HTML page (by Content-Type, else by its first tag)."""
    if content_type and "html" in content_type.lower():
        return True
    return bool(_HTML_START.match(body[:2048]))


def identify(body: bytes, url: str, content_type: str | None) -> FoundFeed | None:
    """The feed or sitemap ``body`` is, or None when it is neither (an HTML page, an error)."""
    if looks_like_html(body, content_type):
        return None
    try:
        feed = parse_feed(body, url=url, source_id="discover", content_type=content_type)
    except FeedError:
        feed = None
    if feed is not None and (feed.entries or feed.title):
        kind = "atom" if b"<feed" in body[:4096] and _ATOM_NS in body[:4096] else "rss"
        return FoundFeed(url, kind, feed.title, len(feed.entries))
    sitemap = parse_sitemap(body, url=url, source_id="discover")
    if sitemap.entries:
        return FoundFeed(url, "sitemap", "", len(sitemap.entries))
    if sitemap.sitemaps:
        note = f"sitemap index of {len(sitemap.sitemaps)} sitemaps"
        return FoundFeed(url, "sitemap", "", 0, note)
    return None


def discover(url: str, crawl: CrawlSettings, settings: dict[str, Any] | None = None) -> Discovery:
    """Find the feeds of ``url`` (a site or an article), fetching politely; see the module.

    Runs a Twisted reactor: call it once per process (the CLI does).
    """
    from crawler.collect import run_in_reactor
    from crawler.discover_spider import crawl_discovery

    return run_in_reactor(lambda: crawl_discovery(url, crawl, settings or {}))
