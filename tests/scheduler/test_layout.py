"""The layout the README's Development section describes is the layout of the tree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from scheduler.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _development_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Development", 1)[1].split("\n## ", 1)[0]


def test_every_module_the_development_section_names_exists() -> None:
    named = set(re.findall(r"`([\w/]+(?:\.py|/))`", _development_section()))
    assert len(named) > 20
    packages = ("", "crawler/", "alerts/", "scheduler/")
    missing = sorted(p for p in named if not any((ROOT / (pkg + p)).exists() for pkg in packages))
    assert not missing


def test_each_command_module_attaches_its_commands_to_the_app() -> None:
    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"check", "db", "run", "poll", "sources", "alerts", "console", "backtest"} <= names


FLOORS = ("crawler", "alerts", "scheduler", "benchmarks")  # each may import only those before


@pytest.mark.parametrize("package", FLOORS)
def test_no_import_runs_back_up_the_floors(package: str) -> None:
    """crawler imports none of alerts/scheduler/benchmarks, alerts none of the two above it…"""
    import ast

    above = set(FLOORS[FLOORS.index(package) + 1 :])
    upward = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            upward += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in above]
    assert upward == []


def test_help_lists_first_steps_first() -> None:
    from typer.testing import CliRunner

    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"}).stdout
    listed = re.findall(r"^│ ([a-z][a-z-]+) ", out, flags=re.M)
    assert listed[:4] == ["init", "check", "run", "poll"]
    assert set(listed) >= {"sources", "alerts", "db", "notify-test"}
