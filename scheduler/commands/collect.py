"""Collection commands: ``poll``, ``sources``, ``articles``."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scheduler.commands.app import ConfigOption, app, err, fail, guarded, open_context, out
from scheduler.output import Column, Format, FormatOption, emit, visible, when, write_rows
from scheduler.pollreport import skipped_text

if TYPE_CHECKING:
    from scheduler.context import AppContext


@app.command()
def poll(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source ids (default: every enabled source).")
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Counts only, not the new items' titles.", metavar=""),
    ] = False,
    fmt: FormatOption = "table",
    config: ConfigOption = None,
) -> None:
    """Poll the given (or all enabled) sources once, ignoring their schedule; show what is new.

    Exits 0 even when some sources failed (they are listed); 1 for unknown source ids.
    """
    ctx = open_context(config)
    configured = {s.id: s for s in ctx.config.sources.sources}
    if sources:
        unknown = [s for s in sources if s not in configured]
        if unknown:
            raise fail(f"unknown source id(s): {', '.join(unknown)}")
        selected = [configured[s] for s in dict.fromkeys(sources)]
    else:
        selected = [s for s in configured.values() if s.enabled]
    if not selected:
        if fmt == "table":
            out.print("no enabled sources to poll")
        else:
            write_rows([], fmt)
        return

    def work(app_ctx: AppContext) -> None:
        from crawler.collect import run_collect
        from crawler.state import sync_sources
        from scheduler.pollreport import new_items, offline_message, poll_rows, summary

        with app_ctx.sessions() as s, s.begin():
            sync_sources(s, configured.values())
        _quiet_scrapy()
        settings = app_ctx.config.settings
        with err.status(f"polling {len(selected)} source(s)…"):
            report = run_collect(
                app_ctx.sessions,
                selected,
                settings.crawl,
                owner="cli",
                failing_after=settings.alerts.failure_threshold,
            )
        with app_ctx.read_sessions() as s:
            items = new_items(s, report.new_ids)
        rows = poll_rows(report, items, configured)
        offline = offline_message(report)
        if offline:
            err.print(offline, markup=False)
        if fmt != "table":
            write_rows(rows, fmt)
            return
        if not quiet:
            emit(
                rows,
                fmt,
                columns=POLL_COLUMNS,
                title="Poll",
                console=out,
                style=lambda r: "red" if r["status"] == "failed" else None,
            )
            tz = settings.timezone
            listed = [(r, item) for r in rows for item in r["new_items"]]
            if listed:
                emit(
                    [{"source": r["source"], **item} for r, item in listed],
                    fmt,
                    columns=NEW_COLUMNS,
                    title=f"New items (times in {tz})",
                    tz=tz,
                    console=out,
                )
        out.print(summary(report), markup=False)

    guarded(ctx, work)


def _status(row: dict[str, Any], tz: str) -> str:
    status = str(row["status"]).replace("_", " ")
    return status + " (baseline)" if row["baseline"] and row["status"] == "ok" else status


POLL_COLUMNS = (
    Column("source_id", "source", "id"),
    Column("status", show=_status),
    Column("new", kind="count"),
    Column("duplicates", "seen", "count"),
    Column("found", kind="count"),
    Column("skipped", show=lambda r, tz: skipped_text(r["skipped"], duplicates=False)),
    Column("note", show=lambda r, tz: (r["error"] or r["note"] or "")[:160]),
)
NEW_COLUMNS = (
    Column("source"),
    Column("published_at", "published", "time"),
    Column("title"),
    Column("url", kind="url"),
)


def sources_cmd(config: ConfigOption = None, fmt: Format = "table") -> None:
    """Show each source's health: state, last success, failures, last error, next poll."""
    ctx = open_context(config)

    def work(app_ctx: AppContext) -> None:
        from sqlalchemy import func, select

        from crawler.models import Article, Source
        from crawler.state import sync_sources

        with app_ctx.sessions() as s:
            with s.begin():
                sync_sources(s, app_ctx.config.sources.sources)
            stored = {r.id: r for r in s.scalars(select(Source))}
            per_source = select(Article.source_id, func.count()).group_by(Article.source_id)
            counts = {source_id: n for source_id, n in s.execute(per_source)}
        rows = []
        for src in app_ctx.config.sources.sources:
            row = stored.get(src.id)
            if row is None:
                continue
            rows.append(
                {
                    "id": row.id,
                    "name": src.label,
                    "type": row.type,
                    "url": row.url,
                    "enabled": row.enabled,
                    "state": row.state if row.enabled else "disabled",
                    "last_success_at": row.last_success_at,
                    "consecutive_failures": row.consecutive_failures or 0,
                    "last_error": row.last_error if row.state != "ok" else None,
                    "next_poll_at": row.next_poll_at if row.enabled else None,
                    "items": counts.get(row.id, 0),
                    "last_poll_found": row.last_poll_found,
                    "last_poll_new": row.last_poll_new,
                    "last_poll_skipped": row.last_poll_skipped or {},
                    "last_poll_notes": (row.last_poll_notes or "").splitlines(),
                }
            )
        tz = app_ctx.config.settings.timezone
        styles = {"failing": "red", "degraded": "yellow"}
        emit(
            rows,
            fmt,
            columns=SOURCE_COLUMNS,
            title=f"Sources (times in {tz})",
            tz=tz,
            console=out,
            style=lambda r: styles.get(r["state"]),
        )
        notes = [f"{r['id']}: {n}" for r in rows for n in r["last_poll_notes"][:3]]
        if notes and fmt == "table":
            out.print("Notes of the last poll:")
            for note in notes:
                out.print(f"  {visible(note[:300])}", markup=False, highlight=False)

    guarded(ctx, work)


