"""What goes into a channel and what comes back: a message, per-service outcomes, a result."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Message:
    """One rendered message: ``body`` is in ``body_format``; ``text`` is a plain alternative."""

    title: str
    body: str
    body_format: Literal["text", "markdown", "html"] = "text"
    text: str = ""
    message_id: str | None = None


@dataclass(frozen=True)
class ServiceOutcome:
    """What one apprise service reported for one message."""

    name: str
    url: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class SendResult:
    """The outcome of sending one message through a channel.

    ``retry_after`` (seconds, counted from ``answered_at``) is set when the service asked us
    to slow down (429, or 503 with Retry-After): the whole channel waits that long.
    ``throttled`` (a 429) means the message was refused for pace, not for a fault: it is
    not counted as an attempt.
    """

    ok: bool
    retryable: bool = True
    reason: str = ""
    retry_after: float | None = None
    services: tuple[ServiceOutcome, ...] = ()
    answered_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    throttled: bool = False


def clean_header(value: str) -> str:
    """One header line: control characters (CR/LF included) become spaces, runs collapse."""
    return " ".join(_CTRL.sub(" ", value.replace("\r", " ").replace("\n", " ")).split())
