"""Logging as text for people or JSON lines for log collectors, without floods.

One line per distinct problem per minute: a warning or error that repeats (a full disk fails
every write of every job) is written once, repeats within ``WINDOW`` are counted, and the
first repeat after the window carries the count ("… (and 233 more like this in the last
minute)"). When the repeats stop, the count still comes out in a closing line with the next
record logged after the window (the daemon logs at least every poll pass). A problem is the
exception when the record carries one (its type and first line, whichever logger reports
it), else the logger and message. Database outages (:func:`crawler.db.is_outage`) are
written as one line, without a traceback. ``wirewatch.config`` records (one per edit of the
configuration) are never held back.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crawler.db import is_outage
from scheduler.outages import describe

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
WINDOW = 60.0
UNTHROTTLED = ("wirewatch.config",)
_SKIPPED_RUN = "maximum number of running instances reached"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


@dataclass
class _Seen:
    since: float  # when the last line for this problem was written
    last: float  # when it last happened
    held: int  # repeats not written since
    record: logging.LogRecord


def _rewrite(record: logging.LogRecord, suffix: str = "") -> logging.LogRecord:
    """A copy of ``record`` with ``suffix`` added; a database outage loses its traceback."""
    exc = record.exc_info[1] if record.exc_info else None
    outage = exc is not None and is_outage(exc)
    if not suffix and not outage:
        return record
    copy = logging.makeLogRecord(record.__dict__)
    message = record.getMessage()
    if outage:
        assert exc is not None
        message += f": {describe(exc)}"
        copy.exc_info, copy.exc_text = None, None
    copy.msg, copy.args = message + suffix, None
    return copy


class Throttle:
    """Which warnings and errors to write, and the counts of those held back (thread-safe)."""

    def __init__(self, window: float = WINDOW, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, ...], _Seen] = {}

    @staticmethod
    def key(record: logging.LogRecord) -> tuple[str, ...] | None:
        """The problem a record reports, or None for records never held back."""
        if record.levelno < logging.WARNING or record.name.startswith(UNTHROTTLED):
            return None
        if record.exc_info and record.exc_info[1] is not None:
            return ("exception", describe(record.exc_info[1]))
        return ("message", record.name, record.getMessage())

    def admit(self, record: logging.LogRecord) -> logging.LogRecord | None:
        """The record to write (maybe rewritten), or None to hold it back."""
        key = self.key(record)
        if key is None:
            return _rewrite(record)
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen.since < self.window:
                seen.held += 1
                seen.last, seen.record = now, record
                return None
            held = seen.held if seen is not None else 0
            self._seen[key] = _Seen(now, now, 0, record)
        return _rewrite(record, f" (and {held} more like this in the last minute)" if held else "")

    def closing(self, everything: bool = False) -> list[logging.LogRecord]:
        """Lines for problems that stopped a window ago (or, with ``everything``, for all
        problems) whose repeats are still untold."""
        now = self._clock()
        out = []
        with self._lock:
            for key, seen in list(self._seen.items()):
                if now - seen.last < self.window and not everything:
                    continue
                del self._seen[key]
                if seen.held:
                    at = datetime.fromtimestamp(seen.record.created).strftime("%H:%M:%S")
                    times = "time" if seen.held == 1 else "times"
                    suffix = f" (repeated {seen.held} more {times}, last at {at})"
                    line = _rewrite(seen.record, suffix)
                    line.created = time.time()
                    out.append(line)
        return out


class ThrottledHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes what its :class:`Throttle` admits."""

    def __init__(self, stream: Any = None, throttle: Throttle | None = None) -> None:
        super().__init__(stream)
        self.throttle = throttle or Throttle()

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        for closing in self.throttle.closing():
            super().handle(closing)
        admitted = self.throttle.admit(record)
        return bool(admitted is not None and super().handle(admitted))

    def close(self) -> None:
        for closing in self.throttle.closing(everything=True):
            super().handle(closing)
        super().close()


class _SkippedRun(logging.Filter):
    """APScheduler warns whenever a tick finds the job's previous run still going (a long
    poll). Jobs here run one at a time by design (``max_instances=1``, coalesced), so a
    skipped tick is expected: a DEBUG line, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SKIPPED_RUN not in str(record.msg):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once (idempotent); Scrapy's own chatter stays at WARNING."""
    handler = ThrottledHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = max(logging.WARNING, logging.getLevelName(level))
    for noisy in ("scrapy", "twisted", "alembic", "apscheduler", "filelock"):
        logging.getLogger(noisy).setLevel(quiet)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _SkippedRun) for f in scheduler_log.filters):
        scheduler_log.addFilter(_SkippedRun())
    if level != "DEBUG":
        # wirewatch records and logs each source's failure once; Scrapy's per-request
        # give-up, robots.txt and download-error lines (with tracebacks) would repeat it.
        for noisy in (
            "scrapy.downloadermiddlewares.retry",
            "scrapy.downloadermiddlewares.robotstxt",
            "scrapy.core.scraper",
        ):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
