"""Cut a large feed document into smaller feed documents of whole items (bounded memory).

feedparser builds a dict per entry for the whole document at once: a feed of 100,000 items
cost hundreds of MB. :func:`split_items` finds the top-level ``<item>``/``<entry>``
elements; :meth:`Split.parts` then yields documents made of the document's head
(everything before the first item: prolog, root element, channel metadata), a run of items,
and its tail (everything after the last item). Each part is a feed on its own with the same
namespaces, ``xml:base`` and channel metadata; whatever stands *between* items (rare) is
left out of the parts.

CDATA sections and comments are skipped while scanning, so markup quoted inside them does
not count. A document whose items cannot be delimited (an item never closed, a stray end
tag) is not split (None): the caller parses it whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_TOKEN = re.compile(r"<!\[CDATA\[|<!--|<(/?)(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])")


@dataclass(frozen=True, slots=True)
class Split:
    """Where the items of a document are: ``spans`` are (start, end) offsets in order."""

    spans: list[tuple[int, int]]

    def parts(self, text: str, size: int) -> Iterator[str]:
        """Documents of at most ``size`` items each: head + items + tail of ``text``."""
        head, tail = text[: self.spans[0][0]], text[self.spans[-1][1] :]
        for i in range(0, len(self.spans), size):
            items = "".join(text[a:b] for a, b in self.spans[i : i + size])
            yield head + items + tail


def split_items(text: str) -> Split | None:
    """The top-level items of a feed document, or None when they cannot be delimited."""
    spans: list[tuple[int, int]] = []
    pos, depth, start = 0, 0, 0
    while m := _TOKEN.search(text, pos):
        token = m.group(0)
        if token in ("<![CDATA[", "<!--"):
            end = text.find("]]>" if token == "<![CDATA[" else "-->", m.end())
            if end < 0:
                return None
            pos = end + 3
            continue
        close = text.find(">", m.end())
        if close < 0:
            return None
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
    if depth or not spans:
        return None
    return Split(spans)
