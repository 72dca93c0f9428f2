"""A feed's work before storage, as a parser process does it (:mod:`crawler.parse_pool`).

Parsing, normalising each entry and storage's text work for each (shingles, MinHash, band
keys: :func:`crawler.normalize.text_work`) are all CPU and need no database, so they run beside
the process that stores; it receives items it only has to look up and write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from crawler.items import Entry
from crawler.normalize import Normalized, normalize, text_work
from crawler.parse import FeedPart, read_feed


def read_for_storage(
    body: bytes,
    *,
    tags: Sequence[str] = (),
    callback: Callable[[list[str]], set[str]] | None = None,
    **feed: Any,
) -> list[FeedPart]:
    """:func:`crawler.parse.read_feed` (``feed``: :func:`crawler.parse.open_feed`'s
    arguments), each part with its entries normalised and prepared (``FeedPart.normalized``)
    in the source's language and with its ``tags``."""
    parts = read_feed(body, callback=callback, **feed)
    language = feed.get("language")
    for part in parts:
        part.normalized = [ready(entry, language, tags) for entry in part.entries]
    return parts


def ready(entry: Entry, language: str | None, tags: Sequence[str]) -> Normalized | None:
    """:func:`normalize` with storage's text work done (None: no identity)."""
    item = normalize(entry, language=language, tags=tags)
    if item is None:
        return None
    # The tokens were the text work's input only: not sent back to the storing process.
    return dataclasses.replace(item, key_text=None, prepared=text_work(item))
