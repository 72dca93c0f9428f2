"""Follow-up fetches of a poll: full article text, and Google News redirector links.

Pure functions; the spider does the requests. Article pages are fetched only for new items
of sources with ``fetch_article: true``, a bounded number per source and pass.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from urllib.parse import urlsplit

from crawler.extract import ExtractedArticle
from crawler.items import Entry

# Google News article pages name the publisher's URL in a data attribute.
_DATA_N_AU = re.compile(rb'data-n-au="([^"]+)"')
_HREF = re.compile(rb'<a\b[^>]*?\bhref="(https?://[^"]+)"', re.IGNORECASE)
_GOOGLE = re.compile(r"(^|\.)(google|gstatic|googleusercontent|youtube)\.[a-z.]+$")


def merge_article(entry: Entry, article: ExtractedArticle | None) -> Entry:
    """``entry`` completed with what the article page adds (body; missing metadata)."""
    if article is None:
        return entry
    published, rule = entry.published_at, entry.date_rule
    if published is None and article.published_at is not None:
        published, rule = article.published_at, article.date_rule
    return replace(
        entry,
        title=entry.title or article.title,
        body=article.text or entry.body,
        author=entry.author or article.author,
        language=entry.language or article.language,
        published_at=published,
        date_rule=rule,
    )


def google_news_target(final_url: str, body: bytes) -> str | None:
    """The publisher URL behind a fetched Google News article link, or None if not found."""
    if not _is_google(final_url):
        return final_url
    for pattern in (_DATA_N_AU, _HREF):
        for match in pattern.finditer(body[:2_000_000]):
            url = html.unescape(match.group(1).decode("utf-8", "replace"))
            if not _is_google(url):
                return url
    return None


def _is_google(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return bool(_GOOGLE.search(host))
