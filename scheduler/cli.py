"""The ``wirewatch`` command line: the app of :mod:`scheduler.commands.app`, every command
module under :mod:`scheduler.commands` loaded onto it (each loads its heavy modules only when
its command runs, so ``--help`` stays quick: tests/scheduler/test_startup.py)."""

from __future__ import annotations

import sys

from scheduler.commands import load_all
from scheduler.commands.app import app

load_all()

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
