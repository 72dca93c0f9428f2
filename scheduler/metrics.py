"""Prometheus metrics (prometheus_client), served at /metrics by ``scheduler.http``.

Gauges are computed from the database on each scrape (:class:`StatusCollector`, a custom
collector), so any daemon process reports the state of the whole deployment. Counters
(:class:`Counters`) are per process, as Prometheus counters are: a restart resets them and
``rate()`` copes. When the database cannot be read, ``wirewatch_database_up`` is 0 and the
counters still count. The standard ``process_*`` and ``python_info`` metrics come along;
the format follows the scraper's Accept header (Prometheus text or OpenMetrics).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.models import WAITING, AdminNotice, Delivery, DeliveryStatus, Match
from crawler.models import Article, Source, Story

log = logging.getLogger("wirewatch.metrics")

SOURCE_STATES = ("new", "ok", "degraded", "failing", "disabled")


# ----- in-process counters -------------------------------------------------------------------


class Counters:
    """Thread-safe event counters of this process, exported as ``wirewatch_<name>_total``."""

    HELP: Mapping[str, str] = {
        "polls": "Source polls finished by this process.",
        "items_new": "New articles stored by this process.",
        "items_duplicate": "Feed items this process found already stored.",
        "poll_failures": "Source polls that failed in this process.",
        "articles_matched": "Articles run through the watchlist matcher by this process.",
        "deliveries_sent": "Deliveries (immediate and digest rows) sent by this process.",
        "delivery_failures": "Delivery attempts that failed (retried or dead) in this process.",
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.HELP, 0)

    def inc(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` (≥ 0) to counter ``name``; unknown names raise KeyError."""
        if amount < 0:
            raise ValueError("counters only go up")
        with self._lock:
            if name not in self._values:
                raise KeyError(f"unknown counter {name!r}")
            self._values[name] += amount

    def snapshot(self) -> dict[str, int]:
        """A consistent copy of every counter."""
        with self._lock:
            return dict(self._values)


# ----- metrics -------------------------------------------------------------------------------


def _count(session: Session, *where: Any, of: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(of).where(*where)) or 0)


def source_states(session: Session) -> dict[str, int]:
    """Sources per state; a disabled source counts as "disabled" whatever its last state."""
    counts = dict.fromkeys(SOURCE_STATES, 0)
    rows = session.execute(
        select(Source.enabled, Source.state, func.count()).group_by(Source.enabled, Source.state)
    )
    for enabled, state, n in rows:
        key = state if enabled else "disabled"
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def database_families(session: Session, now: datetime) -> list[Metric]:
    """Gauges read from the database (raises if the database cannot be read)."""
    sources = GaugeMetricFamily(
        "wirewatch_sources", "Configured sources by health state.", labels=["state"]
    )
    for state, n in source_states(session).items():
        sources.add_metric([state], n)

    failures = GaugeMetricFamily(
        "wirewatch_source_consecutive_failures",
        "Consecutive failed polls of each enabled source.",
        labels=["source"],
    )
    last_ok = GaugeMetricFamily(
        "wirewatch_source_last_success_timestamp_seconds",
        "Unix time of each enabled source's last successful poll (absent if never).",
        labels=["source"],
    )
    for sid, fails, success in session.execute(
        select(Source.id, Source.consecutive_failures, Source.last_success_at)
        .where(Source.enabled.is_(True))
        .order_by(Source.id)
    ):
        failures.add_metric([sid], fails or 0)
        if success is not None:
            last_ok.add_metric([sid], success.timestamp())

    deliveries = GaugeMetricFamily(
        "wirewatch_deliveries", "Outbox rows by delivery status.", labels=["status"]
    )
    by_status = dict.fromkeys(DeliveryStatus, 0)
    for status, n in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        by_status[status] = int(n)
    for status, n in by_status.items():
        deliveries.add_metric([str(status)], n)

    # Digest rows wait for their schedule by design; only immediate ones measure lag.
    oldest = session.scalar(
        select(Delivery.created_at)
        .where(Delivery.status.in_(WAITING), Delivery.mode == "immediate")
        .order_by(Delivery.created_at)
        .limit(1)
    )
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    day_ago = now - timedelta(hours=24)

    return [
        sources,
        failures,
        last_ok,
        _gauge(
            "wirewatch_articles_stored", "Articles in the archive.", _count(session, of=Article)
        ),
        _gauge(
            "wirewatch_articles_fetched_24h",
            "Articles stored in the last 24 hours.",
            _count(session, Article.fetched_at >= day_ago, of=Article),
        ),
        _gauge("wirewatch_stories_stored", "Stories in the archive.", _count(session, of=Story)),
        _gauge(
            "wirewatch_matches_stored", "Watchlist matches recorded.", _count(session, of=Match)
        ),
        deliveries,
        _gauge(
            "wirewatch_delivery_lag_seconds",
            "Age of the oldest undelivered immediate alert (0 when none wait).",
            lag,
        ),
        _gauge(
            "wirewatch_dead_letters",
            "Deliveries given up on (status dead).",
            by_status.get(DeliveryStatus.DEAD, 0),
        ),
        _gauge(
            "wirewatch_admin_notices_pending",
            "Operator notices not yet sent (pending or retrying).",
            _count(session, AdminNotice.status.in_(WAITING), of=AdminNotice),
        ),
    ]


def process_families(
    database_up: bool, counters: Counters | None, last_tick: datetime | None
) -> list[Metric]:
    """What this process knows without the database: its counters and scheduler tick."""
    fams: list[Metric] = [
        _gauge(
            "wirewatch_database_up",
            "1 if the last database read succeeded, else 0.",
            1 if database_up else 0,
        )
    ]
    if last_tick is not None:
        fams.append(
            _gauge(
                "wirewatch_scheduler_last_tick_timestamp_seconds",
                "Unix time the scheduler of this process last ran its tick job.",
                last_tick.timestamp(),
            )
        )
    if counters is not None:
        values = counters.snapshot()
        fams.extend(
            CounterMetricFamily(f"wirewatch_{name}", Counters.HELP[name], value=values[name])
            for name in Counters.HELP
        )
    return fams


class StatusCollector(Collector):
    """Reads the database gauges on each scrape; a failed read reports ``database_up`` 0."""

    def __init__(
        self,
        read: Callable[[], AbstractContextManager[Session]],
        clock: Callable[[], datetime],
        *,
        counters: Counters | None = None,
        tick: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.read = read
        self.clock = clock
        self.counters = counters
        self.tick = tick

    def collect(self) -> Iterator[Metric]:
        """The database gauges (if readable), then this process's families."""
        last_tick = self.tick()
        try:
            with self.read() as session:
                families = database_families(session, self.clock())
        except Exception as exc:  # an unreadable database is a metric, not an error page
            log.debug("metrics: database unreadable: %s", exc)
            families = []
        yield from families
        yield from process_families(bool(families), self.counters, last_tick)


def registry(collector: StatusCollector) -> CollectorRegistry:
    """A registry with ``collector`` and the standard process and platform metrics."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    ProcessCollector(registry=reg)
    PlatformCollector(registry=reg)
    return reg


def exposition(reg: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The scrape body and its Content-Type, in the format the Accept header asks for."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(reg), content_type
