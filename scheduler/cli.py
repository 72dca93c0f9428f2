"""The ``wirewatch`` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from scheduler.config import Config
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
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

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


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the configuration and print what it defines (exit 1 on any mistake)."""
    ctx = open_context(config)
    print_summary(ctx.config)
    out.print(f"[green]ok[/green]: configuration in {ctx.config.directory} is valid")


def print_summary(cfg: Config) -> None:
    """Tables of sources, watchlists and channels."""
    t = Table(title="Sources", title_justify="left")
    for col in ("id", "type", "every", "on", "lang"):
        t.add_column(col, no_wrap=True, min_width=len(col))
    t.add_column("url", overflow="ellipsis", max_width=50)
    for s in cfg.sources.sources:
        t.add_row(
            s.id,
            s.type,
            _fmt_interval(s.interval.total_seconds()),
            "yes" if s.enabled else "[dim]no[/dim]",
            s.language or "",
            s.url.split("://", 1)[-1],
        )
    out.print(t)
    t = Table(title="Watchlists", title_justify="left")
    for col in ("name", "groups", "match", "notify"):
        t.add_column(col, overflow="fold")
    for w in cfg.watchlists:
        routes = ", ".join(
            f"{r.channel} ({r.mode}{' ' + r.schedule if r.schedule else ''})" for r in w.notify
        )
        terms = sum(len(v) for v in w.groups.values())
        t.add_row(w.name, f"{len(w.groups)} groups, {terms} terms", w.match, routes or "-")
    out.print(t)
    t = Table(title="Channels", title_justify="left")
    for col in ("name", "service", "format", "rate"):
        t.add_column(col, overflow="fold")
    for name, ch in cfg.channels.items():
        rate = f"{ch.rate.max}/{_fmt_interval(ch.rate.per.total_seconds())}" if ch.rate else "-"
        t.add_row(name, _service(ch.url), ch.format or "default", rate)
    out.print(t)


def _service(url: str) -> str:
    """A channel's service and host, never its secrets.

    apprise's ``url(privacy=True)`` masks what the service marks private (passwords, tokens,
    a token in the host part); a path it does not mark (``json://host/SECRET/x``) may still
    hold one, so only the scheme and host of that private URL are shown.
    """
    if url == "console://":
        return "console"
    from apprise import Apprise

    plugin = Apprise.instantiate(url)
    if plugin is None:
        return url.split("://", 1)[0]
    private = urlsplit(plugin.url(privacy=True))
    more = "/…" if private.path.strip("/") or private.query else ""
    return f"{plugin.service_name} ({private.scheme}://{private.netloc}{more})"


def _fmt_interval(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the database schema."""
    from crawler.db import make_engine
    from scheduler.migrate import current_revision, upgrade

    ctx = open_context(config)
    engine = make_engine(ctx.config.database_url)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    except Exception as exc:  # a driver error is best shown as one line
        raise fail(f"database upgrade failed: {exc}") from None
    finally:
        engine.dispose()
    out.print(f"database at revision {after} (was {before or 'empty'})")


@db_app.command("reindex")
def db_reindex(
    config: ConfigOption = None,
    rebuild: Annotated[
        bool, typer.Option("--all", help="Rebuild every article's key, not only missing ones.")
    ] = False,
) -> None:
    """Fill the search index for articles it lacks (or rebuild it), committing as it goes."""
    from alerts.search_index import reindex_batch
    from crawler.db import make_engine

    ctx = open_context(config)
    engine = make_engine(ctx.config.database_url)
    done, last = 0, 0
    try:
        while True:
            with engine.begin() as conn:
                count, last = reindex_batch(conn, last, everything=rebuild)
            if not count:
                break
            done += count
    except Exception as exc:  # a driver error is best shown as one line
        raise fail(f"reindex failed after {done} articles: {exc}") from None
    finally:
        engine.dispose()
    out.print(f"indexed {done} article(s) for search")


def main() -> None:
    """Console-script entry point."""
    _register_commands()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


def _register_commands() -> None:
    # Command modules attach themselves to ``app`` on import.
    import scheduler.commands  # noqa: F401
