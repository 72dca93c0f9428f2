"""``wirewatch run``: the daemon."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli import ConfigOption, app, fail


@app.command()
def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="One full cycle, deliver, exit.")] = False,
) -> None:
    """Run the daemon: poll sources, match watchlists, deliver alerts."""
    raise fail("run is not available in this build yet", 2)
