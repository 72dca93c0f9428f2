"""daemon-memory: RSS of one long-lived collection process after many poll cycles.

One child process (``benchmarks._poll_worker serve``) installs the asyncio Twisted reactor
once and awaits ``crawler.collect.collect`` once per cycle, as the daemon does, against a
NewsServer of 100 feeds on 20 loopback hosts; between cycles a few new items are published
(so each pass stores some articles and answers 304 for the rest). VmRSS is read from
/proc after every pass, the process's and its parser processes' together. Row: RSS after
the last cycle (200; ``quick`` 30) against the RSS after cycle 10 (the baseline, once
imports, caches and pools are warm).
Target: growth < 10 %. Only collection runs in the child: no scheduler jobs, no matching.
"""

from __future__ import annotations

import random
import tempfile
from typing import Any

from benchmarks.bench_archive import migrated_sqlite
from benchmarks.bench_poll import served_passes, write_spec
from benchmarks.newsserver import NewsServer
from benchmarks.registry import Result, RunOptions, register

WARM_CYCLE = 10
PUBLISH_PER_CYCLE = 5
CRAWL = {"concurrency": 64, "per_host": 5, "timeout": "10s", "retries": 0}
_WORDS = (
    "ministry", "patent", "tariff", "export", "semiconductor", "court", "ruling", "license",
    "harbour", "election", "budget", "railway", "council", "grid", "vaccine", "satellite",
    "drought", "festival", "museum", "reservoir", "shipyard", "bond", "startup", "typhoon",
)  # fmt: skip


def _headline(rng: random.Random, n: int) -> tuple[str, str]:
    title = " ".join(rng.choice(_WORDS) for _ in range(8)).capitalize() + f" ({n})"
    summary = " ".join(rng.choice(_WORDS) for _ in range(60)) + "."
    return title, summary


def run_cycles(cycles: int, hosts: int = 20, feeds_per_host: int = 5) -> list[dict[str, Any]]:
    """Run ``cycles`` collection passes in one child process; the JSON summary of each."""
    rng = random.Random(3)
    with (
        NewsServer(hosts=hosts, feeds_per_host=feeds_per_host, items_per_feed=20) as server,
        migrated_sqlite() as (_, db_url),
        tempfile.TemporaryDirectory(prefix="wirewatch-memory-") as tmp,
    ):
        spec = write_spec(tmp, db_url, server.feed_urls(), CRAWL)
        feed_ids = server.feed_ids()

        def publish(cycle: int) -> None:
            for k in range(PUBLISH_PER_CYCLE if cycle else 0):
                title, summary = _headline(rng, cycle * PUBLISH_PER_CYCLE + k)
                server.publish(rng.choice(feed_ids), title, summary)

        results = served_passes(spec, cycles, publish)
    return results


@register("daemon-memory", "RSS after many collect passes in one reactor vs after pass 10")
def run(options: RunOptions) -> Result:
    cycles = 30 if options.quick else 200
    results = run_cycles(cycles)
    rss = [(r["rss_kb"] + r.get("children_rss_kb", 0)) / 1024 for r in results]
    warm, last = rss[WARM_CYCLE - 1], rss[-1]
    growth = (last - warm) / warm * 100 if warm else 0.0
    marks = sorted({WARM_CYCLE, 25, 50, 100, 150, cycles} & set(range(1, cycles + 1)))
    trend = ", ".join(f"#{m} {rss[m - 1]:.1f}" for m in marks)
    stored = sum(r["new"] for r in results)
    seconds = [r["seconds"] for r in results[1:]] or [0.0]
    errors = sorted({e for r in results for e in r["errors"]})[:3]
    return Result(
        name="daemon-memory",
        wirewatch=last,
        baseline=warm,
        unit="MiB RSS",
        higher_is_better=False,
        target="growth < 10% (≥ 0.91×)",
        notes=f"growth {growth:+.1f}% from cycle {WARM_CYCLE} to {cycles}; RSS MiB by cycle: "
        f"{trend}; first pass {rss[0]:.1f} MiB; 100 feeds on 20 hosts, {PUBLISH_PER_CYCLE} items "
        f"published per cycle, {stored} articles stored; pass {min(seconds):.2f}-"
        f"{max(seconds):.2f} s" + (f"; errors: {'; '.join(errors)}" if errors else ""),
        extra={"growth_pct": growth, "cycles": cycles},
    )
