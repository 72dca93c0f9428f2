"""Helpers to build config directories for tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO


class Clock:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bundled_config(tmp_path: Path) -> Path:
    """A copy of the bundled config directory, safe to edit."""
    dest = tmp_path / "config"
    shutil.copytree(REPO / "config", dest)
    return dest


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write files into a fresh config dir: ``write_config({"sources.yaml": "..."})``."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "cfg"
        (root / "watchlists").mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        return root

    return write
