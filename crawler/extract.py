"""Article extraction (trafilatura) and HTML listing-page extraction (parsel selectors)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urljoin

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from parsel import Selector
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from crawler import charset
from crawler.dates import find_date_in_text, parse_date
from crawler.items import Entry
from crawler.text import normalize_text
from crawler.urls import clean_href, unwrap_redirect

MAX_HTML_BYTES = 5 * 1024 * 1024
MAX_LISTING_ITEMS = 2000

_META_DATE_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "publishdate",
    "pubdate",
    "publish-date",
    "publish_date",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "article.published",
)
_TEXT_DATE_LABEL = re.compile(
    r"(?:publish(?:ed)?\s*(?:date|on|at)?|posted(?:\s+on)?|date|發布日期|发布日期|發布時間|发布时间"
    r"|發文日期|公告日期|更新日期|日期|時間|时间)\s*[:：]?\s*",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Article:
    """The main content and metadata of one article page."""

    title: str
    text: str
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    date_rule: str | None = None


def decode_html(data: bytes | str, content_type: str | None = None) -> str:
    """Decode page bytes by :func:`crawler.charset.decode`'s order of evidence.

    BOM, HTTP charset, ``<meta charset>`` (each only when the bytes decode cleanly under
    it), strict UTF-8, windows-1252 for Latin-looking bytes, then a detector.
    """
    if isinstance(data, str):
        return data[:MAX_HTML_BYTES]
    data = data[:MAX_HTML_BYTES]
    bom, raw = read_bom(data)
    if bom:
        data = data[len(raw) :]
    http = http_content_type_encoding(content_type) if content_type else None
    return charset.decode(data, bom=bom, http=http, declared=html_body_declared_encoding(data)).text


def extract_article(
    html: bytes | str,
    *,
    url: str,
    tz: tzinfo | None = None,
    content_type: str | None = None,
) -> Article | None:
    """Extract title, main text, author, date and language from an article page.

    Returns None when no main text is found. The date comes from structured markup first
    (``article:published_time``, JSON-LD ``datePublished``, ``time[datetime]``), then
    trafilatura's own date finder, then a labelled date in the text ("Publish Date :",
    "發布日期：", ROC dates ...); ``date_rule`` names the rule that won.
    """
    text = decode_html(html, content_type)
    if not text.strip():
        return None
    try:
        doc = trafilatura.bare_extraction(
            text, url=url, with_metadata=True, include_comments=False, include_tables=True
        )
    except (ValueError, TypeError, etree.LxmlError):
        doc = None
    if doc is None or not (doc.text or "").strip():
        return None
    tree = _parse_tree(text)
    published, rule = _structured_date(tree, tz)
    if published is None and doc.date and (dt := parse_date(doc.date, tz=tz)):
        published, rule = dt, "trafilatura"
    if published is None and (dt := _labelled_text_date(tree, tz)):
        published, rule = dt, "text"
    language = doc.language or (tree.get("lang") if tree is not None else None)
    return Article(
        title=normalize_text(doc.title or ""),
        text=normalize_text(doc.text, keep_paragraphs=True),
        author=normalize_text(doc.author or "") or None,
        published_at=published,
        language=(language or "").strip().replace("_", "-").lower() or None,
        date_rule=rule,
    )


def _parse_tree(text: str) -> Any:
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None


def _structured_date(tree: Any, tz: tzinfo | None) -> tuple[datetime | None, str | None]:
    if tree is None:
        return None, None
    for meta in tree.iterfind(".//meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _META_DATE_KEYS and (dt := parse_date(meta.get("content"), tz=tz)):
            return dt, f"meta[{key}]"
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        if dt := _json_ld_date(script.text_content(), tz):
            return dt, "json-ld"
    for node in tree.xpath("//time[@datetime]")[:5]:
        if dt := parse_date(node.get("datetime"), tz=tz):
            return dt, "time[datetime]"
    return None, None


def _json_ld_date(raw: str, tz: tzinfo | None) -> datetime | None:
    try:
        data = json.loads(raw[:1_000_000])
    except ValueError:
        return None
    stack, seen = [data], 0
    while stack and seen < 10_000:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            value = node.get("datePublished") or node.get("dateCreated")
            if isinstance(value, str) and (dt := parse_date(value, tz=tz)):
                return dt
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _labelled_text_date(tree: Any, tz: tzinfo | None) -> datetime | None:
    if tree is None:
        return None
    for bad in tree.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    body = tree.text_content()[:200_000]
    for m in _TEXT_DATE_LABEL.finditer(body):
        if dt := find_date_in_text(body[m.end() : m.end() + 40], tz):
            return dt
    return None


# --------------------------------------------------------------------------- listings


def _select(sel: Selector, query: str) -> list[Selector]:
    query = query.strip()
    if query.startswith(("/", "(", "./")):
        return list(sel.xpath(query))
    return list(sel.css(query))


def extract_listing(
    html: bytes | str,
    *,
    url: str,
    list_selector: str,
    link_selector: str | None = None,
    title_selector: str | None = None,
    date_selector: str | None = None,
    link_pattern: str | None = None,
    tz: tzinfo | None = None,
    dayfirst: bool = False,
    source_id: str = "",
    content_type: str | None = None,
) -> list[Entry]:
    """Items of an HTML news listing page as :class:`Entry` objects.

    Selectors are CSS, or XPath when they start with ``/`` or ``(``. Each node matched by
    ``list_selector`` is one item: an ``<a>`` is the link itself, otherwise
    ``link_selector`` (default ``a[href]``) is looked up inside it. The title defaults to
    the link text; the date comes from ``date_selector`` (its ``datetime``/``content``
    attribute or text) or from the item's text. Links are resolved against ``<base href>``
    and ``url``, filtered by the ``link_pattern`` regex and de-duplicated.
    """
    text = decode_html(html, content_type)
    sel = Selector(text=text or "<html></html>", type="html")
    base = urljoin(url, clean_href(sel.xpath("//base/@href").get()) or "") or url
    pattern = re.compile(link_pattern) if link_pattern else None
    seen: set[str] = set()
    entries: list[Entry] = []
    for item in _select(sel, list_selector)[:MAX_LISTING_ITEMS]:
        root = item.root
        is_link = getattr(root, "tag", None) == "a"
        link_node = item if is_link else next(iter(_select(item, link_selector or "a[href]")), None)
        if link_node is None:
            continue
        href = link_node.attrib.get("href") if hasattr(link_node, "attrib") else None
        if href is None:
            href = link_node.get()
        href = clean_href(href)
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        link = unwrap_redirect(urljoin(base, href))
        if not link.startswith(("http://", "https://")):
            continue
        if (pattern and not pattern.search(link)) or link in seen:
            continue
        seen.add(link)
        title = ""
        if title_selector:
            title = _node_text(next(iter(_select(item, title_selector)), None))
        if not title:
            title = _node_text(link_node) or normalize_text(link_node.attrib.get("title", ""))
        published, rule = _listing_date(item, date_selector, tz, dayfirst)
        entries.append(
            Entry(
                source_id=source_id,
                url=link,
                title=title,
                published_at=published,
                date_rule=rule,
            )
        )
    return entries


def _node_text(node: Selector | None) -> str:
    if node is None:
        return ""
    root = node.root
    if isinstance(root, str):
        return normalize_text(root)
    return normalize_text(" ".join(node.xpath(".//text()").getall()))


def _listing_date(
    item: Selector, date_selector: str | None, tz: tzinfo | None, dayfirst: bool
) -> tuple[datetime | None, str | None]:
    if date_selector:
        for node in _select(item, date_selector)[:3]:
            attrs = node.attrib if not isinstance(node.root, str) else {}
            for value in (attrs.get("datetime"), attrs.get("content"), _node_text(node)):
                if not value:
                    continue
                dt = parse_date(value, tz=tz, dayfirst=dayfirst) or find_date_in_text(
                    value, tz, dayfirst=dayfirst
                )
                if dt:
                    return dt, "listing:selector"
    dt = find_date_in_text(_node_text(item), tz, dayfirst=dayfirst)
    return (dt, "listing:text") if dt else (None, None)
