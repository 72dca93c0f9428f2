"""Processes as Linux's /proc shows them: children, memory, whether one has exited.

Shared by the benchmark workers and the tests that watch parser processes. Off Linux (no
/proc) a process has no children, no memory figure and counts as exited.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def child_pids(pid: int | str = "self") -> list[int]:
    """Process ids of the children of ``pid`` (every thread's), [] when it is gone."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return found


def status_kb(pid: int | str = "self", field: str = "VmRSS") -> int:
    """A KiB field of ``/proc/PID/status`` (``VmRSS``; ``VmHWM``: peak), 0 when unknown."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def exited(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")
