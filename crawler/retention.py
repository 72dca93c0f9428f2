"""Archive retention: old articles go, unless an alert about their story is still owed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from crawler.models import Article, Delivery, Story, StoryBand

OPEN_STATUSES = ("pending", "sending", "failed")


def prune_articles(session: Session, before: datetime, batch: int = 5000) -> int:
    """Delete up to ``batch`` articles first seen before ``before``; return how many went.

    Articles whose story still has an undelivered alert are kept, and stories left without
    articles are removed with them.
    """
    owed = exists().where(Delivery.story_id == Article.story_id, Delivery.status.in_(OPEN_STATUSES))
    ids = session.scalars(
        select(Article.id).where(Article.fetched_at < before, ~owed).limit(batch)
    ).all()
    if not ids:
        return 0
    story_ids = set(session.scalars(select(Article.story_id).where(Article.id.in_(ids))).all()) - {
        None
    }
    session.execute(delete(Article).where(Article.id.in_(ids)))
    if story_ids:
        still_used = exists().where(Article.story_id == Story.id)
        session.execute(delete(Story).where(Story.id.in_(story_ids), ~still_used))
    return len(ids)


def prune_bands(session: Session, before: datetime) -> int:
    """Delete near-duplicate band keys of articles first seen before ``before``.

    Story lookups only consider recent stories, so older keys only grow the band index (and
    every commit's cost). Article ids grow with time, so the cut is a range on the primary key.
    """
    cutoff = session.scalar(select(func.min(Article.id)).where(Article.fetched_at >= before))
    if cutoff is None:
        cutoff = (session.scalar(select(func.max(Article.id))) or 0) + 1
    result = session.execute(delete(StoryBand).where(StoryBand.article_id < cutoff))
    return result.rowcount or 0
