"""Backtest replays a watchlist over the archive, once per story, sending nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.backtest import replay
from alerts.matcher import Engine
from alerts.watchlists import Watchlist
from crawler.models import Article, Delivery, Source, Story

WL = Watchlist(
    name="taiwan-us-ip",
    groups={
        "taiwan": ["Taiwan", "台灣", "臺灣"],
        "mou": ["MOU", "memoranda of understanding", "合作備忘錄"],
        "us": ["US", "美國"],
    },
    match="taiwan AND mou AND us",
)


def _add(s, n, title, body, *, story, when):  # type: ignore[no-untyped-def]
    s.add(
        Article(
            source_id="src",
            story_id=story.id,
            url=f"https://n.test/{n}",
            canonical_url=f"https://n.test/{n}",
            title=title,
            body=body,
            fetched_at=when,
        )
    )


def test_replay_once_per_story_within_window(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    now = datetime.now(UTC)
    with sessions.begin() as s:
        s.add(Source(id="src", type="rss", url="https://n.test/f", config_url="https://n.test/f"))
        stories = [Story(title=f"s{i}") for i in range(4)]
        s.add_all(stories)
        s.flush()
        text = "Taiwan signed six memoranda of understanding with US firms."
        _add(s, 1, "MOEA delegation", text, story=stories[0], when=now - timedelta(days=2))
        _add(s, 2, "MOEA delegation (copy)", text, story=stories[0], when=now - timedelta(days=1))
        _add(s, 3, "經濟部", "臺灣與美國企業簽署合作備忘錄", story=stories[1], when=now)
        _add(
            s,
            4,
            "Mountain trails",
            "Taiwan mountain hiking in US style",
            story=stories[2],
            when=now,
        )
        _add(s, 5, "Old", text, story=stories[3], when=now - timedelta(days=90))
    with sessions() as s:
        hits = list(replay(s, Engine.compile([WL]), now - timedelta(days=30), {"src": []}))
        assert [h.title for h in hits] == ["MOEA delegation", "經濟部"]
        assert {h.match.watchlist for h in hits} == {"taiwan-us-ip"}
        assert s.query(Delivery).count() == 0
