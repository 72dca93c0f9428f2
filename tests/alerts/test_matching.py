"""Matching stored articles into matches and outbox rows, in one transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from alerts import matcher
from alerts.matching import match_pending
from alerts.models import Delivery, Match
from alerts.watchlists import Route
from crawler.models import Article, Story
from tests.alerts.conftest import add_story, make_cfg


def _cfg():  # type: ignore[no-untyped-def]
    return make_cfg(
        {"mail": "console://", "slack": "console://"},
        routes=[Route(channel="mail"), Route(channel="slack", mode="digest", schedule="0 8 * * *")],
    )


def test_match_creates_match_and_one_delivery_per_route(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _cfg()
    engine = matcher.Matcher.compile(cfg.watchlists)
    with sessions() as s:
        hit = add_story(s, "Taiwan joins TRIPS talks", body="The patent office said")
        copy = add_story(s, "Copy: Taiwan joins TRIPS talks", source="src-b", story=hit.story)
        add_story(s, "Weather is fine")
        base = add_story(s, "TRIPS baseline item")
        base.baseline = True
        s.commit()
        base_id = base.id
    with sessions() as s:
        assert match_pending(s, engine, cfg) == 3
    with sessions() as s:
        [m] = s.scalars(select(Match)).all()
        assert (m.story_id, m.article_id, m.watchlist) == (hit.story_id, hit.id, "tw-ip")
        assert m.snippet and m.hits
        rows = s.scalars(select(Delivery).order_by(Delivery.channel)).all()
        assert [(d.channel, d.mode, d.status) for d in rows] == [
            ("mail", "immediate", "pending"),
            ("slack", "digest", "pending"),
        ]
        assert rows[1].digest_route == "0 8 * * * UTC"
        assert s.get(Article, copy.id).matched_at is not None
        assert s.get(Article, base_id).matched_at is None  # baseline never reaches matching
    with sessions() as s:
        assert match_pending(s, engine, cfg) == 0


def test_later_copy_of_matched_story_does_not_alert_again(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _cfg()
    engine = matcher.Matcher.compile(cfg.watchlists)
    with sessions() as s:
        first = add_story(s, "TRIPS waiver extended")
        story_id = first.story_id
        s.commit()
    with sessions() as s:
        match_pending(s, engine, cfg)
    with sessions() as s:
        add_story(
            s, "TRIPS waiver extended (syndicated)", source="src-c", story=s.get(Story, story_id)
        )
        s.commit()
    with sessions() as s:
        assert match_pending(s, engine, cfg) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Match)) == 1
        assert s.scalar(select(func.count()).select_from(Delivery)) == 2


def test_rollback_leaves_articles_unmatched(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _cfg()

    class Boom:
        def match(self, doc: matcher.Document) -> list[matcher.WatchlistMatch]:
            raise RuntimeError("engine crashed")

    with sessions() as s:
        art = add_story(s, "TRIPS news")
        s.commit()
    with sessions() as s:
        try:
            match_pending(s, Boom(), cfg)
        except RuntimeError:
            s.rollback()
    with sessions() as s:
        assert s.get(Article, art.id).matched_at is None
        assert match_pending(s, matcher.Matcher.compile(cfg.watchlists), cfg) == 1
        assert s.scalar(select(func.count()).select_from(Delivery)) == 2
