"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _corpus_dir() -> Path:
    env = os.environ.get("WIREWATCH_CORPUS")
    return Path(env) if env else REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared real-world corpus (feeds, articles, dedupe pairs); skips when absent."""
    path = _corpus_dir()
    if not path.is_dir():
        pytest.skip(f"corpus not found at {path} (set WIREWATCH_CORPUS)")
    return path
