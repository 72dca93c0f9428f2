"""Storage: drop exact duplicates, insert the article, attach it to a story.

Exact duplicates are, in this order: the same canonical URL (anywhere), the same guid from
the same source, the same content hash from the same source (:class:`StoredKeys`, the one
identity check, also used by the spider to skip known entries). The same text from *another*
source is stored and joins the existing story (syndication), so it alerts once per story.

Every entry a poll reads ends up counted: stored, or skipped with a reason a user sees
(:func:`skip_reason`: "duplicate: same URL", "failed to store: …").

The crawler stores the entries of one response together (:func:`store_many`), and the
responses that queue up in a busy pass in groups (:class:`crawler.pipelines.StoragePipeline`),
in batches:
per batch one transaction, one identity lookup, one multi-row INSERT of the new articles and
bulk story writes (:func:`crawler.dedupe.attach_batch`); within a batch, a later copy of an
earlier item (same URL, guid or text) is its duplicate, and a near-copy joins its story,
exactly as if the items were stored one by one. A batch that fails (a concurrent writer
took one of its URLs, or any error) is stored again one transaction per item, so a racing
or failing item loses only itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from crawler.db import dialect_insert
from crawler.dedupe import Prepared, attach_batch
from crawler.models import Article, utcnow
from crawler.normalize import Normalized, text_work
from crawler.reasons import duplicate_reason, failed_reason
from crawler.search_index import index_articles

logger = logging.getLogger(__name__)

_LOOKUP_CHUNK = 500
# Items per transaction: bounds how long one batch holds SQLite's write lock (about 0.2 s
# at 250). Each item adds 32 band rows at random places of one index, and a commit writes
# every page it touched: a 1,000-feed first pass took 14.2-14.6 s at 250 against
# 15.2-16.5 s at 100, for 5 MiB more at its peak (500: 13.9-14.3 s, 19 MiB more).
BATCH_SIZE = 250


@dataclass(frozen=True, slots=True)
class Stored:
    """The result of storing one entry: the new article id, or why it was a duplicate."""

    article_id: int | None
    duplicate_of: str | None = None  # "url", "guid", "content" or "race"
    story_id: int | None = None
    joined_story: bool = False
    error: str | None = None  # set when storing failed (neither stored nor a duplicate)


_STORED_URLS = select(Article.canonical_url).where(
    Article.canonical_url.in_(bindparam("keys", expanding=True))
)
_STORED_GUIDS = select(Article.guid).where(
    Article.source_id == bindparam("source"), Article.guid.in_(bindparam("keys", expanding=True))
)
_STORED_HASHES = (
    select(Article.content_hash)
    .where(
        Article.source_id == bindparam("source"),
        Article.content_hash.in_(bindparam("keys", expanding=True)),
    )
    .distinct()
)


class StoredKeys:
    """The one identity check: which identities of a batch are stored, in three queries.

    :meth:`load` reads which canonical URLs, (source, guid) pairs and (source, content hash)
    pairs of the batch are stored; :meth:`add` records each insert of the batch, so
    :meth:`duplicate` answers for every item in turn as if the earlier ones were stored.
    """

    def __init__(self) -> None:
        self.urls: set[str] = set()
        self.guids: set[tuple[str, str]] = set()
        self.hashes: set[tuple[str, str]] = set()

    @classmethod
    def load(cls, session: Session, items: Sequence[Normalized]) -> StoredKeys:
        """The stored identities among ``items`` (queries of at most ``_LOOKUP_CHUNK`` keys)."""
        keys = cls()
        conn = session.connection()
        urls = list({i.canonical_url for i in items if i.canonical_url})
        for chunk in _chunks(urls):
            keys.urls.update(conn.execute(_STORED_URLS, {"keys": chunk}).scalars())
        guids: dict[str, set[str]] = {}
        hashes: dict[str, set[str]] = {}
        for i in items:
            if i.guid:
                guids.setdefault(i.source_id, set()).add(i.guid)
            if i.content_hash and (i.summary or i.body):
                hashes.setdefault(i.source_id, set()).add(i.content_hash)
        for query, wanted, found in (
            (_STORED_GUIDS, guids, keys.guids),
            (_STORED_HASHES, hashes, keys.hashes),
        ):
            for source_id, values in wanted.items():
                for chunk in _chunks(list(values)):
                    rows = conn.execute(query, {"source": source_id, "keys": chunk}).scalars()
                    found.update((source_id, v) for v in rows if v is not None)
        return keys

    def duplicate(self, item: Normalized) -> str | None:
        """Why ``item`` is a duplicate ("url", "guid", "content"), or None."""
        if item.canonical_url and item.canonical_url in self.urls:
            return "url"
        if item.guid and (item.source_id, item.guid) in self.guids:
            return "guid"
        if (
            item.content_hash
            and (item.summary or item.body)
            and (item.source_id, item.content_hash) in self.hashes
        ):
            return "content"
        return None

    def add(self, item: Normalized) -> None:
        """Record that ``item`` was stored."""
        if item.canonical_url:
            self.urls.add(item.canonical_url)
        if item.guid:
            self.guids.add((item.source_id, item.guid))
        if item.content_hash:
            self.hashes.add((item.source_id, item.content_hash))


class _Indexed(NamedTuple):
    """What the full-text index reads of a new article."""

    id: int
    title: str
    summary: str
    body: str


class _Conflict(Exception):
    """A concurrent writer stored one of the batch's identities after the batch's lookup."""


def store_one(
    sessions: sessionmaker[Session],
    item: Normalized,
    *,
    baseline: bool,
    now: datetime | None = None,
    official: bool = False,
) -> Stored:
    """Store one item in its own transaction; a concurrent insert counts as a duplicate."""
    try:
        return _store_batch(sessions, [item], baseline, now or utcnow(), official)[0]
    except _Conflict:
        return Stored(None, "race")


def store_many(
    sessions: sessionmaker[Session],
    items: Sequence[Normalized],
    *,
    baseline: bool,
    now: datetime | None = None,
    official: bool = False,
    batch_size: int = BATCH_SIZE,
) -> list[Stored]:
    """Store ``items`` in order, with the results of :func:`store_one` on each in turn.

    Every ``batch_size`` items share one transaction (:func:`_store_batch`). If it fails (a
    concurrent writer took one of its keys, or any error), its items are stored again one
    transaction each: a racing item then counts as a duplicate ("race"), a failing one is
    skipped with its ``error`` set, and the rest are stored. Returns one :class:`Stored` per
    item.
    """
    now = now or utcnow()
    results: list[Stored] = []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        try:
            results.extend(_store_batch(sessions, chunk, baseline, now, official))
        except Exception as exc:
            if not isinstance(exc, _Conflict):
                logger.warning(
                    "storing %d items in one transaction failed; storing them one by one",
                    len(chunk),
                    exc_info=True,
                )
            results.extend(_store_each(sessions, chunk, baseline, now, official))
    return results


def _store_batch(
    sessions: sessionmaker[Session],
    items: Sequence[Normalized],
    baseline: bool,
    now: datetime,
    official: bool,
) -> list[Stored]:
    """Store ``items`` in one transaction: one identity lookup, one multi-row INSERT … ON
    CONFLICT DO NOTHING … RETURNING of the new articles, their full-text keys, then
    :func:`attach_batch`.

    Raises :class:`_Conflict` (rolling everything back) when the INSERT skipped a row.
    """
    results: list[Stored | None] = [None] * len(items)
    fresh: list[int] = []
    with sessions() as session, session.begin():
        keys = StoredKeys.load(session, items)
        for i, item in enumerate(items):
            dup = keys.duplicate(item)
            if dup:
                results[i] = Stored(None, dup)
            else:
                keys.add(item)  # a later copy within the batch is a duplicate of this one
                fresh.append(i)
        if fresh:
            new = [items[i] for i in fresh]
            texts = [text_work(n) for n in new]
            ids = _insert_articles(session, new, texts, baseline, now)
            index_articles(
                session.connection(),
                [
                    _Indexed(a_id, n.title, n.summary, n.body)
                    for a_id, n in zip(ids, new, strict=True)
                ],
            )
            placed = attach_batch(
                session, list(zip(ids, texts, strict=True)), official=official, now=now
            )
            for i, a_id, (story_id, created) in zip(fresh, ids, placed, strict=True):
                results[i] = Stored(a_id, None, story_id, not created)
    return [r for r in results if r is not None]


def _insert_articles(
    session: Session,
    items: Sequence[Normalized],
    texts: Sequence[Prepared],
    baseline: bool,
    now: datetime,
) -> list[int]:
    """Insert ``items`` (not yet in a story) in one statement; their ids, in order."""
    rows = [
        {
            "source_id": item.source_id,
            "url": item.url,
            "canonical_url": item.canonical_url,
            "guid": item.guid,
            "title": item.title,
            "summary": item.summary,
            "body": item.body,
            "author": item.author,
            "publisher": item.publisher,
            "language": item.language,
            "tags": item.tags,
            "published_at": item.published_at,
            "date_rule": item.date_rule,
            "fetched_at": now,
            "content_hash": text.digest,
            "minhash": text.blob,
            "baseline": baseline,
            "matched_at": now if baseline else None,
        }
        for item, text in zip(items, texts, strict=True)
    ]
    table = Article.__table__
    stmt = (
        dialect_insert(session, table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.canonical_url, table.c.source_id, table.c.guid)
    )
    ids: dict[object, int] = {}
    for a_id, url, source_id, guid in session.connection().execute(stmt, rows):
        ids[url if url is not None else (source_id, guid)] = a_id
    if len(ids) != len(rows):
        raise _Conflict
    return [ids[i.canonical_url if i.canonical_url else (i.source_id, i.guid)] for i in items]


def _store_each(
    sessions: sessionmaker[Session],
    items: Sequence[Normalized],
    baseline: bool,
    now: datetime,
    official: bool,
) -> list[Stored]:
    results: list[Stored] = []
    for item in items:
        try:
            results.append(store_one(sessions, item, baseline=baseline, now=now, official=official))
        except Exception as exc:  # one bad row must not lose the rest
            logger.warning("storing %s failed", _name(item), exc_info=True)
            results.append(Stored(None, error=describe(exc)))
    return results


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + _LOOKUP_CHUNK] for i in range(0, len(values), _LOOKUP_CHUNK)]


def _name(item: Normalized) -> str:
    return item.canonical_url or f"guid {item.guid!r} of {item.source_id}"


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def skip_reason(result: Stored) -> str | None:
    """Why ``result`` stored nothing, in words a user sees; None when it was stored."""
    if result.article_id is not None:
        return None
    if result.error is not None:
        return failed_reason(result.error)
    return duplicate_reason(result.duplicate_of or "unknown")


def known_items(session: Session, items: Sequence[Normalized]) -> list[str | None]:
    """For each item, why it is already stored ("url", "guid", "content"), or None."""
    keys = StoredKeys.load(session, items)
    return [keys.duplicate(i) for i in items]


def stored_guids(session: Session, source_id: str, guids: Sequence[str]) -> set[str]:
    """Which of ``guids`` the source already has an article for."""
    seen: set[str] = set()
    guid_list = list(set(guids))
    for start in range(0, len(guid_list), _LOOKUP_CHUNK):
        chunk = guid_list[start : start + _LOOKUP_CHUNK]
        seen.update(
            g
            for (g,) in session.execute(
                select(Article.guid).where(
                    tuple_(Article.source_id, Article.guid).in_([(source_id, g) for g in chunk])
                )
            )
        )
    return seen
