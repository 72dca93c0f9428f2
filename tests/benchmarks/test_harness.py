"""Smoke tests of the benchmark harness: it runs and reports; speed is never asserted."""

from __future__ import annotations

import cProfile
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import feedparser
import pytest

from benchmarks import machine
from benchmarks.bench_archive import ArticleStream, grow, migrated_sqlite
from benchmarks.bench_feedparse import generated_feeds, parse_only_rate
from benchmarks.bench_ingest import _fresh_run, profile_summary
from benchmarks.bench_memory import run_cycles
from benchmarks.bench_poll import wirewatch_pass, write_spec
from benchmarks.newsserver import NewsServer
from benchmarks.registry import Result
from benchmarks.threadpool import pooled_poll
from crawler.db import session_factory

REPO = Path(__file__).resolve().parents[2]


def test_quick_ingest_run_prints_row_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "ingest", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if "ingest" in line and "│" in line)
    assert "items/s" in row and "×" in row
    report = out.read_text(encoding="utf-8")
    assert "## Machine" in report and "feedparser" in report and "Load average" in report
    figures = r"CPU speed probe .*: ([0-9.]+) ms before the run, ([0-9.]+) ms after"
    probe = re.search(figures, report)
    assert probe is not None and all(float(ms) > 0 for ms in probe.groups())
    assert probe.group(0).split(": ", 1)[1] in proc.stdout
    assert "| ingest |" in report and "profile" in report


