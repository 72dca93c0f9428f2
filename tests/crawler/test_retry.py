"""Backoff delays and Retry-After headers, shared by polling and delivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from alerts.outbox import BACKOFF_BASE, BACKOFF_CAP, backoff
from crawler.retry import doubling, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after(b"Sun, 01 Mar 2026 13:00:00 GMT", NOW) == timedelta(hours=1)
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOW) == timedelta(0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == timedelta(0)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("", NOW) is None


def test_doubling_bounds_with_jitter_cap_and_floor() -> None:
    rng = random.Random(0)
    interval, cap = timedelta(minutes=30), timedelta(hours=6)
    for failures in range(1, 12):
        delay = doubling(interval, failures, cap, jitter=(-0.1, 0.1), floor=interval, rng=rng)
        assert interval <= delay <= cap
    assert doubling(timedelta(hours=12), 1, cap, floor=min(timedelta(hours=12), cap)) == cap
    assert doubling(timedelta(seconds=30), 3, cap) == timedelta(minutes=4)
    assert doubling(timedelta(seconds=30), -1, cap) == timedelta(seconds=30)


def test_delivery_backoff_doubles_jitters_upwards_and_keeps_retry_after_as_floor() -> None:
    assert backoff(1, jitter=False) == BACKOFF_BASE
    assert backoff(4, jitter=False) == BACKOFF_BASE * 8
    assert backoff(40) == BACKOFF_CAP
    for attempts in range(1, 6):
        plain = backoff(attempts, jitter=False)
        assert plain <= backoff(attempts) <= plain * 1.1
    assert backoff(1, retry_after=600) == timedelta(minutes=10)
