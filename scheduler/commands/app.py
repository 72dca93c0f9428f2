"""The ``wirewatch`` Typer app and what every command module shares.

Command modules (one per command or command group, in :mod:`scheduler.commands`) import
``app`` from here and attach their commands to it; :mod:`scheduler.cli` loads them all.
Shared: the consoles ``out`` and ``err``, the ``--config`` option, and the one-line error
exit (:func:`fail`) that config and schema problems turn into.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from scheduler.context import AppContext
from scheduler.migrate import SchemaError
from scheduler.yamlsource import ConfigError

app = typer.Typer(
    name="wirewatch",
    help="Watch IP and trade-policy news; alert when a watchlist matches.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config", "-c", envvar="WIREWATCH_CONFIG", help="Config directory (default ./config)."
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line reason to stderr and return the Exit to raise."""
    err.print(f"[red]error:[/red] {message}", markup=True)
    return typer.Exit(code)


def open_context(config_dir: str | None) -> AppContext:
    """Load config or exit 1 listing every problem by file and line."""
    try:
        return AppContext.load(config_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        n = len(exc.problems)
        raise fail(f"{n} problem{'s' if n != 1 else ''} in the configuration") from None


def guarded(ctx: AppContext, work: Callable[[AppContext], T]) -> T:
    """Run ``work`` turning schema and database errors into a one-line exit."""
    try:
        return work(ctx)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    finally:
        ctx.close()