def test_speed_probe_times_its_workload(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([0.0, 0.030, 1.0, 1.020, 2.0, 2.025])  # three rounds: 30, 20, 25 ms
    monkeypatch.setattr(machine.time, "perf_counter", lambda: next(ticks))
    assert machine.speed_probe(rounds=3) == pytest.approx(20.0)
    monkeypatch.undo()
    assert 0 < machine.speed_probe(rounds=1) < 10_000  # the real clock: it ran, and returned


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


def test_all_benchmarks_register() -> None:
    from benchmarks.__main__ import load_all
    from benchmarks.registry import registered

    load_all()
    names = set(registered())
    assert {"ingest", "poll-cycle", "poll-cycle-304", "archive", "daemon-memory"} <= names
    assert {"startup-check", "startup-poll", "poll-process", "poll-process-304"} <= names
    assert {"daemon-rss", "urlwatch", "matching-combined-regex", "matching-aho-plain"} <= names
    assert "feedparse" not in names and "poll-baseline" not in names


def test_rounds_option_reaches_the_benchmarks(tmp_path: Path) -> None:
    from benchmarks import __main__ as cli
    from benchmarks.registry import Benchmark, RunOptions

    seen: list[RunOptions] = []

    def fake(options: RunOptions) -> Result:
        seen.append(options)
        return Result("probe", 1.0, 1.0, "x")

    cli.load_all()
    import benchmarks.registry as registry

    registry._REGISTRY["probe"] = Benchmark("probe", "", fake)
    try:
        out = tmp_path / "results.md"
        assert cli.main(["--only", "probe", "--rounds", "3", "--out", str(out)]) == 0
    finally:
        del registry._REGISTRY["probe"]
    assert seen[0].rounds == 3


def test_urlwatch_row_is_empty_without_urlwatch(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.bench_process as bench_process
    from benchmarks.registry import RunOptions

    monkeypatch.setattr(bench_process, "URLWATCH", None)
    row = bench_process.run_urlwatch(RunOptions(quick=True))
    assert row.wirewatch is None and row.baseline is None and "not installed" in row.notes


def test_ratio_direction() -> None:
    assert Result("a", 200.0, 100.0, "items/s").ratio == 2.0
    assert Result("b", 1.0, 4.0, "s", higher_is_better=False).ratio == 4.0
    assert Result("c", None, 4.0, "s", higher_is_better=False).ratio is None


def test_generated_feeds_parse_and_parse_only_rate_runs() -> None:
    batch = generated_feeds(6, items_per_feed=5)
    assert all(len(feedparser.parse(data).entries) == 5 for data in batch)
    assert parse_only_rate(batch) > 0


def test_ingest_stores_and_matches_and_profiles() -> None:
    batch = generated_feeds(4, items_per_feed=5)
    profile = cProfile.Profile()
    run = _fresh_run(batch, profile)
    assert run.entries == 20
    assert 0 < run.stored <= run.entries
    assert run.matches > 0  # the topical watchlists match the generated news
    summary = profile_summary(profile)
    assert "feedparser.parse" in summary and "attach_batch" in summary


def test_pooled_poll_sends_validators_and_gets_304s() -> None:
    # Counts only, from both ends: what the pool saw and what the server logged.
    with NewsServer(hosts=2, feeds_per_host=2, items_per_feed=3) as server:
        urls = server.feed_urls()
        validators: dict[str, tuple[str | None, str | None]] = {}
        first = pooled_poll(urls, validators, threads=3)
        assert first.statuses == {200: 4} and first.entries == 12
        assert set(validators) == set(urls) and all(v[0] for v in validators.values())
        server.reset_requests()
        second = pooled_poll(urls, validators, threads=3)
        assert second.statuses == {304: 4} and second.entries == 0
        assert [r.status for u in urls for r in server.requests(u)] == [304] * 4


def test_poll_worker_runs_a_pass_then_a_not_modified_pass(tmp_path: Path) -> None:
    with (
        NewsServer(hosts=2, feeds_per_host=1, items_per_feed=3) as server,
        migrated_sqlite() as (_, db_url),
    ):
        spec = write_spec(str(tmp_path), db_url, server.feed_urls(), {"timeout": "5s"})
        first = wirewatch_pass(spec)
        assert first["statuses"] == {"ok": 2} and first["new"] == 6
        second = wirewatch_pass(spec)
        assert second["statuses"] == {"not_modified": 2} and second["new"] == 0
        assert json.dumps(second)


def test_memory_worker_reports_rss_per_cycle() -> None:
    results = run_cycles(3, hosts=2, feeds_per_host=1)
    assert len(results) == 3
    assert all(r["rss_kb"] > 0 for r in results)
    assert sum(r["new"] for r in results) > 0


def test_article_stream_reposts_and_syndicates() -> None:
    stream = ArticleStream(seed=1, vocabulary=500)
    items = [stream.next() for _ in range(100)]
    urls = [i.canonical_url for i in items]
    assert len(set(urls)) < len(urls)  # every 50th re-posts a stored URL
    assert any(i.title.endswith("(wire)") for i in items)


def test_grow_measures_whole_windows_and_search() -> None:
    with migrated_sqlite() as (engine, _):
        growth = grow(session_factory(engine), target=300, window=100, budget=120)
    assert [size for size, _ in growth.windows] == [100, 200, 300]
    assert growth.stored + growth.duplicates == 300 and growth.duplicates > 0
    assert {"search_rare_ms", "search_missing_ms", "url_lookup_ms"} <= set(growth.search_ms)


def test_news_server_answers_loopback() -> None:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=2) as server:
        (url,) = server.feed_urls()
        assert url.startswith("http://127.")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200


def test_huge_feed_polls_report_cpu_peak_and_accounting() -> None:
    from benchmarks.bench_hugefeed import two_polls

    (first, second), data = two_polls(700)
    assert data.count(b"<item>") == 700
    assert (first["new"], first["skipped"]) == (700, {})
    assert second["new"] == 1 and second["skipped"] == {"duplicate: same guid": 700}
    assert all(r["cpu_s"] > 0 and r["peak_kb"] > 0 for r in (first, second))


def test_matching_baselines_agree_with_the_engine_on_generated_news() -> None:
    import random

    from alerts.matcher import Matcher
    from benchmarks.bench_matching import (
        CombinedRegexBaseline,
        PlainAhoBaseline,
        _words,
        make_articles,
        make_watchlists,
    )

    rng = random.Random(5)
    vocab = _words(rng, 2000)
    watchlists = make_watchlists(200, rng, vocab)
    docs = make_articles(30, rng, vocab)
    engine = Matcher.compile(watchlists)
    ours = [[m.watchlist for m in engine.match(d)] for d in docs]
    assert any(ours)
    for baseline in (CombinedRegexBaseline(watchlists), PlainAhoBaseline(watchlists)):
        assert [baseline.match(d) for d in docs] == ours


def test_process_runs_report_exit_code_and_peak_rss(tmp_path: Path) -> None:
    from benchmarks.bench_process import measured, write_config

    grow = "x = bytearray(64 * 1024 * 1024); x[::4096] = b'y' * len(x[::4096])"
    small, big = measured([sys.executable, "-c", "pass"]), measured([sys.executable, "-c", grow])
    assert small.code == 0 and big.code == 0
    assert big.peak_mib >= small.peak_mib + 60
    assert measured([sys.executable, "-c", "raise SystemExit(3)"]).code == 3
    # Two processes of 40 MiB each: the largest holds 40, together they hold 80.
    hold = "x = bytearray(40 << 20); x[::4096] = b'y' * len(x[::4096]); import time; time.sleep(1)"
    spawn = f"import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', {hold!r}])"
    pair = f"{spawn}; {hold}; c.wait()"
    both = measured([sys.executable, "-c", pair])
    assert both.peak_mib < small.peak_mib + 60
    assert both.tree_mib >= 2 * small.peak_mib + 75
    assert both.footprint_mib == both.tree_mib
    with NewsServer(hosts=1, feeds_per_host=2, items_per_feed=2) as server:
        config = write_config(tmp_path, server.feed_urls())
        check = subprocess.run(
            [str(Path(sys.executable).with_name("wirewatch")), "check", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert check.returncode == 0, check.stderr
    assert "f00001" in check.stdout


def test_threadpool_process_keeps_validators_between_passes(tmp_path: Path) -> None:
    with NewsServer(hosts=2, feeds_per_host=1, items_per_feed=2) as server:
        urls = tmp_path / "urls.json"
        urls.write_text(json.dumps(server.feed_urls()), encoding="utf-8")
        validators = tmp_path / "validators.json"
        for expected in (200, 304):
            server.reset_requests()
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.threadpool", str(urls), str(validators)],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
            assert [r.status for r in server.requests() if "/feed/" in r.path] == [expected] * 2
