"""Retention removes old articles but never an alert that is still owed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crawler.models import Article, Delivery, Match, Source, Story
from crawler.retention import prune_articles

OLD = datetime(2020, 1, 1, tzinfo=UTC)


def _article(session, n: int, fetched: datetime) -> Article:  # type: ignore[no-untyped-def]
    story = Story(title=f"s{n}", first_seen_at=fetched, updated_at=fetched)
    session.add(story)
    session.flush()
    art = Article(
        source_id="src",
        story_id=story.id,
        url=f"https://x.test/{n}",
        canonical_url=f"https://x.test/{n}",
        title=f"t{n}",
        fetched_at=fetched,
    )
    session.add(art)
    session.flush()
    return art


def test_prune_keeps_new_and_owed(db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    now = datetime.now(UTC)
    with sessions.begin() as s:
        s.add(Source(id="src", type="rss", url="https://x.test/f", config_url="https://x.test/f"))
        s.flush()
        old_done = _article(s, 1, OLD)
        old_owed = _article(s, 2, OLD)
        _article(s, 3, now)
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
        assert prune_articles(s, now - timedelta(days=30)) == 1
    with sessions() as s:
        titles = sorted(s.scalars(select(Article.title)))
        assert titles == ["t2", "t3"]
        assert s.scalar(select(func.count()).select_from(Story)) == 2
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1
    with sessions.begin() as s:
        assert prune_articles(s, now - timedelta(days=30)) == 0
