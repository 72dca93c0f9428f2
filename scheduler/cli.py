"""The ``wirewatch`` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console

from scheduler.locate import ConfigNotFound
from scheduler.output import Column, Format, FormatOption, emit, write_rows

# Configuration, database and delivery modules load when a command needs them: `--help`
# and `check` stay quick and small (tests/scheduler/test_startup.py).
if TYPE_CHECKING:
    from scheduler.config import Config
    from scheduler.context import AppContext

app = typer.Typer(
    name="wirewatch",
    help="Watch IP and trade-policy news; alert when a watchlist matches.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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


@app.command()
def check(config: ConfigOption = None, fmt: FormatOption = "table") -> None:
    """Validate the configuration and print what it defines (exit 1 on any mistake)."""
    ctx = open_context(config)
    for warning in ctx.config.warnings:
        err.print(f"warning: {warning}", markup=False)
    print_summary(ctx.config, fmt)
    say = out if fmt == "table" else err
    say.print(f"[green]ok[/green]: configuration in {ctx.config.directory} is valid")


def config_rows(cfg: Config) -> list[dict[str, Any]]:
    """What the configuration defines, one row per source, watchlist and channel."""
    rows: list[dict[str, Any]] = [
        {
            "kind": "source",
            "name": s.id,
            "label": s.label,
            "type": s.type,
            "url": s.url,
            "enabled": s.enabled,
            "interval_seconds": int(s.interval.total_seconds()),
            "language": s.language,
            "tags": list(s.tags),
        }
        for s in cfg.sources.sources
    ]
    for w in cfg.watchlists:
        rows.append(
            {
                "kind": "watchlist",
                "name": w.name,
                "enabled": w.enabled,
                "groups": len(w.groups),
                "terms": sum(len(v) for v in w.groups.values()),
                "match": w.match,
                "notify": [
                    f"{r.channel} ({r.mode}"
                    + (f" {r.schedule} {r.timezone}" if r.schedule else "")
                    + ")"
                    for r in w.notify
                ],
            }
        )
    for name, ch in cfg.channels.items():
        rows.append(
            {
                "kind": "channel",
                "name": name,
                "enabled": ch.enabled,
                "service": _service(ch.url),
                "format": ch.format,
                "rate": (
                    f"{ch.rate.max}/{_fmt_interval(ch.rate.per.total_seconds())}"
                    if ch.rate
                    else None
                ),
            }
        )
    return rows


def print_summary(cfg: Config, fmt: Format = "table") -> None:
    """Tables of sources, watchlists and channels (or their rows for scripts)."""
    rows = config_rows(cfg)
    if fmt != "table":
        write_rows(rows, fmt)
        return
    for kind, title, columns in _SUMMARY:
        emit([r for r in rows if r["kind"] == kind], fmt, columns=columns, title=title, console=out)


_SUMMARY = (
    (
        "source",
        "Sources",
        (
            Column("name", "id", "id"),
            Column("type"),
            Column(
                "interval_seconds", "every", show=lambda r, tz: _fmt_interval(r["interval_seconds"])
            ),
            Column("enabled", "on"),
            Column("language", "lang"),
            Column("url", kind="url"),
        ),
    ),
    (
        "watchlist",
        "Watchlists",
        (
            Column("name", kind="id"),
            Column("groups", show=lambda r, tz: f"{r['groups']} groups, {r['terms']} terms"),
            Column("match"),
            Column("notify", show=lambda r, tz: ", ".join(r["notify"]) or "-"),
        ),
    ),
    (
        "channel",
        "Channels",
        (
            Column("name", kind="id"),
            Column("service"),
            Column("format", show=lambda r, tz: r["format"] or "default"),
            Column("rate", show=lambda r, tz: r["rate"] or "-"),
        ),
    ),
)


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
