"""Leases left behind by a daemon that died on this host are released at start-up."""

from __future__ import annotations

import os

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts.models import ChannelState, Delivery
from crawler.leases import RELEASED
from crawler.models import Source


def owner_alive(owner: str, host: str) -> bool:
    """False only for an owner ``host:pid`` of this host whose process is gone."""
    owner_host, _, pid = owner.rpartition(":")
    if owner_host != host or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_dead_leases(session: Session, host: str) -> int:
    """Clear dead local owners' leases on sources, deliveries, channels; return how many."""
    released = 0
    for table in (Source, Delivery, ChannelState):
        owners = set(
            session.scalars(select(table.lease_owner).where(table.lease_owner.is_not(None)))
        )
        dead = [o for o in owners if not owner_alive(o, host)]
        if dead:
            result = session.execute(
                update(table).where(table.lease_owner.in_(dead)).values(**RELEASED)
            )
            released += result.rowcount or 0
    return released
