"""What the services' HTTP answers said during one of our sends (status, Retry-After).

apprise 2.3 keeps an HTTP answer's status only in a log line and drops ``Retry-After``
for every service. :func:`observe` wraps requests' transport once so that, inside one of
our sends (:func:`noting` sets a context variable, and apprise copies the context into any
thread it uses), each answer's status and Retry-After are noted for
:func:`alerts.channels.sender.classify`. A service override reads the message being sent
with :func:`current`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from requests.adapters import HTTPAdapter

from alerts.channels.message import Message
from crawler.retry import parse_retry_after

THROTTLED = frozenset({429, 503})
THROTTLE_DEFAULT = 30.0  # seconds a 429 without Retry-After pauses the channel


@dataclass
class CallNotes:
    """The message of one send and the HTTP answers seen while sending it."""

    message: Message
    channel: str = ""
    statuses: list[int] = field(default_factory=list)
    retry_after: float | None = None

    def saw(self, status: int, retry_after: str | None) -> None:
        """Record one HTTP answer; a throttling answer sets how long the channel waits."""
        self.statuses.append(status)
        if status in THROTTLED:
            delay = parse_retry_after(retry_after)
            wait = delay.total_seconds() if delay is not None else None
            if wait is None and status == 429:
                wait = THROTTLE_DEFAULT
            if wait is not None:
                self.retry_after = max(wait, self.retry_after or 0.0)


_notes: ContextVar[CallNotes | None] = ContextVar("wirewatch_send_notes", default=None)


def observe() -> None:
    """Note each HTTP answer made during one of our sends (idempotent)."""
    original = HTTPAdapter.send
    if getattr(original, "_wirewatch", False):
        return

    def send(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, request, *args, **kwargs)
        notes = _notes.get()
        if notes is not None:
            notes.saw(response.status_code, response.headers.get("Retry-After"))
        return response

    send._wirewatch = True  # type: ignore[attr-defined]
    HTTPAdapter.send = send  # type: ignore[method-assign]


observe()


class _NameChannel(logging.Filter):
    """apprise's "Notifying 1 service(s)." names our channel (or is dropped outside a send)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Notifying %d service(s)"):
            return True
        notes = _notes.get()
        if notes is None or not notes.channel:
            return False
        record.msg = "channel %s: notifying %d service(s)"
        record.args = (notes.channel, *(record.args or ()))  # type: ignore[misc]
        return True


if not any(isinstance(f, _NameChannel) for f in logging.getLogger("apprise").filters):
    logging.getLogger("apprise").addFilter(_NameChannel())


def current() -> CallNotes | None:
    """The notes of the send in progress in this context, if any."""
    return _notes.get()


@contextmanager
def noting(message: Message, channel: str = "") -> Iterator[CallNotes]:
    """Note the HTTP answers of sending ``message`` through ``channel`` during the block."""
    notes = CallNotes(message, channel)
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)
