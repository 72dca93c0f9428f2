"""The layout the README's Development section describes is the layout of the tree."""

from __future__ import annotations

import re
from pathlib import Path

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
