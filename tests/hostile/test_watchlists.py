"""Hostile watchlists: catastrophic regexes, deep nesting, huge term lists, odd Unicode.

Each row is a watchlist file as a user writes it, loaded by the real config loader (what
``wirewatch check`` and the daemon's reload run), then, when valid, compiled and matched
against a document. A row either expects a clear error naming the file and line, or a match
result; none may raise anything else or run for long (pytest's timeout ends a hang; Python's
``re`` took 1.4 s for 24 "a" against ``(a+)+$`` and doubles with each one more).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alerts.matcher import Document, Matcher
from scheduler.config import load_config
from scheduler.yamlsource import ConfigError


@dataclass(frozen=True)
class Case:
    """A watchlist (``groups``, ``match``), then either an error fragment or a match result."""

    id: str
    groups: dict[str, list[Any]]
    match: str = "a"
    error: str | None = None
    body: str = ""
    matches: bool | None = None


def rx(pattern: str) -> dict[str, str]:
    return {"regex": pattern}


NESTED = "(" * 200 + "a" + ")" * 200
CASES = [
    # Catastrophic backtracking in Python's re: linear in RE2.
    Case("redos-nested-plus", {"a": [rx("(a+)+$")]}, body="a" * 5000 + "!", matches=False),
    Case("redos-nested-plus-hit", {"a": [rx("(a+)+$")]}, body="x " + "a" * 5000, matches=True),
    Case("redos-alternation", {"a": [rx("(a|aa)+$")]}, body="a" * 5000 + "!", matches=False),
    Case("redos-adjacent", {"a": [rx("(x+x+)+y")]}, body="x" * 5000, matches=False),
    Case("redos-dotstar", {"a": [rx("(.*a){20}")]}, body="a" * 19 + "b" * 5000, matches=False),
    Case("redos-email", {"a": [rx(r"^([a-z0-9]+\.?)+@")]}, body="a" * 5000 + "!", matches=False),
    Case("many-matches", {"a": [rx(r"\d")]}, body="7" * 200_000, matches=True),
    Case("long-match-scan", {"a": [rx("a*b|a")]}, body="a" * 400_000, matches=True),
    Case(
        "near-many",
        {"a": ["tariff"], "b": ["trade"]},
        "a NEAR/1 b",
        body="tariff " * 60_000 + "trade",
        matches=True,
    ),
    Case(
        "near-many-far",
        {"a": ["tariff"], "b": ["trade"]},
        "a NEAR/1 b",
        body="tariff " * 30_000 + "x y z " + "trade " * 30_000,
        matches=False,
    ),
    Case("term-everywhere", {"a": ["tariff"]}, body="tariff " * 70_000, matches=True),
    Case("beyond-matched-text", {"a": ["tariff"]}, body="x " * 300_000 + "tariff", matches=False),
    # What RE2 cannot take: a clear error at the term's line.
    Case("backreference", {"a": [rx(r"(a)\1")]}, error="backreferences are not supported"),
    Case("named-backreference", {"a": [rx("(?P<x>a)(?P=x)")]}, error="backreferences"),
    Case("lookahead", {"a": [rx("patent(?= law)")]}, error="lookahead is not supported"),
    Case("negative-lookbehind", {"a": [rx("(?<!US )patent")]}, error="lookbehind"),
    Case("atomic-group", {"a": [rx("(?>ab)c")]}, error="atomic groups are not supported"),
    Case("possessive", {"a": [rx("a++b")]}, error="possessive quantifiers"),
    Case("python-end-anchor", {"a": [rx(r"law\Z")]}, error=r"write \z"),
    Case("python-unicode-escape", {"a": [rx(r"\u4e2d")]}, error=r"write \x{4E2D}"),
    Case("huge-repetition", {"a": [rx("(a{1000}){1000}")]}, error="stop at 1000"),
    Case("pattern-too-long", {"a": [rx("a" * 1001)]}, error="at most 1000"),
    Case("empty-pattern", {"a": [rx("")]}, error="empty regular expression"),
    Case("unbalanced", {"a": [rx("(ab")]}, error="missing )"),
    Case("regex-not-text", {"a": [rx(7)]}, error="valid string"),
    Case("regex-unknown-key", {"a": [{"regexp": "x"}]}, error="unknown field"),
    # Deep nesting and sheer size.
    Case("nested-parens", {"a": ["x"]}, NESTED, error="nested too deeply (more than 64"),
    Case("not-chain", {"a": ["x"]}, "NOT " * 300 + "a", error="nested too deeply"),
    Case("nested-64", {"a": ["x"]}, "(" * 64 + "a" + ")" * 64, body="x", matches=True),
    Case("nested-regex", {"a": [rx("(" * 450 + "x" + ")" * 450)]}, body="x", matches=True),
    Case("long-expression", {"a": ["x"]}, "a OR " * 5000 + "a", error="expression too long"),
    Case("huge-term-list", {"a": [f"t{i}" for i in range(50_001)]}, error="at most 50000"),
    Case("big-term-list", {"a": [f"t{i}" for i in range(20_000)]}, body="t19999", matches=True),
    Case("long-term", {"a": ["x" * 501]}, error="at most 500 characters"),
    Case(
        "many-groups",
        {f"g{i}": ["x"] for i in range(2000)},
        " OR ".join(f"g{i}" for i in range(2000)),
        body="x",
        matches=True,
    ),
    # Odd Unicode in patterns and terms.
    Case("lone-surrogate-regex", {"a": [rx("\ud800")]}, error="not valid Unicode"),
    Case("lone-surrogate-term", {"a": ["\udfff"]}, error="valid string"),
    Case("lone-surrogate-body", {"a": [rx("pat.nt")]}, body="pat\ud800nt patent", matches=True),
    Case("emoji", {"a": [rx("🚀\\s*launch")]}, body="🚀 Launch of the new tariff", matches=True),
    Case("zero-width-space", {"a": [rx("\\x{200B}")]}, body="a\u200bb", matches=True),
    Case("unicode-class", {"a": [rx(r"\p{Han}{2}專利")]}, body="臺灣新專利", matches=True),
    Case("cjk-folded", {"a": [rx("臺灣.{0,3}專利")]}, body="台湾新专利", matches=True),
    Case("ascii-word-boundary", {"a": [rx(r"\bMOU\b")]}, body="與美方簽署MOU合作", matches=True),
    Case("posix-class", {"a": [rx("ab[[:digit:]]cd")]}, body="xab5cdx", matches=True),
    Case("rtl-marks", {"a": ["\u202etariff\u202c"]}, body="\u202etariff\u202c", matches=True),
    Case("combining-marks", {"a": ["cafe\u0301"]}, body="Café tariffs", matches=True),
    Case("only-combining", {"a": ["\u0301"]}, body="x", matches=False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_watchlist(case: Case, tmp_path: Path) -> None:
    root = tmp_path / "config"
    (root / "watchlists").mkdir(parents=True)
    spec = {"groups": case.groups, "match": case.match, "notify": [{"channel": "console"}]}
    # One key per line, as a user writes it (JSON is YAML); a lone surrogate is written as
    # the escape a user would type, since a file cannot hold one.
    text = "".join(
        f"{key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in spec.items()
    )
    text = re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)
    path = root / "watchlists" / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(root)
    except ConfigError as exc:
        assert case.error is not None, str(exc)
        problems = [p for p in exc.problems if case.error in p.message]
        assert problems, str(exc)
        key = "match" if problems[0].field in ("match", "exclude") else "groups"
        assert problems[0].file == str(path)
        assert problems[0].line == list(spec).index(key) + 1
        return
    assert case.error is None, f"expected an error containing {case.error!r}"
    engine = Matcher.compile(config.watchlists)
    found = engine.match(Document(title="", summary="", body=case.body))
    assert bool(found) is case.matches
