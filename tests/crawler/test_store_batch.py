"""Batch storage decides exactly like one-by-one storage: the same duplicates, the same
stories, the same matches and deliveries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import Channel
from alerts.matcher import Matcher
from alerts.matching import match_pending
from alerts.models import Delivery, Match
from alerts.watchlists import Route, Watchlist
from benchmarks.bench_feedparse import generated_feeds
from benchmarks.bench_ingest import pipeline_config
from benchmarks.corpus import real_feeds
from crawler.items import Entry
from crawler.models import Article, Story, StoryBand
from crawler.normalize import Normalized, normalize
from crawler.parse import FeedError, parse_feed
from crawler.sources import FeedSource
from crawler.state import sync_sources
from crawler.store import store_many
from tests.crawler.test_dedupe_db import BOILERPLATE, ITEM_SUMMARY, ITEM_TITLE, WIRE_BODY

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Snapshot = tuple[list[Any], set[frozenset[str]], set[tuple[frozenset[str], str]], set[Any]]


def _syndicated_page(source: str) -> list[Entry]:
    """One page whose items duplicate each other: same URL twice, a guid reused, the same
    text at two URLs, near-copies of one item, and short items over one boilerplate."""
    wire = "https://wire.example/2026/ship-aground"
    return [
        Entry(source, wire, "Ship runs aground, blocks port channel", WIRE_BODY, guid="w1"),
        Entry(source, wire + "?utm_source=rss", "Ship runs aground (upd)", WIRE_BODY),
        Entry(source, f"https://{source}.example/moved", "Moved", "Other text.", guid="w1"),
        Entry(
            source,
            f"https://{source}.example/print/1",
            "Ship runs aground, blocks port channel",
            WIRE_BODY,
        ),
        Entry(source, f"https://{source}.example/mou", "UPDATE: " + ITEM_TITLE, ITEM_SUMMARY),
        Entry(source, f"https://{source}.example/mou-2", ITEM_TITLE + " | Focus", ITEM_SUMMARY),
        Entry(source, f"https://{source}.example/tariff", "Tariff ruling part 1", BOILERPLATE),
        Entry(source, f"https://{source}.example/tariff2", "Tariff ruling part 2", BOILERPLATE),
        Entry(
            source,
            f"https://{source}.example/port",
            "Port reopens after ship grounding",
            WIRE_BODY.replace("Tuesday", "Wednesday") + " (Reporting by staff)",
        ),
    ]


def _pages() -> list[tuple[str, list[Normalized]]]:
    """Real feeds (when the corpus is present), generated news feeds, syndicated pages."""
    pages: list[tuple[str, list[Normalized]]] = []
    feeds = real_feeds(limit=6) + generated_feeds(10, items_per_feed=20, seed=3)
    for index, data in enumerate(feeds):
        source = f"feed-{index % 4}"  # several feeds per source: guids and texts collide
        try:
            result = parse_feed(data, url=f"https://f{index}.example/feed.xml", source_id=source)
        except FeedError:
            continue
        items = [n for n in map(normalize, result.entries) if n is not None]
        pages.append((source, items))
    for source in ("site-a", "site-b", "site-a"):
        items = [n for n in map(normalize, _syndicated_page(source)) if n is not None]
        pages.append((source, items))
    return pages


def _ingest(sessions: sessionmaker[Session], batch_size: int) -> Snapshot:
    results = []
    for _, items in _pages():
        stored = store_many(sessions, items, baseline=False, now=NOW, batch_size=batch_size)
        results += [(r.article_id is not None, r.duplicate_of, r.joined_story) for r in stored]
    watchlists = [
        Watchlist(
            name="ships",
            groups={"a": ["ship", "port"]},
            match="a",
            notify=[
                Route(channel="console"),
                Route(channel="mail", mode="digest", schedule="0 8 * * *"),
            ],
        ),
        Watchlist(
            name="mou",
            groups={"a": ["memoranda", "MOU"]},
            match="a",
            notify=[Route(channel="console")],
        ),
        Watchlist(
            name="chips",
            groups={"a": ["TSMC", "semiconductor", "台積電"]},
            match="a",
            notify=[Route(channel="console")],
        ),
    ]
    config: Any = pipeline_config([], watchlists)
    config.channels = {
        "console": Channel(url="console"),
        "mail": Channel(url="mailto://user:pw@mail.example.org"),
    }
    engine = Matcher.compile(watchlists)
    with sessions() as s:
        while match_pending(s, engine, config, limit=50, now=NOW):
            pass
    with sessions() as s:
        members: dict[int, set[str]] = {}
        key: dict[int, str] = {}
        for a_id, story_id, url, source, guid in s.execute(
            select(
                Article.id, Article.story_id, Article.canonical_url, Article.source_id, Article.guid
            )
        ):
            key[a_id] = url or f"{source} {guid}"
            members.setdefault(story_id, set()).add(key[a_id])
        stories = {sid: frozenset(urls) for sid, urls in members.items()}
        counts = {i: n for i, n in s.execute(select(Story.id, Story.article_count))}
        assert all(counts[sid] == len(urls) for sid, urls in stories.items())
        matches = {
            (stories[sid], w) for sid, w in s.execute(select(Match.story_id, Match.watchlist))
        }
        deliveries = {
            (stories[sid], w, c, m)
            for sid, w, c, m in s.execute(
                select(Delivery.story_id, Delivery.watchlist, Delivery.channel, Delivery.mode)
            )
        }
    return results, set(stories.values()), matches, deliveries


def _clear(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        for model in (Delivery, Match, StoryBand, Article, Story):
            s.execute(delete(model))


def test_batch_and_one_by_one_give_the_same_stories_matches_and_deliveries(db: Any) -> None:
    _, sessions = db
    ids = {"site-a", "site-b"} | {f"feed-{i}" for i in range(4)}
    with sessions.begin() as s:
        sync_sources(s, [FeedSource(id=i, type="rss", url=f"https://{i}.example/") for i in ids])
    batched = _ingest(sessions, 100)
    _clear(sessions)
    single = _ingest(sessions, 1)
    assert batched[0] == single[0]  # per entry: stored or which duplicate, joined a story
    assert batched[1] == single[1]
    assert batched[2] == single[2] and batched[3] == single[3]
    # The corpus is not trivial: intra-page duplicates, joined stories, matches.
    dups = {d for _, d, _ in batched[0]}
    assert {"url", "guid", "content"} <= dups
    assert any(joined for _, _, joined in batched[0])
    assert any(len(story) > 2 for story in batched[1])
    assert batched[2] and batched[3]
