"""Watchlist commands: ``backtest``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from scheduler.commands.app import ConfigOption, app, err, fail, guarded, open_context, out
from scheduler.context import AppContext


@app.command()
def backtest(
    watchlist: Annotated[str, typer.Argument(help="Watchlist name.")],
    since: Annotated[str, typer.Option(help="How far back, e.g. 30d or 12h.")] = "30d",
    limit: Annotated[int, typer.Option(help="Show at most this many stories.")] = 100,
    deliver: Annotated[
        bool, typer.Option("--deliver", help="Queue alerts for these stories (once each).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Replay WATCHLIST over the archive and print what would have alerted.

    Nothing is sent unless --deliver is given; then each story not yet alerted for this
    watchlist is queued once to the watchlist's channels (the daemon delivers them).
    """
    from alerts.backtest import replay
    from alerts.catchup import catch_up
    from alerts.matcher import Matcher
    from alerts.prefilter import text_prefilter
    from crawler.durations import parse_duration

    ctx = open_context(config)
    try:
        wl = ctx.config.watchlist(watchlist)
        window = parse_duration(since)
    except (KeyError, ValueError) as exc:
        raise fail(str(exc).strip("'\"")) from None
    engine = Matcher.compile_one(wl)
    tags = {s.id: s.tags for s in ctx.config.sources.sources}
    start = datetime.now(UTC) - window

    def work(ctx: AppContext) -> None:
        table = Table(title=f"{wl.name}: stories since {since} that would have alerted")
        for col in ("seen (UTC)", "source", "title", "hits"):
            table.add_column(col, overflow="fold")
        total = 0
        with ctx.read_sessions() as session, err.status(f"replaying {wl.name} over the archive…"):
            for hit in replay(session, engine, start, tags, prefilter=text_prefilter(wl)):
                total += 1
                if total <= limit:
                    terms = sorted({f"{h.term} ({h.field})" for h in hit.match.hits})
                    table.add_row(
                        hit.seen_at.strftime("%Y-%m-%d %H:%M"),
                        hit.source_id,
                        hit.title or hit.url,
                        ", ".join(terms[:6]),
                    )
        if total:
            out.print(table)
        shown = f" (showing {limit})" if total > limit else ""
        noun = "story" if total == 1 else "stories"
        if not deliver:
            out.print(f"{total} {noun} matched{shown}; nothing was sent")
            return
        with ctx.sessions.begin() as session:
            queued = catch_up(session, wl, ctx.config.channels, tags, start, datetime.now(UTC))
        out.print(
            f"{total} {noun} matched{shown}; {queued} queued for delivery "
            f"({total - queued} had already alerted)"
        )

    guarded(ctx, work)
