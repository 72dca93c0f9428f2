"""The health check behind /healthz (served by ``scheduler.http``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from scheduler.metrics import source_states
from scheduler.outages import Outage, describe

log = logging.getLogger("wirewatch.status")

TICK_STALE_AFTER = timedelta(minutes=2)


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
        counts = source_states(session)
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
