"""Child process for the collection benchmarks: a Twisted reactor runs once per process.

``python -m benchmarks._poll_worker once SPEC_FILE`` runs one pass with
``crawler.collect.run_collect`` and prints one JSON line (wall seconds of the pass, statuses,
new and duplicate counts).

``python -m benchmarks._poll_worker serve SPEC_FILE`` installs the asyncio reactor once and then,
for every line read on stdin, awaits one ``crawler.collect.collect`` pass and prints one JSON
line (the same fields plus ``rss_kb``, VmRSS after the pass, and ``children_rss_kb``, its
parser processes'; ``peak_kb``, the pass's own
VmHWM; ``cpu_s``, its CPU seconds; ``skipped``, entries not stored by reason); an empty
line or EOF ends it.
This is how the daemon uses ``collect``: many passes in one long-running reactor, with the
garbage-collection thresholds and the single malloc arena the ``wirewatch`` command sets
(``scheduler.cli.tune_process``).

SPEC_FILE holds JSON: ``{"db_url": ..., "sources": [{"id", "type", "url"}, ...], "crawl": {...}}``
(``crawl`` holds :class:`crawler.crawl_settings.CrawlSettings` fields).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.procfs import child_pids, status_kb

_MAX_PASSES = 100_000  # bound on passes served by one worker
_COMPONENTS = (
    "DOWNLOADER_MIDDLEWARES",
    "SPIDER_MIDDLEWARES",
    "EXTENSIONS",
    "ITEM_PIPELINES",
)


def rss_kb(field: str = "VmRSS") -> int:
    """Resident set size of this process in KiB (``VmRSS``; ``VmHWM``: peak), 0 when unknown."""
    return status_kb("self", field)


def children_rss_kb() -> int:
    """Summed resident set size of this process's children in KiB (its parser processes)."""
    return sum(status_kb(pid) for pid in child_pids())


def reset_peak_rss() -> None:
    """Restart the VmHWM peak at the current RSS (Linux >= 4.0), so a pass reports its own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(report: Any, seconds: float, cpu: float = 0.0) -> dict[str, Any]:
    """The JSON a pass answers with (``cpu_s``: CPU seconds of the pass, ``peak_kb``: VmHWM)."""
    return {
        "seconds": seconds,
        "report_seconds": report.seconds,
        "statuses": dict(Counter(o.status for o in report.outcomes)),
        "new": report.new,
        "duplicates": report.duplicates,
        "errors": sorted({o.error for o in report.outcomes if o.error})[:5],
        "rss_kb": rss_kb(),
        "children_rss_kb": children_rss_kb(),
        "peak_kb": rss_kb("VmHWM"),
        "cpu_s": cpu,
        "skipped": dict(
            sum((Counter(getattr(o, "skipped", None) or {}) for o in report.outcomes), Counter())
        ),
    }


def _setup(spec: dict[str, Any]) -> tuple[Any, list[Any], Any]:
    from pydantic import TypeAdapter

    from crawler.crawl_settings import CrawlSettings
    from crawler.db import make_engine, session_factory
    from crawler.sources import AnySource

    sessions = session_factory(make_engine(spec["db_url"]))
    sources = TypeAdapter(list[AnySource]).validate_python(spec["sources"])
    return sessions, sources, CrawlSettings(**spec.get("crawl", {}))


def _warm_imports(crawl: Any) -> None:
    """Import what a pass imports lazily: Scrapy's crawler and components, the spider.

    The timed pass then excludes imports, as a daemon's passes do after its first one.
    The asyncio reactor is installed first: nothing may import a reactor before it.
    """
    from crawler.reactor import install_reactor

    install_reactor()
    from scrapy.settings import Settings
    from scrapy.utils.misc import load_object

    import crawler.spider  # noqa: F401
    from crawler.scrapy_settings import scrapy_settings

    settings = Settings(scrapy_settings(crawl))
    paths = [p for p in settings.getwithbase("DOWNLOAD_HANDLERS").values() if p]
    for name in _COMPONENTS:
        paths += [p for p, order in settings.getwithbase(name).items() if order is not None]
    for path in paths:
        if isinstance(path, str):
            load_object(path)
    for name in ("SCHEDULER", "SCHEDULER_PRIORITY_QUEUE", "DOWNLOADER", "STATS_CLASS"):
        load_object(settings[name])


def once(spec: dict[str, Any]) -> dict[str, Any]:
    """One pass through ``run_collect``; its wall time includes reactor start and stop."""
    from crawler.collect import run_collect

    sessions, sources, crawl = _setup(spec)
    _warm_imports(crawl)
    started = time.perf_counter()
    report = run_collect(sessions, sources, crawl, owner="bench")
    return summary(report, time.perf_counter() - started)


def serve(spec: dict[str, Any]) -> None:
    """Run one ``collect`` pass per stdin line in one reactor, answering on stdout."""
    from crawler.collect import collect
    from crawler.reactor import install_reactor

    install_reactor()
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    sessions, sources, crawl = _setup(spec)

    async def main() -> None:
        for _ in range(_MAX_PASSES):
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line.strip():
                return
            reset_peak_rss()
            started, cpu = time.perf_counter(), cpu_seconds()
            report = await collect(sessions, sources, crawl, owner="bench")
            out = summary(report, time.perf_counter() - started, cpu_seconds() - cpu)
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()

    def done(result: object) -> object:
        reactor.stop()  # type: ignore[attr-defined]
        return result

    def start() -> None:
        Deferred.fromFuture(asyncio.ensure_future(main())).addBoth(done)

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``once SPEC_FILE`` or ``serve SPEC_FILE``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("once", "serve"):
        print("usage: python -m benchmarks._poll_worker once|serve SPEC_FILE", file=sys.stderr)
        return 2
    from scheduler.cli import tune_process

    tune_process()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    spec = json.loads(Path(args[1]).read_text(encoding="utf-8"))
    if args[0] == "once":
        print(json.dumps(once(spec)), flush=True)
    else:
        serve(spec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
