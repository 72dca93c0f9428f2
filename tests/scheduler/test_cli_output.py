"""The listing commands' output for people and scripts, through the real CLI with stdout piped:
``--format json|jsonl|csv`` parsed and checked against docs/output.md, tables never wrapped,
times labelled in the configured zone, ``poll`` listing new titles, ``--version``, flags."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crawler.db import make_engine, session_factory
from scheduler.cli import app
from tests.alerts.conftest import add_delivery, add_story, free_port

REPO = Path(__file__).resolve().parents[2]
WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))
LONG_ID = "taiwan-ministry-of-economic-affairs-international-trade-administration-news"
PATH = "/feeds/press-releases/international-trade/2026/category/patents-and-licensing/rss.xml"
ITEM_PATH = "/news/2026/11/30/a-very-long-article-path-that-a-narrow-table-would-fold-in-two"


class Feed(BaseHTTPRequestHandler):
    """Each request returns one item never seen before (so every poll has something new)."""

    hits = 0

    def do_GET(self) -> None:
        Feed.hits += 1
        n = Feed.hits
        host = self.headers["Host"]
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"<item><title>US and Taiwan sign patent pact number {n}</title>"
            f"<link>http://{host}{ITEM_PATH}-{n}?utm=none&amp;id={n}</link>"
            f"<guid>item-{n}</guid><pubDate>Mon, 30 Nov 2026 05:05:00 GMT</pubDate>"
            "<description>The US signed.</description></item></channel></rss>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Env:
    config: Path
    port: int
    sent_id: int
    dead_id: int


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``wirewatch ARGS`` with stdout a pipe and a narrow COLUMNS (tables must not care)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env |= {"COLUMNS": "60", "WIREWATCH_CONFIG": str(config)}
    return subprocess.run(
        [WIREWATCH, *args], capture_output=True, text=True, timeout=120, cwd=REPO, env=env
    )


def ok(config: Path, *args: str) -> str:
    """stdout of a successful ``wirewatch ARGS``: in-process (CliRunner's stdout is no
    terminal either), in a subprocess for ``poll`` (it runs a Twisted reactor)."""
    if args[0] in ("poll", "db"):
        done = run(config, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout
    result = CliRunner().invoke(
        app, list(args), env={"WIREWATCH_CONFIG": str(config), "COLUMNS": "60"}
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("output")
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = tmp / "config"
    (root / "watchlists").mkdir(parents=True)
    db = f"sqlite:///{tmp / 'ww.db'}"
    (root / "wirewatch.yaml").write_text(
        f"database_url: {db}\ntimezone: Asia/Taipei\n"
        "crawl:\n  allow_private: [127.0.0.0/8]\n  delay: 0s\n"
    )
    (root / "sources.yaml").write_text(
        f"sources:\n  - id: {LONG_ID}\n    name: MOEA trade news\n    type: rss\n"
        f"    url: http://127.0.0.1:{port}{PATH}?lang=en&page=1\n"
    )
    (root / "watchlists" / "w.yaml").write_text(
        "groups:\n  us: ['=US']\nmatch: us\nnotify:\n  - channel: console\n"
    )
    try:
        ok(root, "db", "upgrade")
        ok(root, "poll")  # the first poll: a baseline with one item
        engine = make_engine(db)
        with session_factory(engine)() as s:
            sent = add_delivery(s, add_story(s, "台美簽署專利授權合作備忘錄"), "console")
            dead = add_delivery(s, add_story(s, "A dead alert's story"), "console")
            sent.status, dead.status, dead.last_error = "sent", "dead", "HTTP 500"
            s.commit()
            ids = sent.id, dead.id
        engine.dispose()
        yield Env(root, port, *ids)
    finally:
        server.shutdown()


COMMANDS: dict[str, tuple[str, ...]] = {
    "check": ("check",),
    "sources": ("sources",),
    "articles": ("articles",),
    "alerts": ("alerts",),
    "backtest": ("backtest", "w", "--since", "3650d"),
    "poll": ("poll",),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_json_jsonl_and_csv_carry_the_same_rows(env: Env, command: str) -> None:
    args = COMMANDS[command]
    rows = json.loads(ok(env.config, *args, "--format", "json"))
    assert isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)
    lines = ok(env.config, *args, "--format", "jsonl").splitlines()
    again = [json.loads(line) for line in lines]
    table = list(csv.DictReader(io.StringIO(ok(env.config, *args, "-F", "csv"))))
    if command == "poll":  # every poll finds one more new item
        assert [r["source_id"] for r in again] == [r["source_id"] for r in rows]
    else:
        assert again == rows
    assert len(table) == len(rows) and set(table[0]) >= set(rows[0])


def documented() -> dict[str, set[str]]:
    """docs/output.md: the fields of each ``## wirewatch CMD`` (``### kind: K``) table."""
    fields: dict[str, set[str]] = {}
    section = ""
    for line in (REPO / "docs" / "output.md").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"## wirewatch (\w+)", line):
            section = m[1]
        elif m := re.match(r"### kind: (\w+)", line):
            section = f"check:{m[1]}"
        elif section and (m := re.match(r"\| `([\w\[\].]+)` \|", line)):
            fields.setdefault(section, set()).add(m[1])
    return fields


