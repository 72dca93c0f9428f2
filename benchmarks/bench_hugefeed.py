"""huge-feed: one RSS feed of 100,000 items, polled twice by a real collection pass.

The feed is served by a NewsServer (no validators, so the second poll fetches and parses it
again, as a feed without ETag/Last-Modified would be); the second version has one new item on
top. wirewatch: two ``crawler.collect.collect`` passes in one child process
(``benchmarks._poll_worker serve``) into a fresh migrated SQLite database; per pass the CPU
seconds of the child and its peak RSS (VmHWM, reset before each pass). Baseline:
``feedparser.parse`` of the same bytes alone, in its own child process (CPU seconds, peak
RSS): the cost of merely reading the feed the way the crawler did before it streamed.

Row: CPU seconds of the second (steady-state) poll; notes carry both passes, their peaks and
the accounting (stored + skipped by reason = found). ``quick``: 10,000 items.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any

from benchmarks.bench_archive import migrated_sqlite
from benchmarks.bench_poll import served_passes, write_spec
from benchmarks.newsserver import NewsServer
from benchmarks.registry import Result, RunOptions, register

CRAWL = {"timeout": "120s", "retries": 0, "max_bytes": 32 * 1024 * 1024}
_TIMEOUT = 3600.0
_PARSE_ONLY = r"""
import resource, sys, feedparser
data = open(sys.argv[1], "rb").read()
n = len(feedparser.parse(data).entries)
u = resource.getrusage(resource.RUSAGE_SELF)
print(n, u.ru_utime + u.ru_stime, u.ru_maxrss)
"""


def huge_feed(base: str, items: int, first: int = 0) -> bytes:
    """An RSS 2.0 feed of ``items`` short items (newest first), numbered from ``first``."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Everything</title><link>{base}/</link><description>all of it</description>\n"
    )
    rows = [
        f"<item><title>Story {n}</title><link>{base}/s/{n}</link>"
        f'<guid isPermaLink="false">s{n}</guid></item>\n'
        for n in range(first + items - 1, first - 1, -1)
    ]
    return (head + "".join(rows) + "</channel></rss>\n").encode()


def parse_only(data: bytes) -> dict[str, float]:
    """``feedparser.parse`` alone on ``data`` in a child: entries, CPU seconds, peak MiB."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            [sys.executable, "-c", _PARSE_ONLY, f.name],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=True,
        ).stdout.split()
    return {"entries": int(out[0]), "cpu_s": float(out[1]), "peak_mib": int(out[2]) / 1024}


def two_polls(items: int) -> tuple[list[dict[str, Any]], bytes]:
    """Poll the huge feed twice (one new item the second time); each pass's JSON summary."""
    with (
        NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as server,
        migrated_sqlite("wirewatch-hugefeed-") as (_, db_url),
        tempfile.TemporaryDirectory(prefix="wirewatch-hugefeed-") as tmp,
    ):
        base = server.host_urls()[0]
        headers = {"Content-Type": "application/rss+xml"}
        first = huge_feed(base, items, first=1)
        url = server.add_static("/huge.rss", first, headers)
        spec = write_spec(tmp, db_url, [url], CRAWL)

        def grow(n: int) -> None:  # the second poll: one new item on top
            if n:
                server.add_static("/huge.rss", huge_feed(base, items + 1, first=1), headers)

        results = served_passes(spec, 2, grow)
    return results, first


def _describe(result: dict[str, Any]) -> str:
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(result.get("skipped", {}).items()))
    return (
        f"{result['cpu_s']:.1f} s CPU, peak {result['peak_kb'] / 1024:.0f} MiB, "
        f"{result['new']} new, {result['duplicates']} seen"
        + (f" (skipped: {skipped})" if skipped else "")
    )


@register("huge-feed", "a 100,000-item feed polled twice vs feedparser.parse alone")
def run(options: RunOptions) -> Result:
    items = 10_000 if options.quick else 100_000
    (first, second), data = two_polls(items)
    return result(items, len(data), first, second, parse_only(data))


def result(
    items: int, size: int, first: dict[str, Any], second: dict[str, Any], alone: dict[str, Any]
) -> Result:
    """The table row from both polls and the parse-only baseline."""
    errors = sorted({e for r in (first, second) for e in r["errors"]})[:3]
    return Result(
        name="huge-feed",
        wirewatch=second["cpu_s"],
        baseline=alone["cpu_s"],
        unit="CPU s / poll",
        higher_is_better=False,
        target="every item stored or accounted for; memory bounded by the size cap",
        notes=f"{items:,} items, {size / 2**20:.1f} MiB; first poll (baseline, stores "
        f"all): {_describe(first)}; second poll (1 new item): {_describe(second)}; "
        f"feedparser.parse alone: {alone['cpu_s']:.1f} s CPU, peak {alone['peak_mib']:.0f} MiB, "
        f"{alone['entries']:,} entries" + (f"; errors: {'; '.join(errors)}" if errors else ""),
        extra={"first_cpu_s": first["cpu_s"], "first_peak_mib": first["peak_kb"] / 1024},
    )


if __name__ == "__main__":
    (a, b), raw = two_polls(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    print(json.dumps({"first": a, "second": b, "parse_only": parse_only(raw)}, indent=1))
