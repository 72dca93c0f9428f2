"""Storage without a crawl: normalisation, exact duplicates, baseline flags, story joining."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from crawler.items import Entry
from crawler.models import Article, Story
from crawler.pipelines import known_items, normalize, store_one
from crawler.sources import FeedSource
from crawler.state import sync_sources

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = (
    "The intellectual property office announced on Monday that examination fees for "
    "invention patents will be adjusted from next quarter, citing higher workloads and "
    "a backlog of applications filed by semiconductor companies during the past year."
)


def _setup(sessions: Any, *ids: str) -> None:
    with sessions() as s, s.begin():
        sync_sources(s, [FeedSource(id=i, type="rss", url=f"https://{i}.example/") for i in ids])


def _store(sessions: Any, entry: Entry, *, baseline: bool = False) -> Any:
    item = normalize(entry, language="en", tags=["ip"])
    assert item is not None
    return store_one(sessions, item, baseline=baseline, now=NOW)


def test_normalize_cleans_text_and_identity() -> None:
    entry = Entry(
        source_id="a",
        url="  HTTPS://Example.ORG:443/news/1?utm_source=rss&id=7#top ",
        title="  Patent\u200b fees\n rise ",
        summary="<b>not html here</b>\r\n\r\n\r\nsecond",
        guid="  g-1 ",
        tags=("ip", "fees"),
    )
    item = normalize(entry, language="en", tags=["official", "ip"])
    assert item is not None
    assert item.canonical_url == "https://example.org/news/1?id=7"
    assert item.title == "Patent fees rise"
    assert item.guid == "g-1" and item.language == "en"
    assert item.tags == ["official", "ip", "fees"]
    assert item.content_hash
    assert normalize(Entry(source_id="a", url="mailto:x@example.org")) is None


def test_duplicates_by_url_guid_and_content(db: Any) -> None:
    _, sessions = db
    _setup(sessions, "a", "b")
    first = _store(sessions, Entry("a", "https://x.example/p/1?utm_medium=feed", "Fees", BODY))
    assert first.article_id is not None and first.duplicate_of is None
    same_url = _store(sessions, Entry("a", "https://x.example/p/1#comments", "Fees (updated)"))
    assert same_url.duplicate_of == "url"
    guided = _store(sessions, Entry("a", "https://x.example/p/2", "Other", guid="G"))
    assert guided.article_id is not None
    assert _store(
        sessions, Entry("a", "https://x.example/p/3", "Moved", guid="G")
    ).duplicate_of == ("guid")
    # Same text at another URL of the same source: a duplicate.
    copy = _store(sessions, Entry("a", "https://x.example/print/1", "Fees", BODY))
    assert copy.duplicate_of == "content"
    # Same text from another source: stored, and it joins the first story.
    synd = _store(sessions, Entry("b", "https://y.example/wire/1", "Fees", BODY))
    assert synd.article_id is not None and synd.joined_story
    assert synd.story_id == first.story_id
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 3
        story = s.get(Story, first.story_id)
        assert story is not None and story.article_count == 2


def test_baseline_articles_are_marked_matched(db: Any) -> None:
    _, sessions = db
    _setup(sessions, "a")
    old = _store(sessions, Entry("a", "https://x.example/old", "Old"), baseline=True)
    new = _store(sessions, Entry("a", "https://x.example/new", "New"))
    with sessions() as s:
        a_old, a_new = s.get(Article, old.article_id), s.get(Article, new.article_id)
        assert a_old is not None and a_new is not None
        assert a_old.baseline and a_old.matched_at == NOW
        assert not a_new.baseline and a_new.matched_at is None
        assert a_new.tags == ["ip"] and a_new.language == "en"


def test_known_items(db: Any) -> None:
    _, sessions = db
    _setup(sessions, "a")
    _store(sessions, Entry("a", "https://x.example/1", "One", guid="g1"))
    candidates = [
        normalize(Entry("a", "https://x.example/1?utm_campaign=x", "One")),
        normalize(Entry("a", "https://x.example/other", "One again", guid="g1")),
        normalize(Entry("a", "https://x.example/2", "Two", guid="g2")),
    ]
    items = [c for c in candidates if c is not None]
    with sessions() as s:
        assert known_items(s, "a", items) == [True, True, False]
