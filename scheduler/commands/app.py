"""The ``wirewatch`` Typer app and what every command module shares.

Command modules (one per command or command group, in :mod:`scheduler.commands`) import
``app`` from here and attach their commands to it; :mod:`scheduler.cli` loads them all.
Shared: the consoles ``out`` and ``err``, the ``--config`` option, ``--version``, and the
one-line error exit (:func:`fail`) that config and schema problems turn into.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from scheduler.locate import ConfigNotFound

# Configuration, database and delivery modules load when a command needs them: `--help`
# and `check` stay quick and small (tests/scheduler/test_startup.py).
if TYPE_CHECKING:
    from scheduler.context import AppContext

app = typer.Typer(
    name="wirewatch",
    help="Watch IP and trade-policy news; alert when a watchlist matches.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"wirewatch {version('wirewatch')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            metavar="",
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Watch IP and trade-policy news; alert when a watchlist matches."""


out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        envvar="WIREWATCH_CONFIG",
        help="Config directory (default ./config, else ~/.config/wirewatch).",
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line reason to stderr and return the Exit to raise."""
    err.print(f"[red]error:[/red] {message}", markup=True)
    return typer.Exit(code)


def open_context(config_dir: str | None) -> AppContext:
    """Load config or exit 1 listing every problem by file and line."""
    from scheduler.context import AppContext
    from scheduler.yamlsource import ConfigError

    try:
        return AppContext.load(config_dir)
    except ConfigNotFound as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        n = len(exc.problems)
        raise fail(f"{n} problem{'s' if n != 1 else ''} in the configuration") from None


def guarded(ctx: AppContext, work: Callable[[AppContext], T]) -> T:
    """Run ``work`` turning schema and database errors into a one-line exit."""
    from scheduler.migrate import SchemaError

    try:
        return work(ctx)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    finally:
        ctx.close()
