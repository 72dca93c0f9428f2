"""A table off a terminal: ``emit`` draws it directly (scheduler.plain_table), character for
character what rich draws for the same rows with nothing wrapped, cut or coloured."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from scheduler.output import Column, emit, visible

# Text as feeds publish it: Latin with accents and combining marks, CJK (two cells wide),
# emoji, markup-like brackets, controls and bidi marks (which emit shows as escapes).
_TEXT = st.text(
    alphabet="aZ09 -_/:.[]()#=@é\u0301台臺灣専ｱ😀👍\U0001f3fd\u200d\t\x1b\u202e",
    max_size=30,
)
_COLUMNS = (
    Column("source_id", "source", "id"),
    Column("title"),
    Column("url", kind="url"),
    Column("new", kind="count"),
)


def _rich_reference(title: str, rows: list[dict[str, Any]]) -> str:
    """The same table drawn by rich, configured as ``emit`` configures it off a terminal."""
    out = io.StringIO()
    console = Console(file=out, width=1_000_000, highlight=False, soft_wrap=True, color_system=None)
    table = Table(title=Text(visible(title)), title_justify="left")
    for col in _COLUMNS:
        table.add_column(Text(col.header or col.key), no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*(Text(visible(str(row[c.key]))) for c in _COLUMNS), style="red")
    console.print(table, crop=False)
    return out.getvalue()


def _emitted(title: str, rows: list[dict[str, Any]]) -> str:
    piped = io.StringIO()  # not a terminal: the direct drawing
    with redirect_stdout(piped):
        emit(
            rows,
            "table",
            columns=_COLUMNS,
            title=title,
            console=Console(file=io.StringIO()),
            style=lambda _: "red",
        )
    return piped.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    title=_TEXT,
    rows=st.lists(
        st.fixed_dictionaries(
            {"source_id": _TEXT, "title": _TEXT, "url": _TEXT, "new": st.integers(0, 10**6)}
        ),
        max_size=6,
    ),
)
@example(title="[i]", rows=[])  # titles are text, not markup: shown as they are
@example(title="[/]", rows=[])  # (as markup, a closing tag with nothing to close)
def test_a_piped_table_is_what_rich_draws(title: str, rows: list[dict[str, Any]]) -> None:
    assert _emitted(title, rows) == _rich_reference(title, rows)


def test_a_piped_table_lines_up_wide_characters() -> None:
    rows = [
        {"source_id": "moea", "title": "臺灣專利授權", "url": "https://x/1", "new": 3},
        {"source_id": "uspto-long-id", "title": "Patent", "url": "https://x/22", "new": 12},
    ]
    lines = _emitted("Poll", rows).splitlines()
    assert lines[0] == "Poll"
    # every bar of the body sits in the same terminal column on every line
    from rich.cells import cell_len

    bodies = [line for line in lines[1:] if line.startswith(("┃", "│"))]
    edges = {
        tuple(cell_len(line[:i]) for i, ch in enumerate(line) if ch in "┃│") for line in bodies
    }
    assert len(edges) == 1
    assert "臺灣專利授權" in lines[4]


def test_a_piped_table_on_an_output_without_box_characters_is_drawn_in_ascii() -> None:
    # e.g. PYTHONIOENCODING=latin-1: rich substitutes an ASCII box; so must emit
    rows = [{"source_id": "moea", "title": "Patent pact", "url": "https://x/1", "new": 3}]
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1", newline="")
    with redirect_stdout(stream):
        emit(rows, "table", columns=_COLUMNS, title="Poll", console=Console(file=io.StringIO()))
    stream.flush()
    text = raw.getvalue().decode("latin-1")
    assert text.splitlines()[2] == "| source | title       | url         | new |"
    assert "moea" in text and not any(ord(c) > 127 for c in text)
