"""A new or changed watchlist is noticed, and catch-up alerts archived stories exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alerts.catchup import catch_up, note_changes
from alerts.channels import Channel
from alerts.models import Delivery, Match
from alerts.watchlists import Route, Watchlist
from tests.factories import add_article, add_source

WL = Watchlist(
    name="tw",
    groups={"taiwan": ["Taiwan", "臺灣"], "mou": ["MOU", "合作備忘錄"]},
    match="taiwan AND mou",
    notify=[Route(channel="console"), Route(channel="mail", mode="digest", schedule="0 8 * * *")],
)
CHANNELS = {"console": Channel(url="console://"), "mail": Channel(url="json://127.0.0.1:9/x")}


def _seed(sessions, now):  # type: ignore[no-untyped-def]
    titles = ["Taiwan signs MOU", "臺灣簽署合作備忘錄", "Weather in Taipei"]
    with sessions.begin() as s:
        add_source(s)
        arts = [
            add_article(s, i, t, when=now - timedelta(days=1), baseline=True, matched_at=now)
            for i, t in enumerate(titles)
        ]
        return [a.story_id for a in arts]


def test_changes_are_noticed(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    now = datetime.now(UTC)
    with sessions.begin() as s:
        assert note_changes(s, [WL], now) == []  # empty archive: nothing to catch up on
    _seed(sessions, now)
    with sessions.begin() as s:
        assert note_changes(s, [WL], now) == []  # unchanged
        routed = WL.model_copy(update={"notify": [Route(channel="console")]})
        assert note_changes(s, [routed], now) == []  # routes don't change what matches
        wider = WL.model_copy(update={"match": "taiwan OR mou"})
        other = WL.model_copy(update={"name": "other"})
        assert note_changes(s, [wider, other], now) == [("tw", "changed"), ("other", "new")]


def test_catch_up_queues_once(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    now = datetime.now(UTC)
    story_ids = _seed(sessions, now)
    tags = {"src": []}
    with sessions.begin() as s:
        assert catch_up(s, WL, CHANNELS, tags, now - timedelta(days=7), now) == 2
    with sessions.begin() as s:
        assert catch_up(s, WL, CHANNELS, tags, now - timedelta(days=7), now) == 0
    with sessions() as s:
        matches = s.scalars(select(Match)).all()
        assert sorted(m.story_id for m in matches) == story_ids[:2]
        assert all(m.backfill for m in matches)
        deliveries = s.scalars(select(Delivery)).all()
        assert sorted((d.story_id, d.channel, d.mode) for d in deliveries) == sorted(
            [(sid, "console", "immediate") for sid in story_ids[:2]]
            + [(sid, "mail", "digest") for sid in story_ids[:2]]
        )