SOURCE_COLUMNS = (
    Column("id", kind="id"),
    Column("state"),
    Column("last_success_at", "last success", "time"),
    Column("consecutive_failures", "failures", "count"),
    Column("last_error", "last error", show=lambda r, tz: (r["last_error"] or "")[:120]),
    Column("next_poll_at", "next poll", "time"),
    Column("items", kind="count"),
    Column(
        "last_poll_found",
        "last poll",
        show=lambda r, tz: last_poll_text(
            r["last_poll_found"], r["last_poll_new"], r["last_poll_skipped"]
        ),
    ),
)


@app.command()
def articles(
    search: Annotated[
        str | None,
        typer.Option("--search", "-s", help="Watchlist language, e.g. 'MOU AND (Taiwan OR 臺灣)'."),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source id.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only articles fetched within, e.g. 7d, 12h.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many rows.")] = 50,
    fmt: FormatOption = "table",
    config: ConfigOption = None,
) -> None:
    """List or search the archive, newest first."""
    window = _parse_since(since) if since else None
    ctx = open_context(config)

    def work(app_ctx: AppContext) -> None:
        from sqlalchemy import func, select

        from crawler.models import Article, utcnow

        query = select(Article)
        if source:
            query = query.where(Article.source_id == source)
        if window:
            query = query.where(Article.fetched_at >= utcnow() - window)
        newest = func.coalesce(Article.published_at, Article.fetched_at)
        query = query.order_by(newest.desc(), Article.id.desc()).limit(limit)
        note = None
        if search:
            rows, note = _search(app_ctx, search, source, window, limit)
        else:
            with app_ctx.read_sessions() as s:
                rows = list(s.scalars(query))
        tz = app_ctx.config.settings.timezone
        names = {src.id: src.label for src in app_ctx.config.sources.sources}
        emit(
            [article_row(a, names) for a in rows],
            fmt,
            columns=ARTICLE_COLUMNS,
            title=f"Articles (times in {tz})",
            tz=tz,
            console=out,
        )
        if not rows and fmt == "table":
            out.print("no articles match")
        if note:
            out.print(note)

    guarded(ctx, work)


def _search(
    app_ctx: AppContext, query: str, source: str | None, window: timedelta | None, limit: int
) -> tuple[list[Any], str | None]:
    """``articles --search``: the watchlist language, verified by the matcher; the hits and
    a note when the scan budget stopped the search."""
    from alerts.query import QuerySyntaxError
    from alerts.search import search_articles
    from crawler.models import utcnow

    since = utcnow() - window if window else None
    try:
        with app_ctx.read_sessions() as s:
            page = search_articles(s, query, source=source, fetched_since=since, limit=limit)
    except QuerySyntaxError as exc:
        raise fail(f"--search: {exc.message} (at character {exc.position + 1})") from None
    if page.complete:
        return list(page.hits), None
    note = (
        f"searched the newest {page.scanned:,} articles only; "
        "narrow with --since or --source to search further back"
    )
    return list(page.hits), note


def _parse_since(value: str) -> timedelta:
    from pydantic import TypeAdapter, ValidationError

    from crawler.durations import Duration

    try:
        return TypeAdapter(Duration).validate_python(value)
    except ValidationError:
        raise fail(f"--since: not a duration: {value!r} (try 7d, 12h, 30m)") from None


def article_row(a: Any, names: dict[str, str]) -> dict[str, Any]:
    """The documented fields of one archived article (``docs/output.md``)."""
    return {
        "id": a.id,
        "story_id": a.story_id,
        "source_id": a.source_id,
        "source": names.get(a.source_id, a.source_id),
        "publisher": a.publisher,
        "published_at": a.published_at,
        "fetched_at": a.fetched_at,
        "title": a.title,
        "url": a.url or None,
        "guid": a.guid,
        "language": a.language,
    }


def _published(row: dict[str, Any], tz: str) -> str:
    """The publication time, or a visible "no date" with the fetch time when there is none."""
    if row["published_at"] is not None:
        return when(row["published_at"], tz)
    fetched = row["fetched_at"]
    return f"no date (fetched {when(fetched, tz)})" if fetched else "no date"


def _byline(row: dict[str, Any], tz: str) -> str:
    publisher, source = row["publisher"], row["source"]
    return f"{publisher} (via {source})" if publisher else source


ARTICLE_COLUMNS = (
    Column("id", kind="id"),
    Column("published_at", "published", show=_published),
    Column("source", show=_byline),
    Column("title"),
    Column("url", kind="url", show=lambda r, tz: r["url"] or f"(no link; guid {r['guid']})"),
)


def last_poll_text(found: int | None, new: int | None, skipped: dict[str, int] | None) -> str:
    """What the last poll did with the entries it read, e.g. "50 found: 43 new, 7 …"."""
    if found is None:
        return ""
    parts = [f"{new or 0} new", skipped_text(skipped)]
    return f"{found} found: " + ", ".join(p for p in parts if p)


def _quiet_scrapy() -> None:
    # Failures are in the table; Scrapy's own warnings would only repeat them.
    for name in ("scrapy", "twisted", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)
