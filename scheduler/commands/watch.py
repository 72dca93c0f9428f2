"""Watchlist commands: ``backtest``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scheduler.cli import ConfigOption, app, err, fail, guarded, open_context, out
from scheduler.output import Column, FormatOption, emit, plural

if TYPE_CHECKING:
    from alerts.backtest import Replayed
    from scheduler.context import AppContext


@app.command()
def backtest(
    watchlist: Annotated[str, typer.Argument(help="Watchlist name.")],
    since: Annotated[str, typer.Option(help="How far back, e.g. 30d or 12h.")] = "30d",
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show at most this many stories.")
    ] = 100,
    deliver: Annotated[
        bool,
        typer.Option("--deliver", help="Queue alerts for these stories (once each).", metavar=""),
    ] = False,
    fmt: FormatOption = "table",
    config: ConfigOption = None,
) -> None:
    """Replay WATCHLIST over the archive and print what would have alerted.

    Nothing is sent unless --deliver is given; then each story not yet alerted for this
    watchlist is queued once to the watchlist's channels (the daemon delivers them).
    """
    from alerts.backtest import replay
    from alerts.catchup import catch_up
    from alerts.matcher import Engine
    from alerts.prefilter import text_prefilter
    from crawler.durations import parse_duration

    ctx = open_context(config)
    try:
        wl = ctx.config.watchlist(watchlist)
        window = parse_duration(since)
    except (KeyError, ValueError) as exc:
        raise fail(str(exc).strip("'\"")) from None
    engine = Engine.compile_one(wl)
    tags = {s.id: s.tags for s in ctx.config.sources.sources}
    names = {s.id: s.label for s in ctx.config.sources.sources}
    start = datetime.now(UTC) - window

    def work(ctx: AppContext) -> None:
        rows: list[dict[str, Any]] = []
        total = 0
        with ctx.read_sessions() as session, err.status(f"replaying {wl.name} over the archive…"):
            for hit in replay(session, engine, start, tags, prefilter=text_prefilter(wl)):
                total += 1
                if total <= limit:
                    rows.append(replay_row(hit, names))
        tz = ctx.config.settings.timezone
        if total or fmt != "table":
            emit(
                rows,
                fmt,
                columns=BACKTEST_COLUMNS,
                title=f"{wl.name}: stories since {since} that would have alerted (times in {tz})",
                tz=tz,
                console=out,
            )
        say = out if fmt == "table" else err
        shown = f" (showing {limit})" if total > limit else ""
        matched = plural(total, "story", "stories")
        if not deliver:
            say.print(f"{matched} matched{shown}; nothing was sent", markup=False)
            return
        with ctx.sessions.begin() as session:
            queued = catch_up(session, wl, ctx.config.channels, tags, start, datetime.now(UTC))
        say.print(
            f"{matched} matched{shown}; {queued} queued for delivery "
            f"({total - queued} had already alerted)",
            markup=False,
        )

    guarded(ctx, work)


def replay_row(hit: Replayed, names: dict[str, str]) -> dict[str, Any]:
    """The documented fields of one story a backtest would have alerted on."""
    from alerts.render import term_label

    return {
        "story_id": hit.story_id,
        "article_id": hit.article_id,
        "seen_at": hit.seen_at,
        "source_id": hit.source_id,
        "source": names.get(hit.source_id, hit.source_id),
        "title": hit.title,
        "url": hit.url or None,
        "terms": sorted({term_label(h.term) for h in hit.match.hits}),
        "hits": [
            {"term": term_label(h.term), "group": h.group, "field": h.field} for h in hit.match.hits
        ],
    }


def _hits(row: dict[str, Any], tz: str) -> str:
    terms = sorted({f"{h['term']} ({h['field']})" for h in row["hits"]})
    return ", ".join(terms[:6])


BACKTEST_COLUMNS = (
    Column("seen_at", "seen", "time"),
    Column("source"),
    Column("title", show=lambda r, tz: r["title"] or r["url"] or ""),
    Column("hits", show=_hits),
)
