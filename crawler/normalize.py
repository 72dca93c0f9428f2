"""Entries → items ready to store: cleaned text, identity and content hash.

Identity: an entry with an http(s) link is the article at its canonical URL (tracking
parameters stripped, a fragment that tells entries of one page apart kept); an entry with
only a guid is the article with that guid from that source, with no URL; an entry with
neither has no identity and is not stored (:data:`crawler.reasons.NO_IDENTITY`).

Stored text is cleaned, never folded (:func:`crawler.text.normalize_text`); only the content
hash folds (:func:`crawler.dedupe.content_hash`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from crawler.items import Entry
from crawler.story_text import KeyText, Prepared, prepare
from crawler.text import normalize_text
from crawler.urls import canonical_url, unwrap_redirect

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
MAX_BODY = 500_000
MAX_TAGS = 50
OFFICIAL_TAG = "official"


@dataclass(frozen=True, slots=True)
class Normalized:
    """An entry ready to store: cleaned text, its identity and its content hash."""

    source_id: str
    url: str  # "" for an entry known only by its guid
    canonical_url: str | None
    guid: str | None
    title: str
    summary: str
    body: str
    author: str | None
    publisher: str | None
    language: str | None
    tags: list[str]
    published_at: datetime | None
    date_rule: str | None
    content_hash: str | None
    # The dedupe tokens of title and text (body, else summary), made with the content hash
    # and read again by storage (crawler.dedupe.prepare) instead of tokenising twice.
    key_text: KeyText | None = field(default=None, compare=False, repr=False)
    # Storage's text work on this title and text (text_work), when a parser process did it
    # already (crawler.feed_job); storage then does not.
    prepared: Prepared | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class EntryBatch:
    """The new entries of one fetched page of a source, normalised, stored together."""

    source_id: str
    items: list[Normalized]


def normalize(
    entry: Entry,
    *,
    language: str | None = None,
    tags: Sequence[str] = (),
) -> Normalized | None:
    """Clean an entry and compute its identity; None when it has neither link nor guid.

    Text is cleaned, never folded (:func:`crawler.text.normalize_text`); the content hash
    folds (:func:`crawler.dedupe.content_hash`).
    """
    url = unwrap_redirect(entry.url or "")
    canonical: str | None = canonical_url(url)
    guid = (entry.guid or "").strip() or None
    if not canonical or not canonical.startswith(("http://", "https://")):
        if guid is None:
            return None
        url, canonical = "", None
    title = normalize_text(entry.title)[:MAX_TITLE]
    summary = normalize_text(entry.summary, keep_paragraphs=True)[:MAX_SUMMARY]
    body = normalize_text(entry.body, keep_paragraphs=True)[:MAX_BODY]
    merged_tags = list(dict.fromkeys([*tags, *entry.tags]))[:MAX_TAGS]
    key_text = KeyText.of(title, body or summary)
    return Normalized(
        source_id=entry.source_id,
        url=url,
        canonical_url=canonical,
        guid=guid,
        title=title,
        summary=summary,
        body=body,
        author=normalize_text(entry.author)[:500] or None,
        publisher=normalize_text(entry.publisher)[:500] or None,
        language=(entry.language or language or None),
        tags=merged_tags,
        published_at=entry.published_at,
        date_rule=entry.date_rule,
        content_hash=key_text.digest(),
        key_text=key_text,
    )


def text_work(item: Normalized) -> Prepared:
    """Storage's text work on ``item`` (:func:`crawler.story_text.prepare` of its title and
    text, body else summary): the one a parser process did, or done now."""
    if item.prepared is not None:
        return item.prepared
    return prepare(item.title, item.body or item.summary, item.content_hash, item.key_text)
