"""CLI command modules, one per command or command group.

Each module attaches its commands to ``app`` (:mod:`scheduler.commands.app`) when imported;
:func:`load_all` imports every module of the package, so a new command is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    """Import every command module (each registers its commands on import)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
