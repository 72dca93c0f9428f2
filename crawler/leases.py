"""Row leases: who is working on a row, and until when.

A table that hands out work has ``lease_owner`` (``host:pid``) and ``lease_until``; both are
set together when a worker claims a row and cleared together when it lets go. A lease whose
time has passed is free: its holder died or hung, and the next claimer takes the row over.
Sources (:mod:`crawler.state`), deliveries (:mod:`alerts.outbox`, :mod:`alerts.digest`)
and channel send leases (:mod:`alerts.channel_state`) use these conditions and values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import Mapped

#: Column values that let go of a lease.
RELEASED: dict[str, Any] = {"lease_owner": None, "lease_until": None}


class Leased(Protocol):
    """A mapped table with lease columns."""

    lease_owner: Mapped[str | None]
    lease_until: Mapped[datetime | None]


def lease_free(table: type[Leased], now: datetime) -> ColumnElement[bool]:
    """SQL condition: the row's lease is not held at ``now`` (never taken, or expired)."""
    return or_(table.lease_until.is_(None), table.lease_until < now)


def held(owner: str, until: datetime) -> dict[str, Any]:
    """Column values that give ``owner`` the lease until ``until``."""
    return {"lease_owner": owner, "lease_until": until}
