"""Retention removes old articles but never an alert that is still owed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from alerts.models import Delivery, Match
from alerts.story_hooks import alert_owed
from crawler.models import Article, Story, StoryBand
from crawler.retention import prune_articles, prune_bands
from tests.factories import add_article, add_source

OLD = datetime(2020, 1, 1, tzinfo=UTC)


def test_prune_keeps_new_and_owed(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    now = datetime.now(UTC)
    with sessions.begin() as s:
        add_source(s)
        old_done = add_article(s, 1, "t1", when=OLD)
        old_owed = add_article(s, 2, "t2", when=OLD)
        add_article(s, 3, "t3", when=now)
        for art, status in ((old_done, "sent"), (old_owed, "pending")):
            m = Match(story_id=art.story_id, article_id=art.id, watchlist="w")
            s.add(m)
            s.flush()
            s.add(
                Delivery(
                    match_id=m.id, story_id=art.story_id, watchlist="w", channel="c", status=status
                )
            )
    with sessions.begin() as s:
        assert prune_articles(s, now - timedelta(days=30), keep=alert_owed) == 1
    with sessions() as s:
        titles = sorted(s.scalars(select(Article.title)))
        assert titles == ["t2", "t3"]
        assert s.scalar(select(func.count()).select_from(Story)) == 2
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1
    with sessions.begin() as s:
        assert prune_articles(s, now - timedelta(days=30), keep=alert_owed) == 0


def test_prune_bands_keeps_recent_keys(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    now = datetime.now(UTC)
    with sessions.begin() as s:
        add_source(s)
        old = add_article(s, 1, "old", when=OLD)
        new = add_article(s, 2, "new", when=now)
        for art in (old, new):
            s.add_all(StoryBand(article_id=art.id, band=b, story_id=art.story_id) for b in (1, 2))
    with sessions.begin() as s:
        assert prune_bands(s, now - timedelta(days=28)) == 2
    with sessions() as s:
        assert {b.article_id for b in s.scalars(select(StoryBand))} == {new.id}
    with sessions.begin() as s:
        assert prune_bands(s, now + timedelta(days=1)) == 2  # nothing recent: all keys go
