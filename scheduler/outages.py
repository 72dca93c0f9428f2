"""Database outages the daemon's own work runs into, for /healthz.

/healthz reads with a connection of its own (``SELECT 1`` and a count), and reads keep
working when the disk is full or the database has turned read-only: only the daemon's writes
fail then. ``OutageWatch`` listens to the daemon's engine (SQLAlchemy ``handle_error``) and
remembers every error that :func:`crawler.db.is_outage` calls an outage.

The window: the database counts as failing while such an error happened within the last
``HOLD`` (30 s). The daemon retries its writes at least every poll tick (15 s at most) while
they fail, so a lasting outage keeps /healthz at 503, and /healthz is back at 200 ``HOLD``
after the last failure. A write that succeeds in the meantime does not clear it early: with a
full disk some writes (an update in place) succeed while others (new articles) fail.

A PostgreSQL connection answering "read-only transaction" is invalidated like a lost one, so
the pool reconnects once the database (or a failed-over primary) takes writes again, instead
of keeping a read-only session for the life of the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event

from crawler.db import is_outage
from crawler.errors import one_line
from crawler.models import utcnow

HOLD = 30.0
READ_ONLY_SQLSTATE = "25006"


@dataclass(frozen=True)
class Outage:
    """The current run of failures: the latest error, when the run began, how many so far."""

    error: str
    since: datetime
    last: datetime
    failures: int


def describe(exc: BaseException) -> str:
    """``Type: first line of the message`` of the driver error behind ``exc``."""
    return one_line(getattr(exc, "orig", None) or exc, 200, first_line=True)


class OutageWatch:
    """Thread-safe record of the outages seen on one engine (see the module docstring)."""

    def __init__(
        self,
        hold: float = HOLD,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.hold = hold
        self._clock, self._wall = clock, wall
        self._lock = threading.Lock()
        self._outage: Outage | None = None
        self._last_at = 0.0  # monotonic time of the latest failure

    def attach(self, engine: Engine) -> None:
        """Watch every error raised on ``engine``'s connections."""
        event.listen(engine, "handle_error", self._on_error)

    def _on_error(self, ctx: Any) -> None:
        exc = ctx.original_exception
        if ctx.is_pre_ping or not (ctx.is_disconnect or is_outage(exc)):
            return
        if getattr(exc, "sqlstate", None) == READ_ONLY_SQLSTATE:
            ctx.is_disconnect = True
        self.failed(describe(exc))

    def failed(self, error: str) -> None:
        """Record one failure described by ``error``."""
        now, wall = self._clock(), self._wall()
        with self._lock:
            current = self._current(now)
            if current is None:
                self._outage = Outage(error, wall, wall, 1)
            else:
                n = current.failures + 1
                self._outage = replace(current, error=error, last=wall, failures=n)
            self._last_at = now

    def current(self) -> Outage | None:
        """The outage going on, or None when no failure happened within ``hold``."""
        with self._lock:
            return self._current(self._clock())

    def _current(self, now: float) -> Outage | None:
        if self._outage is not None and now - self._last_at >= self.hold:
            self._outage = None
        return self._outage
