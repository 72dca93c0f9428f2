"""Archive retention: old articles go, unless the caller's "keep" predicate holds their story.

The crawler does not know why a story must stay: the daemon passes
:func:`alerts.story_hooks.alert_owed` (an alert about the story is still owed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.orm import Session

from crawler.models import Article, Story, StoryBand

#: ``keep(story_id_column)`` → a SQL condition true for stories whose articles must stay.
KeepPredicate = Callable[[ColumnElement[int | None]], ColumnElement[bool]]


def prune_articles(
    session: Session, before: datetime, batch: int = 5000, *, keep: KeepPredicate | None
) -> int:
    """Delete up to ``batch`` articles first seen before ``before``; return how many went.

    Articles whose story satisfies ``keep`` are kept (``None``: keep none), and stories left
    without articles are removed with them.
    """
    old = Article.fetched_at < before
    cond = old if keep is None else old & ~keep(Article.story_id)
    ids = session.scalars(select(Article.id).where(cond).limit(batch)).all()
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
