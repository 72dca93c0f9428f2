"""poll-cycle: one collection pass over many feeds on many slow hosts, then a 304 pass.

Input: a NewsServer with 1,000 feeds on 100 loopback hosts, 50 ms latency per answer
(``quick``: 50 feeds on 10 hosts). Baseline: a thread pool of 16 workers, each feed fetched
with urllib and parsed with feedparser (it stores nothing); on the second pass it sends the
ETag / Last-Modified it got, like wirewatch. wirewatch: ``crawler.collect.run_collect`` in a
child process per pass (a Twisted reactor runs once per process; the time excludes
interpreter start and imports but includes reactor start, robots.txt, parsing, storing every
item with dedupe into a fresh migrated SQLite database and recording each source's poll
state). The second pass of both sides sees unchanged feeds, so every answer is a 304.

Both sides run in alternating rounds on one server (round 1: baseline first; round 2:
wirewatch first), each round on a fresh database and fresh validators; each row reports the
best round of each side. Two rows: ``poll-cycle`` (first pass) and ``poll-cycle-304``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.bench_archive import migrated_sqlite
from benchmarks.newsserver import NewsServer
from benchmarks.registry import Result, RunOptions, register
from benchmarks.threadpool import THREADS, PoolPass, Validators, pooled_poll

LATENCY = 0.05
_WORKER_TIMEOUT = 900.0
REPO = Path(__file__).resolve().parents[1]
#: CrawlSettings used for the wirewatch side (the only tuning applied). Every host gets its
#: own slot, so 100 hosts × 4 fill most of the 256 slots; 4 per host stays polite, and more
#: made no measurable difference (a pass is CPU-bound, not latency-bound, at this size).
CRAWL = {"concurrency": 256, "per_host": 4, "timeout": "30s", "retries": 2}


ROUNDS = 2


def source_specs(urls: Sequence[str]) -> list[dict[str, str]]:
    """``sources.yaml``-style feed sources for ``urls``."""
    return [
        {"id": f"feed-{i:05d}", "type": "atom" if u.endswith(".atom") else "rss", "url": u}
        for i, u in enumerate(urls)
    ]


def worker_env() -> dict[str, str]:
    """The environment of a benchmark child process (the repository on its path)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def write_spec(directory: str, db_url: str, urls: Sequence[str], crawl: dict[str, Any]) -> str:
    """Write a worker spec file; returns its path."""
    path = Path(directory) / "spec.json"
    spec = {"db_url": db_url, "sources": source_specs(urls), "crawl": crawl}
    path.write_text(json.dumps(spec), encoding="utf-8")
    return str(path)


