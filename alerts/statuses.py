"""Delivery statuses: one enum for the outbox, digests, notices, metrics and the CLI.

Kept free of database imports so the command line can offer them as choices at start-up.
"""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    """Where a delivery (or an admin notice) stands."""

    PENDING = "pending"
    FAILED = "failed"
    SENT = "sent"
    DEAD = "dead"


#: Statuses of a row still to be sent (by the dispatcher, or a retry due later).
WAITING: tuple[DeliveryStatus, ...] = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
#: Statuses an operator may send again.
RESENDABLE: tuple[DeliveryStatus, ...] = (DeliveryStatus.FAILED, DeliveryStatus.DEAD)


__all__ = ["RESENDABLE", "WAITING", "DeliveryStatus"]
