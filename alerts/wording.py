"""How times and counts read to people, in alerts and on the command line alike.

Free of heavy imports: the CLI uses it at start-up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


def local_time(value: datetime | None, tz: str) -> str:
    """``value`` in zone ``tz``, labelled with the zone (``2026-11-30 13:05 CST``); "" for None.

    A naive value is UTC (as the database stores it).
    """
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz)).strftime(TIME_FORMAT)


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 story``, ``2 stories``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
