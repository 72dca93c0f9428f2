"""Listing selectors: CSS (with ``::attr()``/``::text``) or XPath, compiled by parsel.

Kept apart from ``crawler.extract`` so that ``check`` can validate the selectors of html
sources without loading the extraction stack.
"""

from __future__ import annotations

from typing import Any

from parsel import Selector


def is_xpath(query: str) -> bool:
    """A listing selector is XPath when it starts with ``/``, ``(`` or ``./``, else CSS."""
    return query.strip().startswith(("/", "(", "./"))


def select_nodes(sel: Any, query: str) -> list[Selector]:
    """The nodes ``query`` (CSS with ``::attr()``/``::text``, or XPath) selects in ``sel``."""
    query = query.strip()
    return list(sel.xpath(query) if is_xpath(query) else sel.css(query))


_EMPTY = Selector(text="<html></html>", type="html")


def selector_error(query: str) -> str | None:
    """Why ``query`` cannot be used as a listing selector (parsel's message), or None."""
    if not query.strip():
        return "empty selector"
    try:
        select_nodes(_EMPTY, query)
    except Exception as exc:  # cssselect and lxml raise several types; the message is what counts
        kind = "XPath" if is_xpath(query) else "CSS"
        return f"invalid {kind} selector {query!r}: {str(exc).removeprefix('XPath error: ')}"
    return None
