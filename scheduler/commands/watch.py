"""Watchlist commands: ``backtest``."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli import ConfigOption, app, fail


@app.command()
def backtest(
    watchlist: Annotated[str, typer.Argument(help="Watchlist name.")],
    since: Annotated[str, typer.Option(help="How far back, e.g. 30d.")] = "30d",
    config: ConfigOption = None,
) -> None:
    """Replay WATCHLIST over the stored archive and print what would have alerted."""
    raise fail("backtest is not available in this build yet", 2)
