"""The storage pipeline stores batches that queue up together, with the results of storing
them one at a time: the same outcomes per source, the same stories, the same flags."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from crawler import pipelines
from crawler.collectors.base import SourceRun
from crawler.items import Entry
from crawler.models import Article
from crawler.normalize import OFFICIAL_TAG, EntryBatch, normalize
from crawler.sources import FeedSource
from crawler.state import sync_sources
from crawler.store import store_many

SENTENCES = (
    "The intellectual property office said examination fees for invention patents rise "
    "next quarter, citing a backlog of applications from semiconductor companies.",
    "Taiwan's economics ministry signed six memoranda of understanding with US firms, "
    "among them long-term procurement and patent licensing pacts worth billions.",
    "The trade representative extended talks on export controls for chip-making tools "
    "bound for the region, with a decision expected before the end of the year.",
)


def _sources(n: int) -> list[FeedSource]:
    """``n`` feeds; ``s1`` is an official source (its stories prefer its articles as lead)."""
    return [
        FeedSource(
            id=f"s{i}", type="rss", url=f"https://s{i}.example/feed",
            tags=[OFFICIAL_TAG] if i == 1 else [],
        )
        for i in range(n)
    ]  # fmt: skip


def _batches(sources: list[FeedSource]) -> list[EntryBatch]:
    """Every source's page: its own stories, copies of other sources' stories (syndication),
    a re-post of another page's URL, and guid collisions within a source."""
    out = []
    for i, src in enumerate(sources):
        entries = []
        for j in range(12):
            story = (i * 7 + j) % 9  # stories recur across sources
            body = f"{SENTENCES[story % 3]} Story {story}: {SENTENCES[(story + 1) % 3]}"
            url = f"https://s{i}.example/a/{j}"
            if j == 11:
                url = f"https://s{(i + 1) % len(sources)}.example/a/0"  # another source's URL
            entries.append(Entry(src.id, url, f"Story {story} headline", body, guid=f"g{j % 10}"))
        items = [n for e in entries if (n := normalize(e, tags=src.tags)) is not None]
        out.append(EntryBatch(src.id, items))
    return out


def _runs(sources: list[FeedSource], baseline: set[str] = frozenset()) -> dict[str, SourceRun]:  # type: ignore[assignment]
    return {s.id: SourceRun(config=s, url=s.url, baseline=s.id in baseline) for s in sources}


def _stories(sessions: Any) -> set[frozenset[str]]:
    """The story partition, by article URL (ids differ between databases)."""
    by_story: dict[int | None, set[str]] = {}
    with sessions() as s:
        for url, story in s.execute(select(Article.canonical_url, Article.story_id)):
            by_story.setdefault(story, set()).add(url)
    return {frozenset(urls) for urls in by_story.values()}


def _flags(sessions: Any) -> dict[str, bool]:
    with sessions() as s:
        return {
            url: flag for url, flag in s.execute(select(Article.canonical_url, Article.baseline))
        }


async def _concurrently(pipe: pipelines.StoragePipeline, batches: list[EntryBatch]) -> None:
    await asyncio.gather(*(pipe.process_item(b) for b in batches))


def test_queued_batches_are_stored_in_groups_with_one_at_a_time_results(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, sessions = db
    sources = _sources(8)
    with sessions.begin() as s:
        sync_sources(s, sources)
    calls: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[1]))
        return store_many(*args, **kwargs)

    monkeypatch.setattr(pipelines, "store_many", counting)
    runs = _runs(sources, baseline={"s3"})
    pipe = pipelines.StoragePipeline(sessions, runs)
    batches = _batches(sources)
    asyncio.run(_concurrently(pipe, batches))

    assert len(calls) < len(batches)  # queued batches went together
    assert max(calls) <= pipelines.GROUP_ITEMS
    assert sum(calls) == sum(len(b.items) for b in batches)
    grouped = {sid: (r.outcome.new, r.outcome.skipped) for sid, r in runs.items()}
    stories, flags = _stories(sessions), _flags(sessions)

    # The same batches, one store_many call each, in order, on an empty database.
    with sessions.begin() as s:
        s.execute(Article.__table__.delete())
    expected: dict[str, tuple[int, dict[str, int]]] = {}
    for batch in batches:
        run = runs[batch.source_id]
        results = store_many(
            sessions, batch.items, baseline=run.baseline, official=OFFICIAL_TAG in run.config.tags
        )
        skipped = Counter(r.duplicate_of for r in results if r.article_id is None)
        new = sum(r.article_id is not None for r in results)
        expected[batch.source_id] = (new, dict(skipped))
    assert {sid: (new, sum(sk.values())) for sid, (new, sk) in grouped.items()} == {
        sid: (new, sum(sk.values())) for sid, (new, sk) in expected.items()
    }
    assert sum(new for new, _ in grouped.values()) < sum(len(b.items) for b in batches)
    assert _stories(sessions) == stories
    assert _flags(sessions) == flags
    assert any(flags.values()) and not all(flags.values())  # s3's baseline kept apart


def test_a_cancelled_waiter_does_not_hold_up_the_others(db: Any) -> None:
    _, sessions = db
    sources = _sources(4)
    with sessions.begin() as s:
        sync_sources(s, sources)
    runs = _runs(sources)
    pipe = pipelines.StoragePipeline(sessions, runs)
    batches = _batches(sources)

    async def main() -> None:
        tasks = [asyncio.create_task(pipe.process_item(b)) for b in batches]
        await asyncio.sleep(0)  # all queued; the writer has taken the first group
        tasks[-1].cancel()
        done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        assert isinstance(done[-1], asyncio.CancelledError)

    asyncio.run(main())
    assert all(runs[f"s{i}"].outcome.new for i in range(3))
