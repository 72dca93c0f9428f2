"""Waiting after a failure: exponential backoff and the ``Retry-After`` header.

Shared by source polling (:mod:`crawler.state`) and alert delivery (:mod:`alerts.outbox`,
:mod:`alerts.channels.wire`). One rule for a delay: ``first × 2^doublings``, times a random
factor (jitter, so rows that failed together do not retry together), capped, never below
``floor``. A server's Retry-After is a floor the caller applies on top.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


def doubling(
    first: timedelta,
    doublings: int,
    cap: timedelta,
    *,
    jitter: tuple[float, float] = (0.0, 0.0),
    floor: timedelta = timedelta(0),
    rng: random.Random | None = None,
) -> timedelta:
    """``first × 2^doublings`` × (1 + uniform(*jitter)), at most ``cap``, at least ``floor``."""
    seconds = first.total_seconds() * 2 ** min(max(doublings, 0), 30)
    if jitter != (0.0, 0.0):
        seconds *= 1 + (rng or random).uniform(*jitter)
    return timedelta(seconds=max(min(seconds, cap.total_seconds()), floor.total_seconds()))


def parse_retry_after(value: str | bytes | None, now: datetime | None = None) -> timedelta | None:
    """A Retry-After header (delay-seconds or HTTP-date) as a non-negative delay, else None."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - (now or datetime.now(UTC)), timedelta(0))
