"""Collection commands: ``poll``, ``sources``, ``articles``."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli import ConfigOption, app, fail


@app.command()
def poll(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source ids (default: all due).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run one collection pass and print what was new."""
    raise fail("poll is not available in this build yet", 2)


@app.command("sources")
def sources_cmd(config: ConfigOption = None) -> None:
    """Show each source's health."""
    raise fail("sources is not available in this build yet", 2)


@app.command()
def articles(config: ConfigOption = None) -> None:
    """List or search the archive."""
    raise fail("articles is not available in this build yet", 2)