def wirewatch_pass(spec_file: str) -> dict[str, Any]:
    """Run one collection pass in a child process; its JSON summary."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._poll_worker", "once", spec_file],
        cwd=REPO,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=_WORKER_TIMEOUT,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"poll worker failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def served_passes(
    spec_file: str, passes: int, before: Callable[[int], None] | None = None
) -> list[dict[str, Any]]:
    """Run ``passes`` collection passes in one long-lived child (``_poll_worker serve``).

    ``before(n)`` runs ahead of pass ``n`` (publish items, swap a feed). Returns the JSON
    summary of each pass; raises with the child's stderr when it stops early.
    """
    results: list[dict[str, Any]] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._poll_worker", "serve", spec_file],
        cwd=REPO,
        env=worker_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for n in range(passes):
            if before is not None:
                before(n)
            proc.stdin.write("poll\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                break
            results.append(json.loads(line))
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
    if len(results) < passes:
        raise RuntimeError(f"poll worker stopped early: {stderr[-2000:]}")
    return results


@dataclass
class Cycles:
    """Both passes of both sides, every round."""

    feeds: int
    hosts: int
    baseline: list[list[PoolPass]] = field(default_factory=lambda: [[], []])
    wirewatch: list[list[dict[str, Any]]] = field(default_factory=lambda: [[], []])
    requests: list[int] = field(default_factory=lambda: [0, 0])

    def best_baseline(self, index: int) -> PoolPass:
        return min(self.baseline[index], key=lambda p: p.seconds)

    def best_wirewatch(self, index: int) -> dict[str, Any]:
        return min(self.wirewatch[index], key=lambda w: float(w["seconds"]))


@cache
def measure(quick: bool, rounds: int | None = None) -> Cycles:
    """Alternating rounds of both passes of both sides on one server (cached per run)."""
    hosts, per_host = (10, 5) if quick else (100, 10)
    cycles = Cycles(hosts * per_host, hosts)
    with (
        NewsServer(hosts=hosts, feeds_per_host=per_host, latency=LATENCY) as server,
        tempfile.TemporaryDirectory(prefix="wirewatch-poll-") as tmp,
    ):
        urls = server.feed_urls()
        for round_ in range(rounds or (1 if quick else ROUNDS)):
            with migrated_sqlite() as (_, db_url):
                spec = write_spec(tmp, db_url, urls, CRAWL)
                validators: Validators = {}
                for index in range(2):
                    for side in ("baseline", "wirewatch")[:: 1 if round_ % 2 == 0 else -1]:
                        if side == "baseline":
                            cycles.baseline[index].append(pooled_poll(urls, validators))
                        else:
                            _wirewatch_side(cycles, index, server, urls, spec)
    return cycles


def _wirewatch_side(
    cycles: Cycles, index: int, server: NewsServer, urls: Sequence[str], spec: str
) -> None:
    server.reset_requests()
    cycles.wirewatch[index].append(wirewatch_pass(spec))
    cycles.requests[index] = sum(server.request_count(u) for u in urls)


def _notes(c: Cycles, index: int) -> str:
    w = c.best_wirewatch(index)
    b = c.best_baseline(index)
    ours = ", ".join(f"{float(x['seconds']):.2f}" for x in c.wirewatch[index])
    theirs = ", ".join(f"{x.seconds:.2f}" for x in c.baseline[index])
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(w["statuses"].items()))
    errors = f"; errors: {'; '.join(w['errors'])}" if w["errors"] else ""
    settings = ", ".join(f"{k}={v}" for k, v in CRAWL.items())
    return (
        f"{c.feeds} feeds on {c.hosts} hosts, {LATENCY * 1000:.0f} ms latency; wirewatch: "
        f"{statuses}, {w['new']} new articles stored, {c.requests[index]} feed requests; "
        f"CrawlSettings({settings}), robots.txt obeyed{errors}; baseline: {THREADS} "
        f"threads, HTTP {dict(sorted(b.statuses.items()))}, {b.entries} entries parsed; best of "
        f"{len(c.wirewatch[index])} alternating rounds (wirewatch {ours} s, baseline {theirs} s)"
    )


@register("poll-cycle", "first poll pass: 16-thread urllib+feedparser pool vs wirewatch collect")
def run(options: RunOptions) -> Result:
    c = measure(options.quick, options.rounds)
    return Result(
        name="poll-cycle",
        wirewatch=c.best_wirewatch(0)["seconds"],
        baseline=c.best_baseline(0).seconds,
        unit="s / cycle",
        higher_is_better=False,
        target="≥ 0.5×",
        notes=_notes(c, 0) + "; wirewatch also stores + dedupes every item (baseline: parse only)",
        extra={"feeds": c.feeds, "hosts": c.hosts},
    )


@register("poll-cycle-304", "second pass, feeds unchanged (304s): both sides send validators")
def run_not_modified(options: RunOptions) -> Result:
    c = measure(options.quick, options.rounds)
    return Result(
        name="poll-cycle-304",
        wirewatch=c.best_wirewatch(1)["seconds"],
        baseline=c.best_baseline(1).seconds,
        unit="s / cycle",
        higher_is_better=False,
        target="≥ 2×",
        notes=_notes(c, 1),
        extra={"feeds": c.feeds, "hosts": c.hosts},
    )
