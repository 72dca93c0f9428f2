"""Article text for stored items that have none yet.

A source with ``fetch_article: true`` stores some items without their page's text: the
first poll is a silent baseline (a sitemap's 500 URLs are stored as bare links, fetched by
nobody), and a pass fetches at most its article budget of new items. Such articles would
never match a backtest or a catch-up. So every pass of such a source that gets an answer
(new items or a 304) spends what is left of its article budget on them:

1. :func:`pending_text` picks the source's articles with an empty body and fewer than
   ``MAX_TEXT_ATTEMPTS`` attempts, fewest attempts first, then newest first (the ones a
   reader is likeliest to search for), at most the budget left;
2. the spider fetches each page like any article page (robots.txt, User-Agent, per-host
   limits, size cap);
3. :func:`fill_text` counts the attempt and, when the page gave text, writes the body (and
   a missing title, date, author or language), refreshes the content hash and band keys
   and keeps the story. A failed fetch counts the attempt too (:func:`count_attempt`), so a
   page that never yields text stops being fetched after ``MAX_TEXT_ATTEMPTS`` passes.

Baseline articles keep ``matched_at``: a late text is archive material, never an alert.
The source lease keeps two pollers from filling one source at once; an article deleted by
retention in between is skipped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crawler.dedupe import reindex_article
from crawler.extract import ExtractedArticle as PageText
from crawler.models import Article, utcnow
from crawler.normalize import MAX_BODY, MAX_TITLE
from crawler.search_index import index_articles

MAX_TEXT_ATTEMPTS = 3


def pending_text(session: Session, source_id: str, limit: int) -> list[tuple[int, str]]:
    """(article id, url) of up to ``limit`` articles of ``source_id`` still without text."""
    if limit <= 0:
        return []
    rows = session.execute(
        select(Article.id, Article.url)
        .where(
            Article.source_id == source_id,
            Article.body == "",
            Article.text_attempts < MAX_TEXT_ATTEMPTS,
        )
        .order_by(Article.text_attempts, Article.id.desc())
        .limit(limit)
    )
    return [(article_id, url) for article_id, url in rows]


def count_attempt(session: Session, article_id: int) -> None:
    """Count a fetch of the article's page that gave no text."""
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(text_attempts=Article.text_attempts + 1)
    )


def fill_text(
    session: Session, article_id: int, page: PageText | None, *, now: datetime | None = None
) -> bool:
    """Store the text extracted from an article's page; True when the body was written.

    Only an empty body is filled, and only missing metadata is added: what the feed said
    stays. The caller commits.
    """
    article = session.get(Article, article_id)
    if article is None:
        return False
    article.text_attempts = (article.text_attempts or 0) + 1
    if page is None or not page.text.strip() or article.body:
        return False
    article.body = page.text[:MAX_BODY]
    article.title = article.title or page.title[:MAX_TITLE]
    if article.published_at is None and page.published_at is not None:
        article.published_at, article.date_rule = page.published_at, page.date_rule
    article.author = article.author or page.author
    article.language = article.language or page.language
    reindex_article(session, article, now=now or utcnow())
    index_articles(session.connection(), [article])
    return True
