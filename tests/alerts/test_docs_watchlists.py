"""docs/watchlists.md runs: every worked example through the real matcher, every stated
precedence through the parser, every stated limit against the code."""

from __future__ import annotations

import re

import pytest
import yaml

from alerts import query, regex_terms, watchlists
from alerts.matcher import MAX_FIELD_CHARS, Document, Matcher
from alerts.watchlists import Watchlist
from tests.conftest import REPO

TEXT = (REPO / "docs" / "watchlists.md").read_text(encoding="utf-8")
FIELDS = ("title", "summary", "body")


def blocks(kind: str) -> dict[str, str]:
    """Fenced blocks preceded by ``<!-- KIND: NAME -->``, by name."""
    return dict(re.findall(rf"<!-- {kind}: (\S+) -->\n```\w*\n(.*?)```", TEXT, re.S))


def cases(text: str) -> list[tuple[bool, Document, str]]:
    """``✓``/``✗`` lines as (expected, document, line); ``‖`` separates fields."""
    out = []
    for line in text.strip().splitlines():
        mark, _, rest = line.partition(" ")
        assert mark in {"✓", "✗"}, f"a text line starts with ✓ or ✗: {line!r}"
        fields = dict.fromkeys(FIELDS, "")
        for part in rest.split(" ‖ "):
            name, sep, value = part.partition(": ")
            if sep and name in FIELDS:
                fields[name] = value
            else:
                fields["title"] = part
        out.append((mark == "✓", Document(**fields), line))
    return out


WATCHLISTS = blocks("watchlist")
TEXTS = blocks("texts")


def test_every_example_has_texts_both_ways() -> None:
    assert len(WATCHLISTS) >= 5 and set(WATCHLISTS) == set(TEXTS)
    for name, text in TEXTS.items():
        marks = {expected for expected, _, _ in cases(text)}
        assert marks == {True, False}, f"{name}: show a match and a non-match"


@pytest.mark.parametrize("name", sorted(WATCHLISTS))
def test_worked_example(name: str) -> None:
    wl = Watchlist.model_validate(yaml.safe_load(WATCHLISTS[name]))
    engine = Matcher.compile([wl])
    wrong = [
        line for expected, doc, line in cases(TEXTS[name]) if bool(engine.match(doc)) != expected
    ]
    assert not wrong, f"{name}: the matcher disagrees with the doc on {wrong}"


def test_stated_precedence() -> None:
    paragraph = TEXT[TEXT.index("Precedence, tightest first") :].split("\n\n")[0]
    pairs = re.findall(r"`([^`]+)` is\s+`([^`]+)`", paragraph)
    assert len(pairs) == 2
    groups = {"a", "b", "c"}
    for written, meant in pairs:
        assert query.parse(written, groups) == query.parse(meant, groups), written


def test_quoted_error_message() -> None:
    quoted = re.search(r'`taiwan mou` is an error \("([^"]+)"\)', TEXT)
    assert quoted
    with pytest.raises(query.QuerySyntaxError) as info:
        query.parse("taiwan mou", {"taiwan", "mou"})
    assert quoted.group(1) in str(info.value)


def test_stated_limits() -> None:
    table = TEXT[TEXT.index("## Limits") :]
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", table, re.M))

    def number(row: str) -> int:
        found = re.search(r"\d[\d,]*", rows[row])
        assert found, rows[row]
        return int(found.group().replace(",", ""))

    assert number("nesting of parentheses and `NOT`") == query.MAX_DEPTH
    assert number("one expression") == query.MAX_EXPRESSION_CHARS
    assert number("one term") == watchlists.MAX_TERM_CHARS
    assert number("one regex") == regex_terms.MAX_PATTERN_CHARS
    assert number("terms in one watchlist") == watchlists.MAX_TERMS
    assert number("text read per field") == MAX_FIELD_CHARS


@pytest.mark.parametrize(
    "pattern", [r"(a)\1", "(?=x)", "(?<=x)y", "(?>a)", "a++", r"a\Z", r"\u4E2D", "a{1001}"]
)
def test_stated_unsupported_regex_is_refused(pattern: str) -> None:
    """One pattern per construct the doc lists as refused."""
    with pytest.raises(ValueError, match="RE2"):
        regex_terms.compile_term(pattern)
