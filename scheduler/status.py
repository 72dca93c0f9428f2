"""Operational status: Prometheus metrics and a health check (served by ``scheduler.http``).

Gauges are computed from the database on each scrape, so any daemon process reports the
state of the whole deployment. Counters (``Counters``) are per process, as Prometheus
counters are: a restart resets them and ``rate()`` copes.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from alerts.models import WAITING, AdminNotice, Delivery, DeliveryStatus, Match
from crawler.models import Article, Source, Story
from scheduler.outages import Outage, describe

log = logging.getLogger("wirewatch.status")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TICK_STALE_AFTER = timedelta(minutes=2)
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


# ----- exposition format ---------------------------------------------------------------------


@dataclass
class Family:
    """One metric family: its name, type, help text and samples (labels, value)."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        """Append a sample; returns self for chaining."""
        self.samples.append((labels, value))
        return self


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def render(families: Iterable[Family]) -> str:
    """Families as Prometheus text exposition format 0.0.4."""
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        for labels, value in fam.samples:
            if labels:
                inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
                lines.append(f"{fam.name}{{{inner}}} {_format_value(value)}")
            else:
                lines.append(f"{fam.name} {_format_value(value)}")
    return "\n".join(lines) + "\n"


# ----- metrics -------------------------------------------------------------------------------


def _count(session: Session, *where: Any, of: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(of).where(*where)) or 0)


def _source_states(session: Session) -> dict[str, int]:
    """Sources per state; a disabled source counts as "disabled" whatever its last state."""
    counts = dict.fromkeys(SOURCE_STATES, 0)
    rows = session.execute(
        select(Source.enabled, Source.state, func.count()).group_by(Source.enabled, Source.state)
    )
    for enabled, state, n in rows:
        key = state if enabled else "disabled"
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def database_families(session: Session, now: datetime) -> list[Family]:
    """Gauges read from the database (raises if the database cannot be read)."""
    sources = Family("wirewatch_sources", "gauge", "Configured sources by health state.")
    for state, n in _source_states(session).items():
        sources.add(n, state=state)

    failures = Family(
        "wirewatch_source_consecutive_failures",
        "gauge",
        "Consecutive failed polls of each enabled source.",
    )
    last_ok = Family(
        "wirewatch_source_last_success_timestamp_seconds",
        "gauge",
        "Unix time of each enabled source's last successful poll (absent if never).",
    )
    for sid, fails, success in session.execute(
        select(Source.id, Source.consecutive_failures, Source.last_success_at)
        .where(Source.enabled.is_(True))
        .order_by(Source.id)
    ):
        failures.add(fails or 0, source=sid)
        if success is not None:
            last_ok.add(success.timestamp(), source=sid)

    deliveries = Family("wirewatch_deliveries", "gauge", "Outbox rows by delivery status.")
    by_status = dict.fromkeys(DeliveryStatus, 0)
    for status, n in session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        by_status[status] = int(n)
    for status, n in by_status.items():
        deliveries.add(n, status=status)

    # Digest rows wait for their schedule by design; only immediate ones measure lag.
    oldest = session.scalar(
        select(Delivery.created_at)
        .where(Delivery.status.in_(WAITING), Delivery.mode == "immediate")
        .order_by(Delivery.created_at)
        .limit(1)
    )
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0

    return [
        sources,
        failures,
        last_ok,
        Family("wirewatch_articles_stored", "gauge", "Articles in the archive.").add(
            _count(session, of=Article)
        ),
        Family(
            "wirewatch_articles_fetched_24h", "gauge", "Articles stored in the last 24 hours."
        ).add(_count(session, Article.fetched_at >= now - timedelta(hours=24), of=Article)),
        Family("wirewatch_stories_stored", "gauge", "Stories in the archive.").add(
            _count(session, of=Story)
        ),
        Family("wirewatch_matches_stored", "gauge", "Watchlist matches recorded.").add(
            _count(session, of=Match)
        ),
        deliveries,
        Family(
            "wirewatch_delivery_lag_seconds",
            "gauge",
            "Age of the oldest undelivered immediate alert (0 when none wait).",
        ).add(lag),
        Family("wirewatch_dead_letters", "gauge", "Deliveries given up on (status dead).").add(
            by_status.get(DeliveryStatus.DEAD, 0)
        ),
        Family(
            "wirewatch_admin_notices_pending",
            "gauge",
            "Operator notices not yet sent (pending or retrying).",
        ).add(_count(session, AdminNotice.status.in_(WAITING), of=AdminNotice)),
    ]


def counter_families(counters: Counters) -> list[Family]:
    """The in-process counters as ``_total`` counter families."""
    values = counters.snapshot()
    return [
        Family(f"wirewatch_{name}_total", "counter", Counters.HELP[name]).add(values[name])
        for name in Counters.HELP
    ]


def _process_families(
    database_up: bool, counters: Counters | None, last_tick: datetime | None
) -> list[Family]:
    fams = [
        Family(
            "wirewatch_database_up", "gauge", "1 if the last database read succeeded, else 0."
        ).add(1 if database_up else 0)
    ]
    if last_tick is not None:
        fams.append(
            Family(
                "wirewatch_scheduler_last_tick_timestamp_seconds",
                "gauge",
                "Unix time the scheduler of this process last ran its tick job.",
            ).add(last_tick.timestamp())
        )
    if counters is not None:
        fams.extend(counter_families(counters))
    return fams


def metrics_without_database(counters: Counters | None, last_tick: datetime | None) -> str:
    """The /metrics body when the database cannot be read: the counters still count."""
    return render(_process_families(False, counters, last_tick))


def metrics_text(
    session: Session,
    now: datetime,
    *,
    counters: Counters | None = None,
    last_tick: datetime | None = None,
) -> str:
    """The full /metrics body: database gauges plus this process's counters."""
    return render(database_families(session, now) + _process_families(True, counters, last_tick))


