"""The ``wirewatch`` command line: the app of :mod:`scheduler.commands.app`, every command
module under :mod:`scheduler.commands` loaded onto it (each loads its heavy modules only when
its command runs, so ``--help`` stays quick: tests/scheduler/test_startup.py)."""

from __future__ import annotations

import gc
import io
import sys

from scheduler.allocator import one_malloc_arena
from scheduler.commands import load_all
from scheduler.commands.app import app

load_all()

__all__ = ["GC_THRESHOLDS", "app", "main", "tune_process"]

#: A command keeps about 60 MB of modules, config and pooled objects alive, and every
#: collection of the oldest generation walks all of it. With CPython's default thresholds
#: (700, 10, 10) garbage collection took 20% of a 304 poll of 1,000 feeds (0.9-1.6 s of
#: CPU) and 3 s of a first pass of 200 feeds; with these, 0.4 s and 0.5 s, at the same peak
#: RSS (benchmarks/RESULTS.md). Reference cycles wait for at most 50,000 allocations.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_process() -> None:
    """The garbage-collection thresholds and the malloc arena of every wirewatch process
    (the benchmarks' collection worker runs with them too); call before any thread starts."""
    gc.set_threshold(*GC_THRESHOLDS)
    one_malloc_arena()


def main() -> None:
    """Console-script entry point."""
    tune_process()
    # On an output that cannot encode some stored text (PYTHONIOENCODING=latin-1, a cp1252
    # console) that text is written as escapes (\u4e2d), not a crash halfway through.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
