"""Storage without a crawl: normalisation, exact duplicates, batches, baseline flags, stories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from crawler import collect, store
from crawler.crawl_settings import CrawlSettings
from crawler.items import Entry
from crawler.models import Article, Source, Story
from crawler.normalize import Normalized, normalize
from crawler.sources import FeedSource
from crawler.state import PollOutcome, sync_sources
from crawler.store import known_items, store_many, store_one

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
    assert item.canonical_url == "https://example.org/news/1?id=7#top"
    assert item.title == "Patent fees rise"
    assert item.guid == "g-1" and item.language == "en"
    assert item.tags == ["official", "ip", "fees"]
    assert item.content_hash
    assert normalize(Entry(source_id="a", url="mailto:x@example.org")) is None
    # No usable link but a guid: kept under the guid, with no URL.
    only_guid = normalize(Entry(source_id="a", url="mailto:x@example.org", guid="tag:a,1"))
    assert only_guid is not None and only_guid.guid == "tag:a,1"
    assert only_guid.url == "" and only_guid.canonical_url is None
    # Stored text is not folded: full-width punctuation stays.
    chinese = normalize(Entry(source_id="a", url="https://a.tw/1", title="備忘錄，涵蓋（專利）"))
    assert chinese is not None and chinese.title == "備忘錄，涵蓋（專利）"


def test_duplicates_by_url_guid_and_content(db: Any) -> None:
    _, sessions = db
    _setup(sessions, "a", "b")
    first = _store(sessions, Entry("a", "https://x.example/p/1?utm_medium=feed", "Fees", BODY))
    assert first.article_id is not None and first.duplicate_of is None
    same_url = _store(sessions, Entry("a", "https://x.example/p/1?utm_source=x", "Fees (upd)"))
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
        assert known_items(s, items) == ["url", "guid", None]


def _items(*entries: Entry) -> list[Normalized]:
    items = [normalize(e, language="en") for e in entries]
    assert all(i is not None for i in items)
    return [i for i in items if i is not None]


def test_store_many_dedupes_like_store_one_within_and_across_batches(db: Any) -> None:
    _, sessions = db
    _setup(sessions, "a", "b")
    first = store_many(
        sessions,
        _items(
            Entry("a", "https://x.example/p/1?utm_medium=feed", "Fees", BODY),
            Entry("a", "https://x.example/p/1?utm_source=x", "Fees (updated)"),
            Entry("a", "https://x.example/p/2", "Other", guid="G"),
            Entry("a", "https://x.example/p/3", "Moved", guid="G"),
            Entry("a", "https://x.example/print/1", "Fees", BODY),
            Entry("b", "https://y.example/wire/1", "Fees", BODY),
        ),
        baseline=False,
        now=NOW,
    )
    assert [r.duplicate_of for r in first] == [None, "url", None, "guid", "content", None]
    assert first[5].joined_story and first[5].story_id == first[0].story_id
    again = store_many(
        sessions,
        _items(
            Entry("a", "https://x.example/p/1", "Fees"),
            Entry("a", "https://x.example/p/9", "Other again", guid="G"),
            Entry("a", "https://x.example/copy/1", "Fees", BODY),
            Entry("a", "https://x.example/p/4", "Fresh"),
        ),
        baseline=True,
        now=NOW,
    )
    assert [r.duplicate_of for r in again] == ["url", "guid", "content", None]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 4
        assert known_items(s, _items(Entry("b", "https://y.example/wire/1"))) == ["url"]
        assert known_items(s, _items(Entry("b", "https://y.example/new"))) == [None]


def test_store_many_loses_only_the_racing_or_failing_item(db: Any, monkeypatch: Any) -> None:
    _, sessions = db
    _setup(sessions, "a")
    store_one(sessions, _items(Entry("a", "https://x.example/taken", "Taken"))[0], baseline=False)
    # Another writer stored "taken" after the batch's lookup: the unique key catches it.
    monkeypatch.setattr(store.StoredKeys, "load", classmethod(lambda cls, s, i: cls()))
    attach = store.attach_batch

    def flaky(session: Any, articles: Any, **kw: Any) -> Any:
        if any(text.title == "Broken" for _, text in articles):
            raise RuntimeError("boom")
        return attach(session, articles, **kw)

    monkeypatch.setattr(store, "attach_batch", flaky)
    results = store_many(
        sessions,
        _items(
            Entry("a", "https://x.example/1", "One"),
            Entry("a", "https://x.example/taken", "Taken again"),
            Entry("a", "https://x.example/broken", "Broken"),
            Entry("a", "https://x.example/2", "Two"),
        ),
        baseline=False,
        now=NOW,
    )
    assert [r.duplicate_of for r in results] == [None, "race", None, None]
    assert results[2].article_id is None and results[2].error == "RuntimeError: boom"
    with sessions() as s:
        titles = set(s.scalars(select(Article.title)))
        assert titles == {"Taken", "One", "Two"}
        assert s.scalar(select(func.count()).select_from(Story)) == 3


def test_store_many_falls_back_to_one_transaction_per_item(db: Any, monkeypatch: Any) -> None:
    _, sessions = db
    _setup(sessions, "a")

    batch = store._store_batch

    def broken(sessions: Any, items: Any, *args: Any) -> Any:
        if len(items) > 1:
            raise RuntimeError("transaction lost")
        return batch(sessions, items, *args)

    monkeypatch.setattr(store, "_store_batch", broken)
    results = store_many(
        sessions,
        _items(Entry("a", "https://x.example/1", "One"), Entry("a", "https://x.example/1", "Dup")),
        baseline=False,
        now=NOW,
    )
    assert results[0].article_id is not None and results[1].duplicate_of == "url"


def test_record_all_records_every_outcome_and_skips_a_bad_one(db: Any) -> None:
    _, sessions = db
    _setup(sessions, "a", "b", "c")
    outcomes = {
        "a": PollOutcome("a", status="ok", http_status=200, etag='"e"', new=2),
        "b": PollOutcome("b", status="failed", error="HTTP 500"),
        "ghost": PollOutcome("ghost", status="not_modified"),
        "c": PollOutcome("c", status="skipped", error="leased by another poller"),
    }
    configs = {
        sid: FeedSource(id=sid, type="rss", url=f"https://{sid}.example/")
        for sid in ("a", "b", "c", "ghost")
    }
    collect.record_all(sessions, outcomes, configs, CrawlSettings(), 5, None)
    with sessions() as s:
        a, b, c = (s.get(Source, sid) for sid in ("a", "b", "c"))
        assert a is not None and a.etag == '"e"' and a.baseline_done and a.items_seen == 2
        assert b is not None and b.consecutive_failures == 1 and b.last_error == "HTTP 500"
        assert c is not None and c.last_polled_at is None
        assert a.next_poll_at is not None and b.next_poll_at is not None
        assert b.next_poll_at - b.last_polled_at >= timedelta(minutes=1)


def test_record_all_falls_back_per_source(db: Any, monkeypatch: Any) -> None:
    _, sessions = db
    _setup(sessions, "a", "b")
    calls: list[str] = []
    real = collect._record_one

    def once_broken(session: Any, sid: str, *args: Any) -> None:
        calls.append(sid)
        if len(calls) == 2:  # the one-transaction attempt breaks at the second source
            raise RuntimeError("connection lost")
        real(session, sid, *args)

    monkeypatch.setattr(collect, "_record_one", once_broken)
    outcomes = {sid: PollOutcome(sid, status="ok", http_status=200) for sid in ("a", "b")}
    configs = {
        sid: FeedSource(id=sid, type="rss", url=f"https://{sid}.example/") for sid in ("a", "b")
    }
    collect.record_all(sessions, outcomes, configs, CrawlSettings(), 5, None)
    assert calls == ["a", "b", "a", "b"]
    with sessions() as s:
        assert all(s.get(Source, sid).baseline_done for sid in ("a", "b"))  # type: ignore[union-attr]
