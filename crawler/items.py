"""The item a collector hands to the storage pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Entry:
    """One news item found by a collector, before normalisation and storage.

    ``url`` is "" for an entry known only by its ``guid``. ``published_at`` is
    timezone-aware UTC when known, None when the source gave no parseable date (never the
    fetch time); ``date_rule`` names the rule that produced it (``feed``, ``time[datetime]``,
    ``json-ld``, ``text``, ``last-modified``...). ``publisher`` names the original publisher
    when an aggregator says so (Google News ``<source>``).
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
    publisher: str | None = None
