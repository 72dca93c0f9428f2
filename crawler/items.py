"""The item a collector hands to the storage pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Entry:
    """One news item found by a collector, before normalisation and storage.

    ``published_at`` is timezone-aware UTC when known; ``date_rule`` names the rule that
    produced it (``feed``, ``time[datetime]``, ``json-ld``, ``text``, ``last-modified``...).
    """

    source_id: str
    url: str
    title: str = ""
    summary: str = ""
    body: str = ""
    guid: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    date_rule: str | None = None
