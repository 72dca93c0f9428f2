"""``wirewatch run``: the daemon."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from scheduler.cli import ConfigOption, app, fail, open_context


@app.command()
def run(
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="One full cycle, deliver, exit.", metavar="")
    ] = False,
    role: Annotated[
        str, typer.Option(help="all, collector (poll + match) or dispatcher (deliver).")
    ] = "all",
) -> None:
    """Run the daemon: poll sources, match watchlists, deliver alerts."""
    from scheduler.daemon import Daemon, DaemonError
    from scheduler.logs import setup_logging
    from scheduler.migrate import SchemaError

    if role not in ("all", "collector", "dispatcher"):
        raise fail(f"unknown role {role!r}; use all, collector or dispatcher", 2)
    ctx = open_context(config)
    http = ctx.config.settings.http
    if http.listen and not once:
        from scheduler.http import HttpError, check_exposure

        try:  # before anything starts: a refused listener is a one-line reason
            check_exposure(http.listen, http.token)
        except HttpError as exc:
            raise fail(str(exc)) from None
    settings = ctx.config.settings.log
    setup_logging(settings.level, settings.format)
    try:
        code = Daemon(ctx.config, once=once, role=_role(role)).run()
    except (DaemonError, SchemaError) as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(code)


def _role(value: str) -> Literal["all", "collector", "dispatcher"]:
    return value  # type: ignore[return-value]
