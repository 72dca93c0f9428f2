"""What the alerts hold about stories, for crawler operations that change stories.

The crawler merges split stories (:func:`crawler.dedupe.merge_stories`) and prunes old
articles (:func:`crawler.retention.prune_articles`) without knowing the alert tables; the
daemon hands it these two callbacks.

- :func:`move_alerts` (a :data:`crawler.dedupe.MergeHook`): matches and deliveries of the
  dropped story move to the kept one, unless the kept story already has one for the same
  watchlist (and channel): the kept story has been alerted already, and the rows stay with
  the dropped story, which the merge then keeps as an empty shell holding that history.
- :func:`alert_owed` (a retention "keep" predicate): a story whose delivery is still waiting
  keeps its articles, so the alert can still be rendered.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session

from alerts.models import WAITING, Delivery, Match


def move_alerts(session: Session, keep_id: int, drop_id: int) -> bool:
    """Move story ``drop_id``'s matches and deliveries to ``keep_id``; True if some stay."""
    taken_watchlists = select(Match.watchlist).where(Match.story_id == keep_id)
    session.execute(
        update(Match)
        .where(Match.story_id == drop_id, Match.watchlist.not_in(taken_watchlists))
        .values(story_id=keep_id)
        .execution_options(synchronize_session="fetch")
    )
    kept = select(Delivery.watchlist, Delivery.channel).where(Delivery.story_id == keep_id)
    taken = {(w, c) for w, c in session.execute(kept)}
    movable = [
        d_id
        for d_id, w, c in session.execute(
            select(Delivery.id, Delivery.watchlist, Delivery.channel).where(
                Delivery.story_id == drop_id
            )
        )
        if (w, c) not in taken
    ]
    if movable:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(movable))
            .values(story_id=keep_id)
            .execution_options(synchronize_session="fetch")
        )
    left = (
        session.execute(
            select(func.count()).select_from(Match).where(Match.story_id == drop_id)
        ).scalar_one()
        + session.execute(
            select(func.count()).select_from(Delivery).where(Delivery.story_id == drop_id)
        ).scalar_one()
    )
    return bool(left)


def alert_owed(story_id: ColumnElement[int | None]) -> ColumnElement[bool]:
    """SQL condition: the story ``story_id`` still has a delivery waiting to be sent."""
    return exists().where(Delivery.story_id == story_id, Delivery.status.in_(WAITING))
