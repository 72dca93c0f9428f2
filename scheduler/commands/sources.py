"""``wirewatch sources``: the health table, and ``discover``, ``import``, ``export``.

``wirewatch sources`` alone shows source health (as before). ``discover URL`` finds a site's
feeds and prints ready-to-paste entries; ``import FILE.opml`` prints entries for an OPML
subscription list, or appends them to sources.yaml with ``--write`` (comments kept, the
result validated, the file left as it was when it would not load); ``export`` prints the
feed sources as OPML.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from scheduler.cli import ConfigOption, app, err, fail, open_context
from scheduler.commands.collect import _quiet_scrapy, sources_cmd
from scheduler.output import FormatOption

sources_app = typer.Typer(
    help="Source health (the default), feed discovery, OPML import and export.",
    add_completion=False,
)
app.add_typer(sources_app, name="sources")


@sources_app.callback(invoke_without_command=True)
def sources_main(
    ctx: typer.Context, fmt: FormatOption = "table", config: ConfigOption = None
) -> None:
    """Show each source's health: state, last success, failures, last error, next poll."""
    ctx.obj = config
    if ctx.invoked_subcommand is None:
        sources_cmd(config, fmt)


def _config(ctx: typer.Context, config: str | None) -> str | None:
    return config or ctx.obj


@sources_app.command("discover")
def discover_cmd(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="A site or article URL.")],
    config: ConfigOption = None,
) -> None:
    """Find a site's feeds and sitemaps; print sources.yaml entries for them (exit 1: none)."""
    from crawler.discover import discover

    if not url.startswith(("http://", "https://")):
        raise fail(f"not an http(s) URL: {url!r}")
    app_ctx = open_context(_config(ctx, config))
    _quiet_scrapy()
    with err.status(f"looking for feeds at {url}…"):
        result = discover(url, app_ctx.config.settings.crawl)
    if not result.found:
        why = "; ".join(result.errors) or f"checked {len(result.tried)} candidate URL(s)"
        raise fail(f"no feed or sitemap found at {url} ({why})")
    taken = {s.id for s in app_ctx.config.sources.sources}
    entries = []
    for found in result.found:
        entry = _entry(found.title, found.url, found.type, taken)
        count = found.note or f"{found.items} item{'s' if found.items != 1 else ''}"
        entries.append((entry, f"{found.title or found.url} ({found.type}, {count})"))
    typer.echo(f"# {len(entries)} found at {url}; paste under 'sources:' in sources.yaml")
    _print_yaml(entries)


@sources_app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An OPML subscription list.")],
    write: Annotated[
        bool, typer.Option("--write", help="Append the entries to sources.yaml.", metavar="")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Turn an OPML file into sources.yaml entries (printed, or appended with --write)."""
    from crawler.opml import OpmlError, read_opml

    app_ctx = open_context(_config(ctx, config))
    try:
        feeds = read_opml(file.read_bytes())
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from None
    except OpmlError as exc:
        raise fail(f"{file}: {exc}") from None
    known = {s.url for s in app_ctx.config.sources.sources}
    fresh = [f for f in feeds if f.url not in known]
    if len(fresh) < len(feeds):
        err.print(
            f"{len(feeds) - len(fresh)} feed(s) already in sources.yaml, skipped", markup=False
        )
    if not fresh:
        raise fail(f"no new feeds in {file}") if not feeds else typer.Exit(0)
    taken = {s.id for s in app_ctx.config.sources.sources}
    entries = [(_entry(f.title, f.url, "rss", taken, tags=list(f.tags)), "") for f in fresh]
    if not write:
        _print_yaml(entries)
        return
    path = app_ctx.config.directory / "sources.yaml"
    _append(path, entries, app_ctx.config.directory)
    typer.echo(f"added {len(entries)} source(s) to {path}")


@sources_app.command("export")
def export_cmd(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Print the feed sources (rss, atom) as an OPML subscription list."""
    from crawler.models import utcnow
    from crawler.opml import OPML_TYPES, write_opml
    from crawler.sources import FeedSource

    app_ctx = open_context(_config(ctx, config))
    sources = app_ctx.config.sources.sources
    feeds = [s for s in sources if isinstance(s, FeedSource) and s.type in OPML_TYPES]
    if len(feeds) < len(sources):
        err.print(f"{len(sources) - len(feeds)} html/sitemap source(s) have no OPML form, left out")
    typer.echo(write_opml(feeds, title="wirewatch sources", now=utcnow()), nl=False)


def _entry(
    title: str, url: str, kind: str, taken: set[str], tags: list[str] | None = None
) -> dict[str, Any]:
    from crawler.source_entries import new_source_id

    entry: dict[str, Any] = {"id": new_source_id(title, url, taken)}
    if title:
        entry["name"] = title
    entry |= {"type": kind, "url": url}
    if tags:
        entry["tags"] = tags
    return entry


def _print_yaml(entries: list[tuple[dict[str, Any], str]]) -> None:
    from crawler.source_entries import render_entries

    typer.echo(render_entries(entries), nl=False)


def _append(path: Path, entries: list[tuple[dict[str, Any], str]], directory: Path) -> None:
    """Append to sources.yaml atomically; put the old file back if the config stops loading."""
    from crawler.source_entries import append_entries, render_entries
    from scheduler.config import load_config
    from scheduler.yamlsource import ConfigError

    old = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        new = append_entries(old, render_entries(entries))
    except ValueError as exc:
        raise fail(f"{path}: {exc}") from None
    _write_atomic(path, new)
    try:
        load_config(directory)
    except ConfigError as exc:
        _write_atomic(path, old)
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise fail(f"{path} left unchanged: the entries would not load") from None


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
