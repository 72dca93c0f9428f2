"""Storage: normalise an entry, drop exact duplicates, insert the article, attach it to a story.

Exact duplicates are, in this order: the same canonical URL (anywhere), the same guid from
the same source, the same content hash from the same source. The same text from *another*
source is stored and joins the existing story (syndication), so it alerts once per story.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crawler.dedupe import attach_article, content_hash
from crawler.items import Entry
from crawler.models import Article, utcnow
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
OFFICIAL_TAG = "official"


@dataclass(frozen=True, slots=True)
class Normalized:
    """An entry ready to store: cleaned text, its identity and its content hash."""

    source_id: str
    url: str
    canonical_url: str
    guid: str | None
    title: str
    summary: str
    body: str
    author: str | None
    language: str | None
    tags: list[str]
    published_at: datetime | None
    date_rule: str | None
    content_hash: str | None


@dataclass(frozen=True, slots=True)
class Stored:
    """The result of storing one entry: the new article id, or why it was a duplicate."""

    article_id: int | None
    duplicate_of: str | None = None  # "url", "guid", "content", "race" or "invalid"
    story_id: int | None = None
    joined_story: bool = False


def normalize(
    entry: Entry,
    *,
    language: str | None = None,
    tags: Sequence[str] = (),
) -> Normalized | None:
    """Clean an entry and compute its identity; None when it has no http(s) link."""
    url = unwrap_redirect(entry.url or "")
    canonical = canonical_url(url)
    if not canonical.startswith(("http://", "https://")):
        return None
    title = normalize_text(entry.title)[:MAX_TITLE]
    summary = normalize_text(entry.summary, keep_paragraphs=True)[:MAX_SUMMARY]
    body = normalize_text(entry.body, keep_paragraphs=True)[:MAX_BODY]
    merged_tags = list(dict.fromkeys([*tags, *entry.tags]))[:MAX_TAGS]
    guid = (entry.guid or "").strip() or None
    return Normalized(
        source_id=entry.source_id,
        url=url,
        canonical_url=canonical,
        guid=guid,
        title=title,
        summary=summary,
        body=body,
        author=normalize_text(entry.author)[:500] or None,
        language=(entry.language or language or None),
        tags=merged_tags,
        published_at=entry.published_at,
        date_rule=entry.date_rule,
        content_hash=content_hash(title, body or summary),
    )


def find_duplicate(session: Session, item: Normalized) -> str | None:
    """Why ``item`` is already stored ("url", "guid", "content"), or None when it is new."""
    if session.scalar(select(Article.id).where(Article.canonical_url == item.canonical_url)):
        return "url"
    if item.guid and session.scalar(
        select(Article.id).where(Article.source_id == item.source_id, Article.guid == item.guid)
    ):
        return "guid"
    if (
        item.content_hash
        and (item.summary or item.body)
        and session.scalar(
            select(Article.id)
            .where(
                Article.content_hash == item.content_hash,
                Article.source_id == item.source_id,
            )
            .limit(1)
        )
    ):
        return "content"
    return None


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
    article = Article(
        source_id=item.source_id,
        url=item.url,
        canonical_url=item.canonical_url,
        guid=item.guid,
        title=item.title,
        summary=item.summary,
        body=item.body,
        author=item.author,
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


def known_items(session: Session, source_id: str, items: Sequence[Normalized]) -> list[bool]:
    """For each item, whether its canonical URL or (source, guid) is already stored."""
    urls = {i.canonical_url for i in items}
    guids = {i.guid for i in items if i.guid}
    seen_urls: set[str] = set()
    seen_guids: set[str] = set()
    url_list, guid_list = list(urls), list(guids)
    for start in range(0, len(url_list), _LOOKUP_CHUNK):
        chunk = url_list[start : start + _LOOKUP_CHUNK]
        seen_urls.update(
            session.scalars(select(Article.canonical_url).where(Article.canonical_url.in_(chunk)))
        )
    for start in range(0, len(guid_list), _LOOKUP_CHUNK):
        chunk = guid_list[start : start + _LOOKUP_CHUNK]
        seen_guids.update(
            g
            for (g,) in session.execute(
                select(Article.guid).where(
                    tuple_(Article.source_id, Article.guid).in_([(source_id, g) for g in chunk])
                )
            )
        )
    return [i.canonical_url in seen_urls or (i.guid in seen_guids) for i in items]


class StoragePipeline:
    """Scrapy item pipeline storing :class:`Entry` items of a poll pass.

    It reads the pass's sources and database from the running :class:`PollSpider`; each
    item is written in a worker thread, one at a time, so the reactor keeps downloading.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._lock = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        """Build the pipeline for ``crawler``."""
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        """Store an :class:`Entry`; record the result in its source's outcome."""
        if not isinstance(item, Entry):
            return item
        spider: Any = self.crawler.spider
        run = spider.runs.get(item.source_id)
        if run is None:
            return item
        normalized = normalize(item, language=run.config.language, tags=run.config.tags)
        if normalized is None:
            run.outcome.warnings.append(f"item without a link skipped: {item.title[:80]!r}")
            return item
        async with self._lock:
            try:
                result = await asyncio.to_thread(
                    store_one,
                    spider.sessions,
                    normalized,
                    baseline=run.baseline,
                    official=OFFICIAL_TAG in run.config.tags,
                )
            except Exception as exc:  # one bad row must not lose the rest of the pass
                logger.exception("storing %s failed", normalized.canonical_url)
                run.outcome.warnings.append(f"store failed: {type(exc).__name__}: {exc}")
                return item
        if result.article_id is not None:
            run.outcome.new += 1
            run.outcome.new_ids.append(result.article_id)
        else:
            run.outcome.duplicates += 1
        return item
