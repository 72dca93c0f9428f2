"""Listing output for people and for scripts: ``--format table|json|jsonl|csv``.

A listing is a list of rows, each a dict whose keys are the stable field names documented
in ``docs/output.md``. ``json`` prints one array, ``jsonl`` one object per line, ``csv`` a
header line and one record per row (lists joined with "; ", mappings as JSON). Machine
formats carry raw values: times as ISO 8601 in UTC, counts as numbers, missing values as
null (empty in CSV).

``table`` is for people: times in the configured display zone, each labelled with its zone
(``2026-11-30 13:05 CST``). On a terminal rich fits the table to the window; when stdout is
not a terminal (a pipe, a file) nothing is wrapped or cut: rows are as wide as their content,
so an id or URL always stays whole on its line.
"""

from __future__ import annotations

import csv
import json
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
    """Write ``rows`` in ``fmt``: a rich table of ``columns``, or every field for scripts."""
    if fmt != "table":
        write_rows(rows, fmt)
        return
    target = table_console(console)
    plain = target is not console
    table = Table(title=title, title_justify="left")
    cells = [[_cell(row, col, tz) for col in columns] for row in rows]
    for i, col in enumerate(columns):
        header = col.header or col.key
        widest = max((len(c[i]) for c in cells), default=0)
        if plain:  # as wide as the content: nothing wraps
            table.add_column(header, no_wrap=True, overflow="ignore")
        else:  # a terminal: fit its width, folding long cells; short ids and times stay whole
            short = col.kind in ("id", "time", "count") and widest <= _SHORT
            table.add_column(header, overflow="fold", no_wrap=short)
    for row, texts in zip(rows, cells, strict=True):
        table.add_row(*(Text(t) for t in texts), style=style and style(row))
    target.print(table, crop=False)


def write_rows(rows: Sequence[Mapping[str, Any]], fmt: Format) -> None:
    """Rows as JSON (array or lines) or CSV on stdout."""
    out = sys.stdout
    if fmt == "json":
        out.write(json.dumps([_plain(r) for r in rows], ensure_ascii=False, indent=2) + "\n")
    elif fmt == "jsonl":
        for r in rows:
            out.write(json.dumps(_plain(r), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _csv_value(v) for k, v in _plain(r).items()})
    out.flush()


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
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return "; ".join(map(str, value))
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
