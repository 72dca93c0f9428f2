"""Listing output for people and for scripts: ``--format table|json|jsonl|csv``.

A listing is a list of rows, each a dict whose keys are the stable field names documented
in ``docs/output.md``. ``json`` prints one array, ``jsonl`` one object per line, ``csv`` a
header line and one record per row (lists joined with "; ", mappings as JSON). Machine
formats carry raw values: times as ISO 8601 in UTC, counts as numbers, missing values as
null (empty in CSV).

Stored text comes from feeds and pages anyone can publish, so no format lets it drive the
reader's terminal or spreadsheet (docs/output.md, "Hostile text"): JSON escapes every
control, bidi and line-separator character (the value decodes to the stored text exactly);
CSV quotes what needs quoting and starts a cell a spreadsheet would run as a formula with
``'``; a table shows such characters as visible escapes (``\\x1b``, ``\\u202e``).

``table`` is for people: times in the configured display zone, each labelled with its zone
(``2026-11-30 13:05 CST``). On a terminal rich fits the table to the window; when stdout is
not a terminal (a pipe, a file) nothing is wrapped or cut: rows are as wide as their content,
so an id or URL always stays whole on its line.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from alerts.wording import local_time as when
from alerts.wording import plural as plural
from scheduler.plain_table import render as render_plain

Format = Literal["table", "json", "jsonl", "csv"]
FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        "-F",
        help="table for people; json (one array), jsonl (one object a line) or csv for "
        "scripts. Field names: docs/output.md.",
    ),
]
Row = dict[str, Any]
Kind = Literal["text", "id", "url", "time", "count"]
# Wide enough for any row: rich sizes a non-expanding table to its content.
_UNLIMITED = 1_000_000
_SHORT = 24
# What drives or reorders a terminal, or splits a line: C0 and C1 controls, DEL, the bidi
# marks, embeddings, overrides and isolates, the line and paragraph separators, and lone
# surrogates (not text at all). json.dumps escapes C0 itself, the rest it writes raw.
_UNSAFE_BEYOND_C0 = "\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069\\ud800-\\udfff"
_UNSAFE_TEXT = re.compile(f"[\\x00-\\x1f{_UNSAFE_BEYOND_C0}]")
_UNSAFE_JSON = re.compile(f"[{_UNSAFE_BEYOND_C0}]")
_SURROGATE = re.compile("[\\ud800-\\udfff]")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# A cell starting with one of these is a formula (or becomes one) in a spreadsheet (OWASP
# "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One table column: the row field it shows and how (ids and URLs never wrap)."""

    key: str
    header: str = ""
    kind: Kind = "text"
    show: Callable[[Row, str], str] | None = None  # (row, display zone)


def table_console(default: Console) -> Console:
    """``default`` on a terminal; otherwise a console that never wraps or cuts a row."""
    if default.is_terminal:
        return default
    return Console(
        file=sys.stdout, width=_UNLIMITED, highlight=False, soft_wrap=True, color_system=None
    )


def emit(
    rows: Sequence[Row],
    fmt: Format,
    *,
    columns: Sequence[Column],
    title: str,
    tz: str = "UTC",
    console: Console,
    style: Callable[[Row], str | None] | None = None,
) -> None:
    """Write ``rows`` in ``fmt``: a table of ``columns`` (rich's on a terminal, the same
    drawing made directly elsewhere), or every field for scripts."""
    if fmt != "table":
        write_rows(rows, fmt)
        return
    target = table_console(console)
    plain = target is not console
    cells = [[visible(_cell(row, col, tz)) for col in columns] for row in rows]
    # As wide as the content and uncoloured: drawn directly (scheduler.plain_table), unless
    # the output cannot encode box-drawing characters (rich then substitutes ASCII ones).
    # Titles and headers are text, never rich markup (a "[/]" would not parse).
    headers = [col.header or col.key for col in columns]
    if plain and not target.options.ascii_only:
        sys.stdout.write(render_plain(visible(title), headers, cells))
        sys.stdout.flush()
        return
    table = Table(title=Text(visible(title)), title_justify="left")
    for i, col in enumerate(columns):
        header = Text(headers[i])
        if plain:  # as wide as the content: nothing wraps
            table.add_column(header, no_wrap=True, overflow="ignore")
        else:  # a terminal: fit its width, folding long cells; short ids and times stay whole
            widest = max((len(c[i]) for c in cells), default=0)
            short = col.kind in ("id", "time", "count") and widest <= _SHORT
            table.add_column(header, overflow="fold", no_wrap=short)
    for row, texts in zip(rows, cells, strict=True):
        table.add_row(*(Text(t) for t in texts), style=style and style(row))
    target.print(table, crop=False)


def write_rows(rows: Sequence[Mapping[str, Any]], fmt: Format) -> None:
    """Rows as JSON (array or lines) or CSV on stdout."""
    out = sys.stdout
    encoding = codecs.lookup(getattr(out, "encoding", None) or "utf-8").name
    if fmt == "json":
        out.write(_json([_plain(r) for r in rows], indent=2, encoding=encoding) + "\n")
    elif fmt == "jsonl":
        for r in rows:
            out.write(_json(_plain(r), encoding=encoding) + "\n")
    elif fmt == "csv":
        fields = list(dict.fromkeys(k for r in rows for k in r))
        # "\r\n" (RFC 4180): the writer quotes a cell holding any line-terminator
        # character, so a lone "\r" in a cell is quoted too and reads back whole.
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _csv_value(v) for k, v in _plain(r).items()})
    out.flush()


def visible(text: str) -> str:
    """``text`` for a terminal: control, bidi and separator characters as escapes
    (``\\x1b``, ``\\n``, ``\\u202e``), everything else as it is."""
    return _UNSAFE_TEXT.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


def _json(value: Any, indent: int | None = None, encoding: str = "utf-8") -> str:
    """JSON with non-ASCII text readable but every unsafe character escaped as ``\\uXXXX``
    (outside strings json.dumps writes ASCII only, so this touches string contents only).
    Text ``encoding`` cannot hold makes the whole document ASCII, with ``\\uXXXX`` escapes:
    still exactly the stored values."""
    text = _UNSAFE_JSON.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, indent=indent)
    )
    if encoding != "utf-8":  # UTF-8 holds any text left (lone surrogates are escaped)
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            return json.dumps(value, indent=indent)
    return text


def _cell(row: Row, col: Column, tz: str) -> str:
    if col.show is not None:
        return col.show(row, tz)
    value = row.get(col.key)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return when(value, tz)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 UTC, tuples as lists, nested values converted."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        value = "; ".join(map(str, value))
    elif isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        # A lone surrogate has no UTF-8 form: written as its escape, not a crash.
        return neutralise(_SURROGATE.sub(_escape, value))
    return value


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet will not run: one starting with ``= + - @``, tab or CR gets
    a leading ``'`` (OWASP); any other cell is unchanged."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell
