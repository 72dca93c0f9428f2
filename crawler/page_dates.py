"""The publication date of an article page, and which rule found it.

Rules, first hit wins (each date must be plausible: after 1990, at most two days ahead, so a
page whose markup lies with ``2099-01-01`` or ``1970-01-01`` falls through to the next rule):

1. ``<meta>`` publication keys (``article:published_time``, ``OriginalPublicationDate``,
   ``rnews:datePublished``, ``pubdate``, Dublin Core …) and Parse.ly's JSON ``parsely-page``;
2. JSON-LD ``datePublished``/``dateCreated`` (ISO strings or epoch numbers);
3. elements that hold the date: ``itemprop="datePublished"``, ``<time>`` (its ``datetime``
   attribute or its text), ``.pubdate``, ``.published``, ``.entry-date``;
4. htmldate's markup heuristics (through trafilatura, ``hint``; no free-text search);
5. a labelled date in the page text ("Publish Date :", "發布日期：", "发表于" …);
6. the first plausible date in the page text (scripts, styles and ``<noscript>`` removed).
   Chinese news pages put the date under the headline, before any related-article list.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any

from crawler.dates import find_date_in_text, parse_date, parse_epoch

# trafilatura → htmldate: the original (not the last-modified) date, markup only.
DATE_PARAMS: dict[str, Any] = {"original_date": True, "extensive_search": False}

META_DATE_KEYS = frozenset(
    {
        "article:published_time",
        "og:article:published_time",
        "og:published_time",
        "article:published",
        "published_time",
        "datepublished",
        "rnews:datepublished",
        "originalpublicationdate",
        "publishdate",
        "publish-date",
        "publish_date",
        "publication_date",
        "pubdate",
        "pub_date",
        "pubtime",
        "publishtime",
        "date",
        "dc.date",
        "dc.date.issued",
        "dc.date.created",
        "dcterms.created",
        "dcterms.issued",
        "dcterms.date",
        "citation_publication_date",
        "sailthru.date",
        "parsely-pub-date",
        "article.published",
        "article_date_original",
        "cxenseparse:recs:publishtime",
    }
)
# <meta> whose content is JSON naming the date (Parse.ly): {"pub_date": "2018-09-24T…"}
META_JSON_KEYS = {"parsely-page": "pub_date"}
JSON_LD_KEYS = ("datePublished", "dateCreated")


def _class(name: str) -> str:
    return f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"


DATE_ELEMENTS = (
    "//*[@itemprop='datePublished']",
    "//time",
    _class("pubdate"),
    _class("publishdate"),
    _class("published"),
    _class("entry-date"),
)
_MAX_NODES = 5
_MAX_TEXT = 200_000
_LABEL = re.compile(
    r"(?:publish(?:ed)?\s*(?:date|on|at)?|posted(?:\s+on)?|date|發布日期|发布日期|發布時間|发布时间"
    r"|發文日期|公告日期|更新日期|發表於|发表于|發表時間|发表时间|發佈|发布|日期|時間|时间)\s*[:：]?\s*",
    re.IGNORECASE,
)
_LABEL_WINDOW = 40


def page_date(
    tree: Any, tz: tzinfo | None, *, hint: str | None = None
) -> tuple[datetime | None, str | None]:
    """The page's publication date and the rule that found it (see the module docstring).

    ``tree`` is an lxml HTML document (or None); ``hint`` is htmldate's answer for the page.
    The tree is not modified.
    """
    if tree is not None:
        for found in (_meta_date(tree, tz), _json_ld(tree, tz), _element_date(tree, tz)):
            if found[0] is not None:
                return found
    if hint and (dt := parse_date(hint, tz=tz)):
        return dt, "htmldate"
    if tree is None:
        return None, None
    text = _visible_text(tree)
    for m in _LABEL.finditer(text):
        if dt := find_date_in_text(text[m.end() : m.end() + _LABEL_WINDOW], tz):
            return dt, "text"
    if dt := find_date_in_text(text, tz):
        return dt, "text:first"
    return None, None


def _meta_date(tree: Any, tz: tzinfo | None) -> tuple[datetime | None, str | None]:
    for meta in tree.iterfind(".//meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        content = meta.get("content")
        if key in META_DATE_KEYS:
            if dt := parse_date(content, tz=tz) or parse_epoch(content):
                return dt, f"meta[{key}]"
        elif key in META_JSON_KEYS and content:
            value = _json_value(content, META_JSON_KEYS[key])
            if isinstance(value, str) and (dt := parse_date(value, tz=tz)):
                return dt, f"meta[{key}]"
    return None, None


def _json_value(raw: str, key: str) -> object:
    try:
        data = json.loads(raw[:100_000])
    except ValueError:
        return None
    return data.get(key) if isinstance(data, dict) else None


def _json_ld(tree: Any, tz: tzinfo | None) -> tuple[datetime | None, str | None]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads((script.text_content() or "")[:1_000_000])
        except ValueError:
            continue
        for value in _json_ld_values(data):
            dt = parse_date(value, tz=tz) if isinstance(value, str) else None
            if dt := dt or parse_epoch(value):
                return dt, "json-ld"
    return None, None


def _json_ld_values(data: object) -> Iterator[object]:
    """Values of the date keys anywhere in a JSON-LD document (``@graph`` included)."""
    stack, seen = [data], 0
    while stack and seen < 10_000:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            for key in JSON_LD_KEYS:
                if node.get(key) is not None:
                    yield node[key]
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def _element_date(tree: Any, tz: tzinfo | None) -> tuple[datetime | None, str | None]:
    for query in DATE_ELEMENTS:
        for node in tree.xpath(query)[:_MAX_NODES]:
            for value in (node.get("datetime"), node.get("content")):
                if value and (dt := parse_date(value, tz=tz)):
                    return dt, _rule(node)
            text = " ".join(node.text_content().split())[:200]
            if text and (dt := parse_date(text, tz=tz) or find_date_in_text(text, tz)):
                return dt, _rule(node)
    return None, None


def _rule(node: Any) -> str:
    if node.tag == "time":
        return "time[datetime]" if node.get("datetime") else "time"
    if node.get("itemprop") == "datePublished":
        return "itemprop"
    return "class"


def _visible_text(tree: Any) -> str:
    """The page text without scripts, styles and ``<noscript>`` (the tree is left alone)."""
    body = tree.find(".//body")
    root = copy.deepcopy(body if body is not None else tree)
    for node in root.xpath(".//script|.//style|.//noscript|.//template"):
        node.drop_tree()
    return " ".join(root.text_content()[:_MAX_TEXT].split())
