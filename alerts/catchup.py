"""New or changed watchlists: notice them, and catch up on the archive once when asked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.backtest import replay
from alerts.channels import Channel
from alerts.matcher import Matcher
from alerts.matching import record_match
from alerts.models import WatchlistState
from alerts.prefilter import text_prefilter
from alerts.watchlists import Watchlist
from crawler.models import Article


def watchlist_fingerprint(wl: Watchlist) -> str:
    """A hash of what decides matches (terms, expressions, source filter), not of routes."""
    data = wl.model_dump(mode="json", include={"groups", "match", "exclude", "sources"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def note_changes(
    session: Session, watchlists: Sequence[Watchlist], now: datetime
) -> list[tuple[str, str]]:
    """Record each watchlist's fingerprint; return ``(name, "new"|"changed")`` for those whose
    terms are new to an archive that already has articles. The caller commits."""
    states = {s.name: s for s in session.scalars(select(WatchlistState))}
    archive_empty = session.scalar(select(Article.id).limit(1)) is None
    changes: list[tuple[str, str]] = []
    for wl in watchlists:
        fp = watchlist_fingerprint(wl)
        state = states.get(wl.name)
        if state is None:
            session.add(
                WatchlistState(name=wl.name, fingerprint=fp, first_seen_at=now, changed_at=now)
            )
            if not archive_empty:
                changes.append((wl.name, "new"))
        elif state.fingerprint != fp:
            state.fingerprint, state.changed_at, state.caught_up_at = fp, now, None
            changes.append((wl.name, "changed"))
    return changes


def catch_up(
    session: Session,
    wl: Watchlist,
    channels: Mapping[str, Channel],
    source_tags: Mapping[str, Sequence[str]],
    since: datetime,
    now: datetime,
) -> int:
    """Queue alerts, once, for archived stories since ``since`` that ``wl`` matches and has not
    alerted yet; returns how many stories were queued. The caller commits."""
    engine = Matcher.compile_one(wl)
    queued = 0
    for hit in list(replay(session, engine, since, source_tags, prefilter=text_prefilter(wl))):
        if hit.story_id is None:
            continue
        article = session.get(Article, hit.article_id)
        if article is not None and record_match(
            session, article, hit.match, wl.notify, channels, now, backfill=True
        ):
            queued += 1
    state = session.get(WatchlistState, wl.name)
    if state is None:
        state = WatchlistState(
            name=wl.name, fingerprint=watchlist_fingerprint(wl), first_seen_at=now, changed_at=now
        )
        session.add(state)
    state.caught_up_at = now
    return queued
