"""Cut a large feed document into smaller feed documents of whole items (bounded memory).

feedparser builds a dict per entry for the whole document at once: a feed of 100,000 items
cost hundreds of MB. :func:`split_items` finds the top-level ``<item>``/``<entry>``
elements; :meth:`Split.document` then makes documents of the document's head
(everything before the first item: prolog, root element, channel metadata), a run of items,
and its tail (everything after the last item). Each part is a feed on its own with the same
namespaces, ``xml:base`` and channel metadata; whatever stands *between* items (rare) is
left out of the parts.

CDATA sections and comments are skipped while scanning, so markup quoted inside them does
not count. A document whose items cannot be delimited (an item never closed, a stray end
tag) is not split (None): the caller parses it whole. A document cut short by a size cap
(``partial``) keeps its complete items and drops the cut one (and has no tail).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_TOKEN = re.compile(r"<!\[CDATA\[|<!--|<(/?)(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])")
# An RSS <guid> or Atom <id> whose text is plain (no markup, entity or CDATA to decode).
_GUID = re.compile(r"<(?:(?:atom|rss):)?(guid|id)(?:\s[^>]*)?>([^<&]*)</(?:(?:atom|rss):)?\1\s*>")


@dataclass(frozen=True, slots=True)
class Split:
    """Where the items of a document are: ``spans`` are (start, end) offsets in order;
    the tail starts at ``tail_start`` (None: the document was cut and has no tail)."""

    spans: list[tuple[int, int]]
    tail_start: int | None

    def batches(self, text: str, size: int) -> Iterator[list[str]]:
        """The items' texts, ``size`` at a time."""
        for i in range(0, len(self.spans), size):
            yield [text[a:b] for a, b in self.spans[i : i + size]]

    def document(self, text: str, items: list[str]) -> str:
        """A feed document: the head of ``text``, ``items``, and its tail."""
        tail = text[self.tail_start :] if self.tail_start is not None else ""
        return text[: self.spans[0][0]] + "".join(items) + tail


def split_items(text: str, *, partial: bool = False) -> Split | None:
    """The top-level items of a feed document, or None when they cannot be delimited."""
    spans: list[tuple[int, int]] = []
    pos, depth, start = 0, 0, 0
    while m := _TOKEN.search(text, pos):
        token = m.group(0)
        if token in ("<![CDATA[", "<!--"):
            end = text.find("]]>" if token == "<![CDATA[" else "-->", m.end())
            if end < 0:
                return _cut(spans) if partial else None
            pos = end + 3
            continue
        close = text.find(">", m.end())
        if close < 0:
            return _cut(spans) if partial else None
        if m.group(1):  # an end tag
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                spans.append((start, close + 1))
        elif text[close - 1] == "/":  # an empty item: <item/>
            if depth == 0:
                spans.append((m.start(), close + 1))
        else:
            if depth == 0:
                start = m.start()
            depth += 1
        pos = close + 1
    if depth:
        return _cut(spans) if partial else None
    return Split(spans, spans[-1][1]) if spans else None


def item_guid(item: str) -> str | None:
    """The guid of an item's text as feedparser would read it, when that is certain.

    Only a single plain ``<guid>``/``<id>`` counts (no entity, CDATA or markup to decode;
    not two ids, as an Atom entry with a ``<source>`` has); otherwise None.
    """
    found = _GUID.findall(item)
    if len(found) != 1:
        return None
    return found[0][1].strip() or None


def _cut(spans: list[tuple[int, int]]) -> Split | None:
    """The complete items of a document cut short; no tail (the cut lost it)."""
    return Split(spans, None) if spans else None
