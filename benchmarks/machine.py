"""Describe the machine and software a benchmark run used."""

from __future__ import annotations

import os
import platform
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
