"""Collection commands: ``poll``, ``sources``, ``articles``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from scheduler.commands.app import ConfigOption, app, err, fail, guarded, open_context, out
from scheduler.context import AppContext


@app.command()
def poll(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source ids (default: every enabled source).")
    ] = None,
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
        out.print("no enabled sources to poll")
        return

    def work(app_ctx: AppContext) -> None:
        from crawler.collect import run_collect
        from crawler.state import sync_sources

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
        t = Table(title="Poll", title_justify="left")
        for col in ("source", "status", "new", "seen", "found", "skipped", "note"):
            t.add_column(col, overflow="fold")
        for o in report.outcomes:
            status = o.status.replace("_", " ")
            if o.baseline and o.status == "ok":
                status += " (baseline)"
            note = o.error or (o.refused or o.warnings or [""])[0]
            style = "red" if o.failed else None
            t.add_row(
                o.source_id,
                status,
                str(o.new),
                str(o.duplicates),
                str(o.found),
                Text(skipped_text(o.skipped, duplicates=False)),
                Text(note[:160]),
                style=style,
            )
        out.print(t)
        failed = len(report.failed)
        others = sum(report.skipped.values()) - report.duplicates
        out.print(
            f"{report.new} new, {report.duplicates} already seen, "
            + (
                f"{others} skipped ({skipped_text(report.skipped, duplicates=False)}), "
                if others
                else ""
            )
            + f"{len(report.outcomes) - failed} ok, {failed} failed "
            f"in {report.seconds:.1f}s"
        )

    guarded(ctx, work)


def sources_cmd(config: ConfigOption = None) -> None:
    """Show each source's health: state, last success, failures, last error, next poll."""
    ctx = open_context(config)

    def work(app_ctx: AppContext) -> None:
        from sqlalchemy import func, select

        from crawler.models import Article, Source
        from crawler.state import sync_sources

        with app_ctx.sessions() as s:
            with s.begin():
                sync_sources(s, app_ctx.config.sources.sources)
            rows = {r.id: r for r in s.scalars(select(Source))}
            counts = dict(
                s.execute(select(Article.source_id, func.count()).group_by(Article.source_id))
                .tuples()
                .all()
            )
        tz = app_ctx.config.settings.timezone
        t = Table(title=f"Sources (times in {tz})", title_justify="left")
        columns = ("id", "state", "last success", "failures", "last error", "next poll", "items")
        for col in (*columns, "last poll"):
            t.add_column(col, overflow="fold")
        notes: list[str] = []
        styles = {"failing": "red", "degraded": "yellow"}
        for src in app_ctx.config.sources.sources:
            row = rows.get(src.id)
            if row is None:
                continue
            state = row.state if row.enabled else "disabled"
            t.add_row(
                row.id,
                state,
                _when(row.last_success_at, tz),
                str(row.consecutive_failures or 0),
                Text((row.last_error or "")[:120] if row.state != "ok" else ""),
                _when(row.next_poll_at, tz) if row.enabled else "",
                str(counts.get(row.id, 0)),
                Text(last_poll_text(row.last_poll_found, row.last_poll_new, row.last_poll_skipped)),
                style=styles.get(state),
            )
            if row.last_poll_notes:
                notes += [f"{row.id}: {n}" for n in row.last_poll_notes.splitlines()[:3]]
        out.print(t)
        if notes:
            out.print("Notes of the last poll:")
            for note in notes:
                out.print(f"  {note[:300]}", markup=False, highlight=False)

    guarded(ctx, work)


@app.command()
def articles(
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Text in title, summary or body.")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only this source id.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only articles fetched within, e.g. 7d, 12h.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many rows.")] = 50,
    config: ConfigOption = None,
) -> None:
    """List or search the archive, newest first."""
    window = _parse_since(since) if since else None
    ctx = open_context(config)

    def work(app_ctx: AppContext) -> None:
        from sqlalchemy import func, or_, select

        from crawler.models import Article, utcnow

        query = select(Article)
        if search:
            pattern = f"%{_escape_like(search.lower())}%"
            query = query.where(
                or_(
                    *(
                        func.lower(col).like(pattern, escape="\\")
                        for col in (Article.title, Article.summary, Article.body)
                    )
                )
            )
        if source:
            query = query.where(Article.source_id == source)
        if window:
            query = query.where(Article.fetched_at >= utcnow() - window)
        newest = func.coalesce(Article.published_at, Article.fetched_at)
        query = query.order_by(newest.desc(), Article.id.desc()).limit(limit)
        with app_ctx.read_sessions() as s:
            rows = list(s.scalars(query))
        tz = app_ctx.config.settings.timezone
        t = Table(title=f"Articles (times in {tz})", title_justify="left")
        for col in ("id", "published", "source", "title", "url"):
            t.add_column(col, overflow="fold")
        for a in rows:
            t.add_row(
                str(a.id),
                _published(a.published_at, a.fetched_at, tz),
                Text(f"{a.publisher} (via {a.source_id})" if a.publisher else a.source_id),
                Text(a.title),
                Text(a.url or f"(no link; guid {a.guid})"),
            )
        out.print(t)
        if not rows:
            out.print("no articles match")

    guarded(ctx, work)


def _parse_since(value: str) -> timedelta:
    from pydantic import TypeAdapter, ValidationError

    from crawler.durations import Duration

    try:
        return TypeAdapter(Duration).validate_python(value)
    except ValidationError:
        raise fail(f"--since: not a duration: {value!r} (try 7d, 12h, 30m)") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _when(value: datetime | None, tz: str = "UTC") -> str:
    """A timestamp in the configured display zone."""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if value else ""


def _published(published: datetime | None, fetched: datetime | None, tz: str) -> str:
    """The publication time, or a visible "no date" with the fetch time when there is none."""
    if published is not None:
        return _when(published, tz)
    return f"no date (fetched {_when(fetched, tz)})" if fetched else "no date"


def skipped_text(skipped: dict[str, int] | None, *, duplicates: bool = True) -> str:
    """``{"duplicate: same guid": 7}`` as "7 duplicate: same guid", largest first."""
    pairs = sorted((skipped or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(
        f"{n} {why}" for why, n in pairs if duplicates or not why.startswith("duplicate")
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