# ----- health --------------------------------------------------------------------------------


def health(
    session: Session,
    now: datetime,
    last_tick: datetime | None,
    outage: Outage | None = None,
) -> tuple[bool, dict[str, Any]]:
    """Is this process healthy? ``(ok, payload)`` for /healthz.

    Healthy means the database answers, the daemon's own work ran into no database outage
    (``outage``: a full disk or a read-only database fails writes while reads still work),
    and the scheduler ticked within two minutes. Failing or degraded sources are reported but
    do not make the process unhealthy: restarting the daemon does not fix a remote site.
    """
    payload: dict[str, Any] = {}
    try:
        session.execute(text("SELECT 1"))
        counts = _source_states(session)
        db_ok = True
        payload["database"] = {"ok": True}
        payload["sources"] = counts
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        db_ok = False
        payload["database"] = {"ok": False, "error": describe(exc)}
    if db_ok and outage is not None:
        db_ok = False
        payload["database"] = {
            "ok": False,
            "error": outage.error,
            "failing_since": outage.since.isoformat(),
            "failures": outage.failures,
        }

    if last_tick is None:
        tick_ok = False
        payload["scheduler"] = {"ok": False, "last_tick": None}
    else:
        age = (now - last_tick).total_seconds()
        # A tick in the future: the wall clock jumped back, and APScheduler, which schedules
        # by wall time, runs nothing until it catches up. That is stuck too.
        tick_ok = abs(age) < TICK_STALE_AFTER.total_seconds()
        payload["scheduler"] = {
            "ok": tick_ok,
            "last_tick": last_tick.isoformat(),
            "age_seconds": round(age, 3),
        }

    ok = db_ok and tick_ok
    sources = payload.get("sources")
    troubled = sources is not None and (sources["degraded"] or sources["failing"])
    payload["status"] = "unhealthy" if not ok else "degraded" if troubled else "ok"
    return ok, payload
