"""Describe the machine and software a benchmark run used."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "feedparser",
    "scrapy",
    "twisted",
    "lxml",
    "charset-normalizer",
    "trafilatura",
    "numpy",
    "pyahocorasick",
    "sqlalchemy",
    "apscheduler",
    "rich",
    "urlwatch",
)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def machine_info() -> dict[str, str]:
    """CPU, cores, RAM, OS, Python and the load average when written, as display strings."""
    ram = ram_bytes()
    try:
        load = "{:.1f} / {:.1f} / {:.1f} (1 / 5 / 15 min)".format(*os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "CPU": cpu_model(),
        "Cores": str(os.cpu_count() or "?"),
        "RAM": f"{ram / 2**30:.1f} GiB" if ram else "unknown",
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        # Other jobs on a shared machine stretch wall times; the load says how much.
        "Load average at the end of the run": load,
    }


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the figures."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _probe_work() -> int:
    # Dict, str and sort work on a fixed input: the kind of bytecode wirewatch's CPU-bound
    # paths run, not a C routine that a busy neighbour's cache pressure would spare.
    seen: dict[str, int] = {}
    for i in range(100_000):
        word = str(i * 7_919)
        seen[word] = seen.get(word[:3], 0) + len(word)
    return sum(sorted(seen.values())[::97])


def speed_probe(rounds: int = 5) -> float:
    """Milliseconds of a fixed pure-Python workload, best of ``rounds`` (lower: faster CPU).

    This machine's speed drifts by up to 3.5× between hours with no load or CPU steal to
    show it; taken before and after a run, the probe says which kind of hour the figures
    come from, so runs from different hours can be read side by side.
    """
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        _probe_work()
        best = min(best, time.perf_counter() - started)
    return best * 1000
