"""Alert commands: ``alerts`` (the delivery ledger), ``alerts retry`` and ``notify-test``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alerts.statuses import WAITING, DeliveryStatus
from scheduler.commands.app import ConfigOption, app, err, fail, guarded, open_context, out
from scheduler.output import Column, FormatOption, emit, plural, visible

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from scheduler.context import AppContext

alerts_app = typer.Typer(help="The delivery ledger and re-queueing.")
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback(invoke_without_command=True)
def alerts(
    ctx: typer.Context,
    status: Annotated[
        DeliveryStatus | None, typer.Option(help="Only rows with this status.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many rows, newest first.")
    ] = 50,
    fmt: FormatOption = "table",
    config: ConfigOption = None,
) -> None:
    """Show the delivery ledger (newest first)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    from alerts.outbox import ledger

    def work(app_ctx: AppContext) -> None:
        with app_ctx.read_sessions() as s:
            deliveries = ledger(s, status=status, limit=limit)
            titles = story_titles(s, {d.story_id for d in deliveries})
        rows = [delivery_row(d, titles.get(d.story_id, "")) for d in deliveries]
        tz = app_ctx.config.settings.timezone
        emit(
            rows,
            fmt,
            columns=DELIVERY_COLUMNS,
            title=f"Deliveries (times in {tz})",
            tz=tz,
            console=out,
        )
        if not rows and fmt == "table":
            out.print("no deliveries" + (f" with status {status}" if status else ""))

    guarded(open_context(config), work)


def story_titles(session: Session, ids: set[int]) -> dict[int, str]:
    """Story titles by id."""
    from sqlalchemy import select

    from crawler.models import Story

    if not ids:
        return {}
    query = select(Story.id, Story.title).where(Story.id.in_(ids))
    return {story_id: title for story_id, title in session.execute(query)}


def delivery_row(d: Any, story_title: str) -> dict[str, Any]:
    """The documented fields of one delivery (``docs/output.md``)."""
    retrying = d.status in WAITING
    return {
        "id": d.id,
        "status": d.status,
        "watchlist": d.watchlist,
        "channel": d.channel,
        "mode": d.mode,
        "story_id": d.story_id,
        "story_title": story_title,
        "attempts": d.attempts,
        "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at if retrying else None,
        "sent_at": d.sent_at,
        "last_error": d.last_error,
    }


DELIVERY_COLUMNS = (
    Column("id", kind="id"),
    Column("status"),
    Column("watchlist"),
    Column("channel"),
    Column("mode"),
    Column("story_id", "story", "id"),
    Column("story_title", "title"),
    Column("attempts", kind="count"),
    Column("next_attempt_at", "next attempt", "time"),
    Column("sent_at", "sent", "time"),
    Column("last_error", "last error", show=lambda r, tz: (r["last_error"] or "")[:120]),
)


@alerts_app.command("retry")
def alerts_retry(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Delivery ids.")] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Every dead delivery.", metavar="")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Re-queue deliveries for an immediate attempt (sent ones are left alone)."""
    from alerts.outbox import retry

    if not ids and not all_dead:
        raise fail("give delivery ids or --all-dead")

    def work(app_ctx: AppContext) -> tuple[int, dict[int, str]]:
        from sqlalchemy import select

        from alerts.models import Delivery

        with app_ctx.sessions() as s:
            query = select(Delivery.id, Delivery.status).where(Delivery.id.in_(ids or ()))
            before = {delivery_id: status for delivery_id, status in s.execute(query)}
            return retry(s, ids or (), all_dead=all_dead), before

    n, before = guarded(open_context(config or ctx.obj), work)
    for delivery_id in ids or ():
        if delivery_id not in before:
            err.print(f"delivery {delivery_id}: no such delivery", markup=False)
        elif before[delivery_id] == "sent":
            err.print(
                f"delivery {delivery_id}: already sent, not re-queued "
                "(a sent alert is never sent twice)",
                markup=False,
            )
    out.print(f"re-queued {plural(n, 'delivery', 'deliveries')}")


@app.command("notify-test")
def notify_test(
    channel: Annotated[str, typer.Argument(help="Channel name from channels.yaml.")],
    config: ConfigOption = None,
) -> None:
    """Send a sample alert through CHANNEL and print each service's result."""
    from rich.markup import escape

    from alerts.channels import ChannelSender
    from alerts.outbox import renderer_for
    from alerts.redact import redact_url
    from alerts.render import AlertItem, OtherSource

    app_ctx = open_context(config)
    cfg = app_ctx.config
    if channel not in cfg.channels:
        raise fail(f"no channel {channel!r} (known: {', '.join(sorted(cfg.channels))})")
    try:
        sender = ChannelSender(channel, cfg.channels[channel])
    except ValueError as exc:
        raise fail(f"channel {channel!r}: {exc}") from None
    item = AlertItem(
        watchlist="notify-test",
        title="wirewatch test alert",
        url="https://example.org/wirewatch-test",
        source="wirewatch",
        snippet="This is a test message sent by wirewatch notify-test.",
        highlights=[(10, 14)],
        terms=["test"],
        published_at=datetime.now(UTC),
        others=(OtherSource("example", "Example", "https://example.org/"),),
    )
    msg = renderer_for(cfg).immediate(item, sender.format, max_length=sender.max_length)
    result = sender.send(msg)
    # A service's answer is the remote end's text: no markup, no terminal controls.
    for svc in result.services:
        mark = "[green]ok[/green]" if svc.ok else "[red]failed[/red]"
        said = f"{svc.name} {redact_url(svc.url)}" + (f": {svc.detail}" if svc.detail else "")
        out.print(f"{mark} {escape(visible(said))}")
    if not result.ok:
        kind = "retryable" if result.retryable else "permanent"
        reason = escape(visible(result.reason or "no detail"))
        raise fail(f"{channel}: {kind} failure: {reason}")
    out.print(f"sent a test alert through {channel}")
