"""Storage: normalise an entry, drop exact duplicates, insert the article, attach it to a story.

Identity: an entry with an http(s) link is the article at its canonical URL (tracking
parameters stripped, a fragment that tells entries of one page apart kept); an entry with
only a guid is the article with that guid from that source, with no URL. Exact duplicates
are, in this order: the same canonical URL (anywhere), the same guid from the same source,
the same content hash from the same source. The same text from *another* source is stored
and joins the existing story (syndication), so it alerts once per story.

Every entry a poll reads ends up counted: stored, or skipped with a reason a user sees
(:func:`skip_reason`: "duplicate: same URL", "failed to store: …").

The crawler stores the entries of one response together (:func:`store_many`): one
transaction, one savepoint per item, so a failing or racing item loses only itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, false, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.search_index import index_articles
from crawler.dedupe import attach_article, content_hash
from crawler.items import Entry
from crawler.models import Article, utcnow
from crawler.reasons import NO_IDENTITY, duplicate_reason, failed_reason
from crawler.text import normalize_text
from crawler.urls import canonical_url, unwrap_redirect

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
MAX_BODY = 500_000
MAX_TAGS = 50
_LOOKUP_CHUNK = 500
# Items per transaction: bounds how long one batch holds SQLite's write lock.
BATCH_SIZE = 100
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


@dataclass(frozen=True, slots=True)
class Stored:
    """The result of storing one entry: the new article id, or why it was a duplicate."""

    article_id: int | None
    duplicate_of: str | None = None  # "url", "guid", "content" or "race"
    story_id: int | None = None
    joined_story: bool = False
    error: str | None = None  # set when storing failed (neither stored nor a duplicate)


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
        content_hash=content_hash(title, body or summary),
    )


def find_duplicate(session: Session, item: Normalized) -> str | None:
    """Why ``item`` is already stored ("url", "guid", "content"), or None when it is new.

    One query: the three checks are EXISTS subqueries, each served by its own index.
    """
    by_url = (
        exists().where(Article.canonical_url == item.canonical_url)
        if item.canonical_url
        else false()
    )
    by_guid = (
        exists().where(Article.source_id == item.source_id, Article.guid == item.guid)
        if item.guid
        else false()
    )
    by_content = (
        exists().where(
            Article.content_hash == item.content_hash, Article.source_id == item.source_id
        )
        if item.content_hash and (item.summary or item.body)
        else false()
    )
    url, guid, content = session.execute(select(by_url, by_guid, by_content)).one()
    if url:
        return "url"
    if guid:
        return "guid"
    return "content" if content else None


class StoredKeys:
    """The identities stored so far among those of a batch: checks a batch in three queries.

    :meth:`load` reads which canonical URLs, (source, guid) pairs and (source, content hash)
    pairs of the batch are stored; :meth:`add` records each insert of the batch, so
    :meth:`duplicate` answers like :func:`find_duplicate` for every item in turn.
    """

    def __init__(self) -> None:
        self.urls: set[str] = set()
        self.guids: set[tuple[str, str]] = set()
        self.hashes: set[tuple[str, str]] = set()

    @classmethod
    def load(cls, session: Session, items: Sequence[Normalized]) -> StoredKeys:
        """The stored identities among ``items`` (at most ``_LOOKUP_CHUNK`` of them)."""
        keys = cls()
        urls = list({i.canonical_url for i in items if i.canonical_url})
        keys.urls.update(
            session.scalars(select(Article.canonical_url).where(Article.canonical_url.in_(urls)))
        )
        guids: dict[str, set[str]] = {}
        hashes: dict[str, set[str]] = {}
        for i in items:
            if i.guid:
                guids.setdefault(i.source_id, set()).add(i.guid)
            if i.content_hash and (i.summary or i.body):
                hashes.setdefault(i.source_id, set()).add(i.content_hash)
        for source_id, values in guids.items():
            keys.guids.update(
                (source_id, g)
                for g in session.scalars(
                    select(Article.guid).where(
                        Article.source_id == source_id, Article.guid.in_(list(values))
                    )
                )
                if g is not None
            )
        for source_id, values in hashes.items():
            keys.hashes.update(
                (source_id, h)
                for h in session.scalars(
                    select(Article.content_hash)
                    .where(
                        Article.source_id == source_id,
                        Article.content_hash.in_(list(values)),
                    )
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
    index_articles(session.connection(), [article])
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
    dup = find_duplicate(session, item)
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
                results.append(Stored(None, error=_describe(exc)))
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
            results.append(Stored(None, error=_describe(exc)))
    return results


def _name(item: Normalized) -> str:
    return item.canonical_url or f"guid {item.guid!r} of {item.source_id}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def skip_reason(result: Stored) -> str | None:
    """Why ``result`` stored nothing, in words a user sees; None when it was stored."""
    if result.article_id is not None:
        return None
    if result.error is not None:
        return failed_reason(result.error)
    return duplicate_reason(result.duplicate_of or "unknown")


def known_items(session: Session, source_id: str, items: Sequence[Normalized]) -> list[str | None]:
    """For each item, "url" or "guid" when its canonical URL or (source, guid) is stored."""
    url_list = list({i.canonical_url for i in items if i.canonical_url})
    seen_urls: set[str] = set()
    for start in range(0, len(url_list), _LOOKUP_CHUNK):
        chunk = url_list[start : start + _LOOKUP_CHUNK]
        seen_urls.update(
            session.scalars(select(Article.canonical_url).where(Article.canonical_url.in_(chunk)))
        )
    seen_guids = stored_guids(session, source_id, [i.guid for i in items if i.guid])
    return [
        "url" if i.canonical_url in seen_urls else "guid" if i.guid in seen_guids else None
        for i in items
    ]


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


class StoragePipeline:
    """Scrapy item pipeline storing the entries of a poll pass.

    It reads the pass's sources and database from the running :class:`PollSpider`. An
    :class:`EntryBatch` (the new entries of one page) or a single :class:`Entry` (after an
    article or redirector fetch) is stored in one worker-thread call and one transaction;
    batches are written one at a time, so the reactor keeps downloading meanwhile.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._lock = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        """Build the pipeline for ``crawler``."""
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        """Store an :class:`EntryBatch` or :class:`Entry`; count the results in its outcome."""
        if not isinstance(item, EntryBatch | Entry):
            return item
        spider: Any = self.crawler.spider
        run = spider.runs.get(item.source_id)
        if run is None:
            return item
        if isinstance(item, Entry):
            normalized = normalize(item, language=run.config.language, tags=run.config.tags)
            if normalized is None:
                run.outcome.skip(NO_IDENTITY)
                return item
            items = [normalized]
        else:
            items = item.items
        async with self._lock:
            try:
                results = await asyncio.to_thread(
                    store_many,
                    spider.sessions,
                    items,
                    baseline=run.baseline,
                    official=OFFICIAL_TAG in run.config.tags,
                )
            except Exception as exc:  # one bad batch must not lose the rest of the pass
                logger.exception("storing items of %s failed", item.source_id)
                run.outcome.skip(failed_reason(_describe(exc)), len(items))
                return item
        outcome = run.outcome
        for result in results:
            reason = skip_reason(result)
            if reason is None:
                outcome.new += 1
                outcome.new_ids.append(result.article_id)  # type: ignore[arg-type]
            else:
                outcome.skip(reason)
        return item
