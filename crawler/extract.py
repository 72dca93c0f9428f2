"""Article extraction (trafilatura) and HTML listing-page extraction (parsel selectors)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from lxml import html as lxml_html
from parsel import Selector
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

from crawler import charset
from crawler.dates import find_date_in_text, parse_date
from crawler.items import Entry
from crawler.page_dates import DATE_PARAMS, page_date
from crawler.selectors import select_nodes
from crawler.text import normalize_text
from crawler.urls import clean_href, unwrap_redirect

MAX_HTML_BYTES = 5 * 1024 * 1024
MAX_LISTING_ITEMS = 2000
# drop_link_cells: cells shorter than this (non-space characters) that are mostly links
LINK_CELL_MAX_CHARS = 300
LINK_CELL_RATIO = 0.4


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

    Returns None when no main text is found. Table cells that are mostly links (the
    navigation of table-layout sites) are dropped before trafilatura sees the page. The
    date is found by
    :func:`crawler.page_dates.page_date` (markup first, then the page's text);
    ``date_rule`` names the rule that won.
    """
    # Loaded on the first article page, not by every poll (start-up time and memory).
    import trafilatura

    text = decode_html(html, content_type)
    if not text.strip():
        return None
    page = _parse_tree(text)
    # Handed over as text: trafilatura parses with its own parser settings.
    source = text if page is None else lxml_html.tostring(drop_link_cells(page), encoding="unicode")
    try:
        doc = trafilatura.bare_extraction(
            source,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            date_extraction_params=DATE_PARAMS,
        )
    except (ValueError, TypeError, etree.LxmlError):
        doc = None
    if doc is None or not (doc.text or "").strip():
        return None
    tree = _parse_tree(text)
    published, rule = page_date(tree, tz, hint=doc.date)
    language = doc.language or (tree.get("lang") if tree is not None else None)
    return Article(
        title=normalize_text(doc.title or ""),
        text=normalize_text(doc.text, keep_paragraphs=True),
        author=normalize_text(doc.author or "") or None,
        published_at=published,
        language=(language or "").strip().replace("_", "-").lower() or None,
        date_rule=rule,
    )


def drop_link_cells(tree: Any) -> Any:
    """Remove short table cells whose text is mostly link text; returns ``tree`` (modified).

    Old table-layout pages (common on Chinese news sites) put menus, "related articles" and
    portal links in cells beside the story; trafilatura then takes the whole layout table
    as content. A cell that holds a nested table is left alone (it is layout, not a menu).
    """
    for cell in tree.xpath("//td[not(.//table)] | //th[not(.//table)]"):
        size = len("".join(cell.text_content().split()))
        if not size or size >= LINK_CELL_MAX_CHARS:
            continue
        linked = sum(len("".join(a.text_content().split())) for a in cell.iterfind(".//a"))
        if linked / size > LINK_CELL_RATIO:
            cell.drop_tree()
    return tree


def _parse_tree(text: str) -> Any:
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None


# --------------------------------------------------------------------------- listings


@dataclass(slots=True)
class Listing:
    """What a listing page gave: its entries, and counts that explain an empty result."""

    entries: list[Entry]
    matched: int = 0  # nodes matched by the list selector
    linked: int = 0  # of those, with a usable http(s) link
    kept: int = 0  # of those, kept by link_pattern

    def problem(self, list_selector: str, link_pattern: str | None) -> str | None:
        """Why nothing came out of the page (None when entries were found)."""
        if self.entries:
            return None
        if not self.matched:
            return f"selector {list_selector!r} matched 0 items"
        if not self.linked:
            return f"selector {list_selector!r} matched {self.matched} items but none had a link"
        return (
            f"selector {list_selector!r} matched {self.matched} items; link_pattern "
            f"{link_pattern!r} kept none of their {self.linked} links"
        )


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
) -> Listing:
    """Items of an HTML news listing page, with counts that explain an empty page.

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
    out = Listing([])
    for item in select_nodes(sel, list_selector)[:MAX_LISTING_ITEMS]:
        out.matched += 1
        root = item.root
        is_link = getattr(root, "tag", None) == "a"
        link_node = (
            item if is_link else next(iter(select_nodes(item, link_selector or "a[href]")), None)
        )
        if link_node is None:
            continue
        raw_href = link_node.attrib.get("href") if hasattr(link_node, "attrib") else None
        if raw_href is None:
            raw_href = link_node.get()
        href = clean_href(raw_href)
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        link = unwrap_redirect(urljoin(base, href))
        if not link.startswith(("http://", "https://")):
            continue
        out.linked += 1
        if pattern and not pattern.search(link):
            continue
        out.kept += 1
        if link in seen:
            continue
        seen.add(link)
        title = ""
        if title_selector:
            title = _node_text(next(iter(select_nodes(item, title_selector)), None))
        if not title:
            title = _link_title(item, link_node, raw_href)
        published, rule = _listing_date(item, date_selector, tz, dayfirst)
        out.entries.append(
            Entry(
                source_id=source_id,
                url=link,
                title=title,
                published_at=published,
                date_rule=rule,
            )
        )
    return out


def _link_title(item: Selector, link_node: Selector, raw_href: str) -> str:
    """The text (or ``title`` attribute) of the link element, never the URL itself.

    An attribute selector (``a::attr(href)``, ``.//a/@href``) selects the URL, not the
    element; the element is then the one in the item carrying that ``href``. No text is no
    title ("" — a page fetch may fill it in later), not the link's address.
    """
    if isinstance(link_node.root, str):
        nodes = item.xpath("descendant-or-self::*[@href=$h]", h=raw_href)
    else:
        nodes = [link_node]
    for node in nodes:
        text = _node_text(node) or normalize_text(node.attrib.get("title", ""))
        if text:
            return text
    return ""


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
        for node in select_nodes(item, date_selector)[:3]:
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
