"""Backtest replays a watchlist over the archive, once per story, sending nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.backtest import replay
from alerts.matcher import Matcher
from alerts.models import Delivery
from alerts.watchlists import Watchlist
from tests.factories import add_article, add_source

WL = Watchlist(
    name="taiwan-us-ip",
    groups={
        "taiwan": ["Taiwan", "台灣", "臺灣"],
        "mou": ["MOU", "memoranda of understanding", "合作備忘錄"],
        "us": ["US", "美國"],
    },
    match="taiwan AND mou AND us",
)


def test_replay_once_per_story_within_window(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    now = datetime.now(UTC)
    day = timedelta(days=1)
    text = "Taiwan signed six memoranda of understanding with US firms."
    with sessions.begin() as s:
        add_source(s)
        first = add_article(s, 1, "MOEA delegation", text, when=now - 2 * day)
        add_article(s, 2, "MOEA delegation (copy)", text, story=first.story, when=now - day)
        add_article(s, 3, "經濟部", "臺灣與美國企業簽署合作備忘錄", when=now)
        add_article(s, 4, "Mountain trails", "Taiwan mountain hiking in US style", when=now)
        add_article(s, 5, "Old", text, when=now - 90 * day)
    with sessions() as s:
        hits = list(replay(s, Matcher.compile([WL]), now - 30 * day, {"src": []}))
        assert [h.title for h in hits] == ["MOEA delegation", "經濟部"]
        assert {h.match.watchlist for h in hits} == {"taiwan-us-ip"}
        assert s.query(Delivery).count() == 0
