"""One malloc arena for every thread of a wirewatch process (glibc), counted by glibc itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc's allocator only",
)

# Threads that allocate outside CPython's small-object allocator (> 512 bytes) all at once,
# then glibc's malloc_info: one <heap nr=...> element per arena.
_THREADS_THEN_HEAPS = """
import ctypes, tempfile, threading
barrier = threading.Barrier(4)
def work():
    barrier.wait()
    kept = [bytes(100_000) for _ in range(20)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(fp))
    libc.fclose(ctypes.c_void_p(fp))
    print(out.read().count("<heap nr="))
"""


def _heaps(setup: str, **env: str) -> tuple[int, str]:
    """Arenas after ``setup`` and the threads ran; what ``setup`` printed before."""
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    proc = subprocess.run(
        [sys.executable, "-c", setup + _THREADS_THEN_HEAPS],
        cwd=REPO,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    *before, heaps = proc.stdout.split()
    return int(heaps), " ".join(before)


def test_threads_share_one_arena_after_the_command_starts() -> None:
    started = (
        "import sys\nsys.argv = ['wirewatch', '--help']\nfrom scheduler.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    assert _heaps(started)[0] == 1
    assert _heaps("")[0] > 1  # glibc's default: an arena per allocating thread


def test_an_explicit_malloc_arena_max_is_left_to_rule() -> None:
    call = "from scheduler.allocator import one_malloc_arena\nprint(one_malloc_arena())\n"
    heaps, printed = _heaps(call, MALLOC_ARENA_MAX="2")
    assert printed == "False" and heaps == 2
    heaps, printed = _heaps(call)
    assert printed == "True" and heaps == 1
