"""Storage: drop exact duplicates, insert the article, attach it to a story.

Exact duplicates are, in this order: the same canonical URL (anywhere), the same guid from
the same source, the same content hash from the same source (:class:`StoredKeys`, the one
identity check, also used by the spider to skip known entries). The same text from *another*
source is stored and joins the existing story (syndication), so it alerts once per story.

Every entry a poll reads ends up counted: stored, or skipped with a reason a user sees
(:func:`skip_reason`: "duplicate: same URL", "failed to store: …").

The crawler stores the entries of one response together (:func:`store_many`): one
transaction, one savepoint per item, so a failing or racing item loses only itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crawler.dedupe import attach_article
from crawler.models import Article, utcnow
from crawler.normalize import Normalized
from crawler.reasons import duplicate_reason, failed_reason

logger = logging.getLogger(__name__)

_LOOKUP_CHUNK = 500
# Items per transaction: bounds how long one batch holds SQLite's write lock.
BATCH_SIZE = 100


@dataclass(frozen=True, slots=True)
class Stored:
    """The result of storing one entry: the new article id, or why it was a duplicate."""

    article_id: int | None
    duplicate_of: str | None = None  # "url", "guid", "content" or "race"
    story_id: int | None = None
    joined_story: bool = False
    error: str | None = None  # set when storing failed (neither stored nor a duplicate)


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
        urls = list({i.canonical_url for i in items if i.canonical_url})
        for chunk in _chunks(urls):
            keys.urls.update(
                session.scalars(
                    select(Article.canonical_url).where(Article.canonical_url.in_(chunk))
                )
            )
        guids: dict[str, set[str]] = {}
        hashes: dict[str, set[str]] = {}
        for i in items:
            if i.guid:
                guids.setdefault(i.source_id, set()).add(i.guid)
            if i.content_hash and (i.summary or i.body):
                hashes.setdefault(i.source_id, set()).add(i.content_hash)
        for source_id, values in guids.items():
            for chunk in _chunks(list(values)):
                keys.guids.update(
                    (source_id, g)
                    for g in session.scalars(
                        select(Article.guid).where(
                            Article.source_id == source_id, Article.guid.in_(chunk)
                        )
                    )
                    if g is not None
                )
        for source_id, values in hashes.items():
            for chunk in _chunks(list(values)):
                keys.hashes.update(
                    (source_id, h)
                    for h in session.scalars(
                        select(Article.content_hash)
                        .where(Article.source_id == source_id, Article.content_hash.in_(chunk))
                        .distinct()
                    )
                    if h is not None
                )
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


def _insert(
    session: Session, item: Normalized, *, baseline: bool, now: datetime, official: bool
) -> Stored:
    """Insert ``item`` (known to be new) and attach it to a story."""
    article = Article(
        source_id=item.source_id,
        url=item.url,
        canonical_url=item.canonical_url,
        guid=item.guid,
        title=item.title,
        summary=item.summary,
        body=item.body,
        author=item.author,
        publisher=item.publisher,
        language=item.language,
        tags=item.tags,
        published_at=item.published_at,
        date_rule=item.date_rule,
        fetched_at=now,
        content_hash=item.content_hash,
        baseline=baseline,
        matched_at=now if baseline else None,
    )
    session.add(article)
    session.flush()
    story, created = attach_article(session, article, official=official, now=now)
    return Stored(article.id, None, story.id, not created)


def store(
    session: Session,
    item: Normalized,
    *,
    baseline: bool,
    now: datetime,
    official: bool = False,
) -> Stored:
    """Insert ``item`` unless it is a duplicate, then attach it to a story (no commit).

    Baseline articles get ``matched_at`` so the matcher never alerts on them; ``official``
    lets the article lead the story it joins (sources tagged ``official``).
    """
    dup = StoredKeys.load(session, [item]).duplicate(item)
    if dup:
        return Stored(None, dup)
    return _insert(session, item, baseline=baseline, now=now, official=official)


def store_one(
    sessions: sessionmaker[Session],
    item: Normalized,
    *,
    baseline: bool,
    now: datetime | None = None,
    official: bool = False,
) -> Stored:
    """Store one item in its own transaction; a concurrent insert counts as a duplicate."""
    with sessions() as session:
        try:
            with session.begin():
                return store(
                    session, item, baseline=baseline, now=now or utcnow(), official=official
                )
        except IntegrityError:
            return Stored(None, "race")


def store_many(
    sessions: sessionmaker[Session],
    items: Sequence[Normalized],
    *,
    baseline: bool,
    now: datetime | None = None,
    official: bool = False,
) -> list[Stored]:
    """Store ``items`` in order, like :func:`store_one` each, in few transactions.

    Every ``BATCH_SIZE`` items share one transaction with a savepoint per item: a unique-key
    race loses only that item ("race"); an item that fails otherwise is skipped (its
    ``error`` set) and the rest commit. If a whole transaction fails, its items are retried
    one transaction each. Returns one :class:`Stored` per item.
    """
    now = now or utcnow()
    results: list[Stored] = []
    for start in range(0, len(items), BATCH_SIZE):
        chunk = items[start : start + BATCH_SIZE]
        try:
            results.extend(_store_chunk(sessions, chunk, baseline, now, official))
        except Exception:  # the transaction as a whole failed: fall back to one per item
            logger.warning(
                "storing %d items in one transaction failed; storing them one by one",
                len(chunk),
                exc_info=True,
            )
            results.extend(_store_each(sessions, chunk, baseline, now, official))
    return results


def _store_chunk(
    sessions: sessionmaker[Session],
    items: Sequence[Normalized],
    baseline: bool,
    now: datetime,
    official: bool,
) -> list[Stored]:
    results: list[Stored] = []
    with sessions() as session, session.begin():
        stored = StoredKeys.load(session, items)
        for item in items:
            dup = stored.duplicate(item)
            if dup:
                results.append(Stored(None, dup))
                continue
            try:
                with session.begin_nested():
                    result = _insert(session, item, baseline=baseline, now=now, official=official)
            except IntegrityError:
                results.append(Stored(None, "race"))
                continue
            except Exception as exc:  # skip this item, keep the others of the transaction
                logger.warning("storing %s failed", _name(item), exc_info=True)
                results.append(Stored(None, error=describe(exc)))
                continue
            stored.add(item)
            results.append(result)
    return results


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
