"""New ``sources.yaml`` entries: valid unique ids, YAML text, and appending to the file.

Ids are made from the title (ASCII-folded, lowercase, dashes), else from the URL's host and
path, then made unique against the ids already taken with ``-2``, ``-3`` … . Appending
inserts text after the last entry of the ``sources:`` list, so every comment and the
layout of the file stay as they were.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler.sources import SOURCE_ID

MAX_ID = 60
_NOT_ID = re.compile(r"[^a-z0-9]+")
_ID = re.compile(SOURCE_ID)


def new_source_id(title: str, url: str, taken: set[str]) -> str:
    """A valid id not in ``taken`` (which it is added to)."""
    base = _slug(title) or _slug(_url_words(url)) or "feed"
    base = base[:MAX_ID].rstrip("-")
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base[: MAX_ID - len(str(n)) - 1].rstrip('-')}-{n}"
    assert _ID.match(candidate), candidate
    taken.add(candidate)
    return candidate


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_ID.sub("-", ascii_text.lower()).strip("-")


def _url_words(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    path = re.sub(r"\.(xml|rss|atom|json|php)$", "", parts.path.strip("/"))
    return f"{host} {path}"


def render_entries(entries: Iterable[tuple[dict[str, Any], str]]) -> str:
    """YAML list items (indented for pasting under ``sources:``), each after its comment."""
    blocks = []
    for entry, comment in entries:
        text = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=10_000)
        lines = [f"  # {comment}"] if comment else []
        lines += [f"  {line}" for line in text.rstrip("\n").splitlines()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def append_entries(text: str, block: str) -> str:
    """``text`` (a sources.yaml) with ``block`` (from :func:`render_entries`) added to its list.

    The block goes right after the last item of a block-style ``sources:`` list; an empty or
    missing list is replaced by the block. Raises ValueError for a file it cannot extend
    (a flow-style list with items, or a top level that is not a mapping).
    """
    doc = yaml.compose(text) if text.strip() else None
    if doc is None:
        return f"{text}{'' if not text or text.endswith(chr(10)) else chr(10)}sources:\n{block}"
    if not isinstance(doc, yaml.MappingNode):
        raise ValueError("the top level is not a mapping")
    for key, value in doc.value:
        if key.value != "sources":
            continue
        if isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
            end = value.value[-1].end_mark.index
            rest = text[end:].lstrip("\n")
            return f"{text[:end].rstrip()}\n\n{block}{chr(10) if rest else ''}{rest}"
        if (isinstance(value, yaml.SequenceNode) and not value.value) or (
            isinstance(value, yaml.ScalarNode) and value.value in ("", "~", "null")
        ):
            start, end = key.end_mark.index, value.end_mark.index
            rest = text[end:].lstrip(" ")
            return f"{text[:start]}:\n{block}{rest.lstrip(chr(10))}"
        raise ValueError("'sources' is not a block-style list; add the entries by hand")
    sep = "" if text.endswith("\n") else "\n"
    return f"{text}{sep}sources:\n{block}"
