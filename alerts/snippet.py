"""The short excerpt shown in an alert, with highlight offsets into it."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING

from alerts.query import FIELDS
from crawler.unicode_scripts import is_word_char

if TYPE_CHECKING:
    from alerts.matcher import Hit

SNIPPET_WIDTH = 200

_FIELD_PREFERENCE = {"summary": 2, "body": 1, "title": 0}


def make_snippet(
    originals: tuple[str, ...], hits: Sequence[Hit]
) -> tuple[str, list[tuple[int, int]]]:
    """Excerpt of the field with the most distinct matched terms, around its densest spot."""
    if not hits:
        text = next((t for t in (originals[1], originals[2], originals[0]) if t.strip()), "")
        return _excerpt(text, 0, min(len(text), SNIPPET_WIDTH), [])
    by_field: dict[str, list[Hit]] = {}
    for hit in hits:
        by_field.setdefault(hit.field, []).append(hit)
    name = max(
        by_field,
        key=lambda f: (len({h.group or h.term for h in by_field[f]}), _FIELD_PREFERENCE[f]),
    )
    text = originals[FIELDS.index(name)]
    field_hits = sorted(by_field[name], key=lambda h: h.start)
    starts = [h.start for h in field_hits]
    best: tuple[int, int, int] | None = None
    for anchor in field_hits:
        start = max(0, anchor.start - SNIPPET_WIDTH // 3)
        end = min(len(text), start + SNIPPET_WIDTH)
        start = max(0, end - SNIPPET_WIDTH)
        # Only the hits starting inside the window (bisected): linear in hits, not quadratic.
        window = field_hits[bisect_left(starts, start) : bisect_right(starts, end)]
        inside = {h.group or h.term for h in window if h.end <= end}
        if best is None or len(inside) > best[0]:
            best = (len(inside), start, end)
    assert best is not None
    _, start, end = best
    spans = [(h.start, h.end) for h in field_hits if h.start >= start and h.end <= end]
    start, end = _snap(text, start, end, spans)
    return _excerpt(text, start, end, spans)


def _snap(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """Move cut points off the middle of Latin words, never past a highlight."""
    lo = min((s for s, _ in spans), default=end)
    hi = max((e for _, e in spans), default=start)
    if 0 < start < len(text) and is_word_char(text[start - 1]) and is_word_char(text[start]):
        space = text.find(" ", start, min(lo, start + 20))
        if space != -1:
            start = space + 1
    if 0 < end < len(text) and is_word_char(text[end - 1]) and is_word_char(text[end]):
        space = text.rfind(" ", max(hi, end - 20), end)
        if space != -1:
            end = space
    return start, end


def _excerpt(
    text: str, start: int, end: int, spans: list[tuple[int, int]]
) -> tuple[str, list[tuple[int, int]]]:
    """``text[start:end]`` with whitespace runs collapsed, ellipses, and shifted spans."""
    out: list[str] = ["…"] if start > 0 else []
    new_index: list[int] = []
    for ch in text[start:end]:
        new_index.append(len(out))
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(ch)
    new_index.append(len(out))
    if end < len(text):
        out.append("…")
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        a, b = new_index[s - start], new_index[e - start]
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return "".join(out), merged
