"""Per-channel state every dispatcher shares: the send lease and the Retry-After pause.

Send lease: whoever sends on a channel (an immediate row, a digest batch, an admin notice)
first takes the channel's lease in the same transaction as its claim, and gives it back
when it records the outcome. So at most one message per channel is in flight across all
dispatcher processes, and a crash repeats at most that one message per channel. A lease
left by a killed process expires (``lease_until``) or is released when a daemon on the
same host starts.

Pause: a service that answers 429 (or 503 with Retry-After) pauses the whole channel until
``answered_at + Retry-After``. The pause lives in the database, so every dispatcher sees
it at its next claim; since the lease serialises sends, none is in flight when it starts.
Pauses only ever extend: two answers keep the later end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from alerts.models import WAITING, ChannelState, Delivery
from crawler.db import dialect_insert
from crawler.leases import RELEASED, held, lease_free


def take(s: Session, channel: str, owner: str, now: datetime, lease: timedelta) -> bool:
    """Take the channel's send lease unless paused or held by a live sender (no commit)."""
    s.execute(dialect_insert(s, ChannelState).values(channel=channel).on_conflict_do_nothing())
    done = s.execute(
        update(ChannelState)
        .where(
            ChannelState.channel == channel,
            lease_free(ChannelState, now),
            or_(ChannelState.paused_until.is_(None), ChannelState.paused_until <= now),
        )
        .values(**held(owner, now + lease))
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def give_back(s: Session, channel: str, owner: str) -> None:
    """Release the channel's send lease if ``owner`` holds it (no commit)."""
    s.execute(
        update(ChannelState)
        .where(ChannelState.channel == channel, ChannelState.lease_owner == owner)
        .values(**RELEASED)
    )


def pause(s: Session, channel: str, until: datetime, reason: str) -> None:
    """Pause the channel until ``until`` (an existing later pause is kept; no commit)."""
    s.execute(dialect_insert(s, ChannelState).values(channel=channel).on_conflict_do_nothing())
    s.execute(
        update(ChannelState)
        .where(
            ChannelState.channel == channel,
            or_(ChannelState.paused_until.is_(None), ChannelState.paused_until < until),
        )
        .values(paused_until=until, pause_reason=reason[:500])
    )


def paused(s: Session, now: datetime) -> dict[str, datetime]:
    """Channels paused at ``now``, with the end of each pause."""
    rows = s.execute(
        select(ChannelState.channel, ChannelState.paused_until).where(
            ChannelState.paused_until > now
        )
    ).all()
    return {name: until for name, until in rows}


def release_owner(s: Session, owner: str) -> int:
    """Hand back everything ``owner`` holds (at stop): its rows go back to due, and the
    claim that counted them as an attempt is undone; its channel leases are freed. Commits.

    Returns how many deliveries were released."""
    done = s.execute(
        update(Delivery)
        .where(Delivery.lease_owner == owner, Delivery.status.in_(WAITING))
        .values(attempts=Delivery.attempts - 1, **RELEASED)
    )
    s.execute(update(ChannelState).where(ChannelState.lease_owner == owner).values(**RELEASED))
    s.commit()
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
