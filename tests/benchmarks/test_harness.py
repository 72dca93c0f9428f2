"""Smoke tests of the benchmark harness: it runs and reports; speed is never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import feedparser

from benchmarks.bench_feedparse import generated_feeds, parse_only_rate
from benchmarks.bench_poll import sequential_poll, wirewatch_poll_fn
from benchmarks.newsserver import NewsServer
from benchmarks.registry import Result

REPO = Path(__file__).resolve().parents[2]


def test_quick_feedparse_run_prints_row_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "feedparse", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if "feedparse" in line and "│" in line)
    assert "items/s" in row and "×" in row
    report = out.read_text(encoding="utf-8")
    assert "## Machine" in report and "feedparser" in report
    assert "| feedparse |" in report


def test_unknown_benchmark_is_an_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope", "--out", str(tmp_path / "r.md")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "unknown benchmark" in proc.stderr


def test_ratio_direction() -> None:
    assert Result("a", 200.0, 100.0, "items/s").ratio == 2.0
    assert Result("b", 1.0, 4.0, "s", higher_is_better=False).ratio == 4.0
    assert Result("c", None, 4.0, "s", higher_is_better=False).ratio is None


def test_generated_feeds_parse_and_reusable_helpers_run() -> None:
    batch = generated_feeds(6, items_per_feed=5)
    assert all(len(feedparser.parse(data).entries) == 5 for data in batch)
    assert parse_only_rate(batch) > 0
    with NewsServer(hosts=2, feeds_per_host=2, items_per_feed=3) as server:
        assert sequential_poll(server.feed_urls()) > 0
        assert all(server.request_count(url) == 1 for url in server.feed_urls())
    poll = wirewatch_poll_fn()
    assert poll is None or callable(poll)
