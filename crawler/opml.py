"""OPML subscription lists in and out (``wirewatch sources import`` / ``export``).

Reading uses listparser (nested folders, OPML 1.0/2.0, RSS-ish ``type`` attributes, broken
files reported rather than raised); writing is plain OPML 2.0. Only feed sources (``rss``,
``atom``) have an OPML form: ``html`` and ``sitemap`` sources are left out of an export.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

import listparser

from crawler.sources import FeedSource, type_names

OPML_TYPES = type_names(FeedSource)


class OpmlError(ValueError):
    """The file is not a readable OPML subscription list."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: its feed URL, title and folder/category names (as tags)."""

    url: str
    title: str
    tags: tuple[str, ...] = ()


def read_opml(data: bytes | str) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order, each URL once.

    Raises :class:`OpmlError` when the document holds no feed and could not be parsed.
    """
    result = listparser.parse(data)
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    for feed in result.feeds:
        url = (feed.get("url") or "").strip()
        if not url.startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        tags = tuple(dict.fromkeys(t.strip() for t in feed.get("tags", []) if t.strip()))
        feeds.append(OpmlFeed(url, (feed.get("title") or "").strip(), tags))
    if not feeds and result.bozo:
        raise OpmlError(f"not an OPML subscription list: {result.bozo_exception}")
    return feeds


def write_opml(sources: Iterable[FeedSource], *, title: str, now: datetime) -> str:
    """An OPML 2.0 document listing ``sources`` (their tags as categories)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    for source in sources:
        attrs = {"text": source.label, "title": source.label, "type": "rss", "xmlUrl": source.url}
        if source.tags:
            attrs["category"] = ",".join(source.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
