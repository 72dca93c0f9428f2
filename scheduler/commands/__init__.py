"""CLI command modules, one per command or command group.

Each module attaches its commands to ``app`` (:mod:`scheduler.commands.app`) when imported;
:func:`load_all` imports every module of the package, so a new command is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

# The order ``wirewatch --help`` lists commands in: first steps, then daily use; a command
# not named here follows, alphabetically.
HELP_ORDER = (
    "init", "check", "run", "poll", "sources", "articles", "alerts", "backtest", "console",
    "notify-test", "db",
)  # fmt: skip


def load_all() -> None:
    """Import every command module (each registers its commands on import), then put the
    commands in ``HELP_ORDER``."""
    from scheduler.commands.app import app

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")

    def rank(name: str) -> tuple[int, str]:
        return (HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER), name)

    app.registered_commands.sort(key=lambda c: rank(c.name or c.callback.__name__))  # type: ignore[union-attr]
    app.registered_groups.sort(key=lambda g: rank(g.name or ""))
