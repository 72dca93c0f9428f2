"""The C allocator's settings for a wirewatch process (glibc only; elsewhere nothing changes)."""

from __future__ import annotations

import os
import sys

_M_ARENA_MAX = -8  # glibc's <malloc.h> option number


def one_malloc_arena() -> bool:
    """Make glibc's malloc serve every thread from one arena; True when it took effect.

    By default glibc gives each thread its own arena (up to eight per core), and memory
    freed in one stays there. A pass parses in worker threads, stores in another and crawls
    in the main one, so the arenas fragment side by side: a first pass of 1,000 feeds peaked
    at 255 MiB with them and 231 MiB with one, in the same CPU time (benchmarks/RESULTS.md);
    the GIL leaves little for separate arenas to win. Call before any thread starts. An
    explicit ``MALLOC_ARENA_MAX`` in the environment is left to rule.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, 1))  # musl's stub answers 0