def fields_of(rows: list[dict[str, Any]]) -> set[str]:
    out = set()
    for row in rows:
        for key, value in row.items():
            out.add(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                out |= {f"{key}[].{k}" for item in value for k in item}
    return out


def test_every_documented_field_is_in_the_output_and_vice_versa(env: Env) -> None:
    docs = documented()
    seen: dict[str, set[str]] = {}
    for command, args in COMMANDS.items():
        rows = json.loads(ok(env.config, *args, "--format", "json"))
        if command == "check":
            for kind in ("source", "watchlist", "channel"):
                seen[f"check:{kind}"] = fields_of([r for r in rows if r["kind"] == kind])
        else:
            seen[command] = fields_of(rows)
    assert seen == docs


def test_piped_tables_keep_ids_and_urls_whole_on_one_line(env: Env) -> None:
    feed = f"http://127.0.0.1:{env.port}{PATH}?lang=en&page=1"
    check = ok(env.config, "check")
    assert any(LONG_ID in line and feed in line for line in check.splitlines())
    sources = ok(env.config, "sources")
    assert any(LONG_ID in line and "ok" in line for line in sources.splitlines())
    articles = ok(env.config, "articles").splitlines()
    link = re.compile(rf"http://127\.0\.0\.1:{env.port}{ITEM_PATH}-\d+\?utm=none&id=\d+")
    rows = [line for line in articles if link.search(line)]
    assert rows and all("US and Taiwan sign patent pact number" in line for line in rows)
    polled = ok(env.config, "poll").splitlines()
    assert any(LONG_ID in line and "ok" in line for line in polled)
    assert any(link.search(line) and "MOEA trade news" in line for line in polled)


def test_table_times_are_in_the_configured_zone_and_labelled(env: Env) -> None:
    articles = ok(env.config, "articles")
    assert "Articles (times in Asia/Taipei)" in articles
    assert "2026-11-30 13:05 CST" in articles  # 05:05 GMT
    rows = json.loads(ok(env.config, "articles", "-F", "json"))
    assert {r["published_at"] for r in rows if r["source_id"] == LONG_ID} == {
        "2026-11-30T05:05:00Z"
    }
    assert "CST" in ok(env.config, "sources")


def test_poll_lists_new_titles_and_quiet_gives_counts_only(env: Env) -> None:
    loud = ok(env.config, "poll")
    assert re.search(r"US and Taiwan sign patent pact number \d+", loud)
    assert re.search(r"^1 new, 0 already seen, 1 ok, 0 failed in ", loud, re.M)
    quiet = ok(env.config, "poll", "--quiet")
    assert quiet.startswith("1 new, 0 already seen, 1 ok, 0 failed in ")
    assert len(quiet.splitlines()) == 1 and "pact" not in quiet
    [row] = json.loads(ok(env.config, "poll", "-F", "json"))
    [item] = row["new_items"]
    assert row["source"] == "MOEA trade news" and row["new"] == 1
    assert item["title"].startswith("US and Taiwan sign patent pact number")


def test_alerts_limit_title_and_retry_of_a_sent_delivery(env: Env) -> None:
    rows = json.loads(ok(env.config, "alerts", "-F", "json"))
    titles = {r["id"]: r["story_title"] for r in rows}
    assert titles[env.sent_id] == "台美簽署專利授權合作備忘錄"
    assert "台美簽署專利授權合作備忘錄" in ok(env.config, "alerts")
    assert len(json.loads(ok(env.config, "alerts", "-n", "1", "-F", "json"))) == 1
    done = run(env.config, "alerts", "retry", str(env.sent_id))
    assert done.returncode == 0 and "re-queued 0 deliveries" in done.stdout
    assert f"delivery {env.sent_id}: already sent, not re-queued" in done.stderr


def test_backtest_shows_terms_as_written_and_source_names(env: Env) -> None:
    rows = json.loads(ok(env.config, "backtest", "w", "--since", "3650d", "-F", "json"))
    assert rows and all(r["terms"] == ["US"] for r in rows)
    assert {r["source"] for r in rows} == {"MOEA trade news"}
    table = ok(env.config, "backtest", "w", "--since", "3650d", "-n", "1")
    assert "US (title)" in table and "=US" not in table and "MOEA trade news" in table


def test_version_prints_the_installed_version() -> None:
    done = run(REPO, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"wirewatch {version('wirewatch')}"


@pytest.mark.parametrize(
    ("command", "flag"),
    [("run", "--once"), ("poll", "--quiet"), ("backtest", "--deliver"), ("--version", "")],
)
def test_flags_are_shown_as_flags(command: str, flag: str) -> None:
    args = ["--help"] if command == "--version" else [command, "--help"]
    text = run(REPO, *args).stdout
    line = next(x for x in text.splitlines() if (flag or command) in x)
    assert "<bool>" not in line


def test_missing_config_directory_names_the_path_and_config_option(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = run(missing, "check")
    assert done.returncode == 1
    assert str(missing) in done.stderr and "--config" in done.stderr


def test_offline_first_run_names_failures_and_says_network_down_once(tmp_path: Path) -> None:
    root = tmp_path / "config"
    root.mkdir()
    (root / "wirewatch.yaml").write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\n"
        "crawl:\n  allow_private: [127.0.0.0/8]\n  retries: 0\n"
    )
    closed = [free_port() for _ in range(20)]  # nothing listens: connection refused
    (root / "sources.yaml").write_text(
        "sources:\n"
        + "".join(
            f"  - id: src-{i:02d}\n    type: rss\n    url: http://127.0.0.1:{p}/f\n"
            for i, p in enumerate(closed)
        )
    )
    ok(root, "db", "upgrade")
    done = run(root, "poll", "--quiet")
    assert done.returncode == 0
    assert re.search(
        r"0 ok, 20 failed in [\d.]+s: src-00 \(connection refused\), src-01 \(connection "
        r"refused\), src-02 \(connection refused\) and 17 more$",
        done.stdout.strip(),
    )
    assert done.stderr.count("the network looks down") == 1


def test_search_results_carry_the_same_fields_as_the_listing(env: Env) -> None:
    listed = {r["id"]: r for r in json.loads(ok(env.config, "articles", "-F", "json"))}
    polled = next(r for r in listed.values() if r["source_id"] == LONG_ID)
    word = max(re.findall(r"[A-Za-z]{3,}", polled["title"]), key=len)
    found = json.loads(ok(env.config, "articles", "--search", word, "-F", "json"))
    assert polled in found
    assert all(row == listed[row["id"]] for row in found)
