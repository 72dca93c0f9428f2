"""Alert commands: ``alerts`` (the delivery ledger) and ``notify-test``."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli import ConfigOption, app, fail


@app.command()
def alerts(config: ConfigOption = None) -> None:
    """Show the delivery ledger."""
    raise fail("alerts is not available in this build yet", 2)


@app.command("notify-test")
def notify_test(
    channel: Annotated[str, typer.Argument(help="Channel name from channels.yaml.")],
    config: ConfigOption = None,
) -> None:
    """Send a sample alert through CHANNEL."""
    raise fail("notify-test is not available in this build yet", 2)
