"""``wirewatch console``: the web console over a database, without running the daemon."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli import ConfigOption, app, err, fail, open_context

if TYPE_CHECKING:
    from scheduler.config import Config
    from scheduler.context import AppContext

log = logging.getLogger("wirewatch.console")


@app.command()
def console(
    listen: Annotated[
        str | None,
        typer.Option(help="HOST:PORT (default: http.listen, else 127.0.0.1:9464)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the web console (and /healthz, /metrics) until Ctrl+C.

    Pages read the database the daemon writes; retry and "poll now" write to it, and a
    running daemon acts on them. A non-loopback address needs http.token.
    """
    from crawler.models import utcnow
    from scheduler.http import CONSOLE_LISTEN, HttpError, HttpServer
    from scheduler.logs import setup_logging
    from scheduler.migrate import SchemaError

    ctx = open_context(config)
    settings = ctx.config.settings
    setup_logging(settings.log.level, settings.log.format)
    address = listen or settings.http.listen or CONSOLE_LISTEN
    try:
        # No scheduler runs here: /healthz reports the database, the "tick" is every request.
        server = HttpServer(
            address, _reloading(ctx), ctx.sessions, daemon=False, tick=lambda: utcnow()
        )
        server.bind()
    except HttpError as exc:
        raise fail(str(exc)) from None
    except SchemaError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot serve the console on {address}: {exc}") from None
    err.print(f"wirewatch console on {server.url}/ (Ctrl+C to stop)", markup=False)
    try:
        server.run()
    finally:
        ctx.close()


def _reloading(ctx: AppContext) -> Callable[[], Config]:
    """The config, reloaded when its files change (a broken edit keeps the last good one)."""
    from scheduler.config import fingerprint, load_config, watched_files
    from scheduler.yamlsource import ConfigError

    lock = threading.Lock()

    def current() -> Config:
        with lock:
            cfg = ctx.config
            if fingerprint(watched_files(cfg.directory)) != cfg.fingerprint:
                try:
                    ctx.config = load_config(cfg.directory)
                except ConfigError as exc:
                    cfg.fingerprint = fingerprint(watched_files(cfg.directory))
                    for problem in exc.problems:
                        log.error("config not reloaded: %s", problem)
            return ctx.config

    return current
