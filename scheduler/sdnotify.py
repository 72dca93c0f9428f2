"""The systemd notify protocol (``sd_notify(3)``) without a dependency.

Messages are ``KEY=VALUE`` lines sent as one datagram to the unix socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). Outside systemd the
variable is unset and every call is a no-op returning False.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("wirewatch.sdnotify")
SEND_TIMEOUT = 2.0


def _address() -> str | None:
    value = os.environ.get("NOTIFY_SOCKET", "")
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    if value:
        log.debug("NOTIFY_SOCKET %r is not a unix socket; not notifying", value)
    return None


def notify(state: str) -> bool:
    """Send ``state`` (newline-separated ``KEY=VALUE`` assignments); True if it was sent."""
    address = _address()
    if address is None or not state:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(SEND_TIMEOUT)
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.debug("sd_notify %r failed: %s", state, exc)
        return False
    return True


def ready() -> bool:
    """Startup finished (``READY=1``)."""
    return notify("READY=1")


def reloading() -> bool:
    """A configuration reload started; follow it with ``ready()`` when done."""
    return notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")


def stopping() -> bool:
    """Shutdown began (``STOPPING=1``)."""
    return notify("STOPPING=1")


def watchdog() -> bool:
    """Keep-alive ping for ``WatchdogSec=`` (``WATCHDOG=1``)."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """A one-line status shown by ``systemctl status``."""
    return notify("STATUS=" + " ".join(text.split()))


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``WATCHDOG_USEC``), or None when not asked.

    Like ``sd_watchdog_enabled(3)``, a ``WATCHDOG_PID`` naming another process means the
    watchdog is not ours.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None
