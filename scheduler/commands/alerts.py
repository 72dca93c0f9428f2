"""Alert commands: ``alerts`` (the delivery ledger), ``alerts retry`` and ``notify-test``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from alerts.models import WAITING, DeliveryStatus
from scheduler.commands.app import ConfigOption, app, fail, guarded, open_context, out
from scheduler.context import AppContext

alerts_app = typer.Typer(help="The delivery ledger and re-queueing.")
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback(invoke_without_command=True)
def alerts(
    ctx: typer.Context,
    status: Annotated[
        DeliveryStatus | None, typer.Option(help="Only rows with this status.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many rows, newest first.")] = 50,
    config: ConfigOption = None,
) -> None:
    """Show the delivery ledger (newest first)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    from alerts.outbox import ledger

    def work(app_ctx: AppContext) -> None:
        with app_ctx.read_sessions() as s:
            rows = ledger(s, status=status, limit=limit)
        t = Table(title="Deliveries", title_justify="left")
        for col in (
            "id",
            "status",
            "watchlist",
            "channel",
            "mode",
            "story",
            "attempts",
            "next attempt",
            "sent",
            "last error",
        ):
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(
                str(r.id),
                r.status,
                r.watchlist,
                r.channel,
                r.mode,
                str(r.story_id),
                str(r.attempts),
                _when(r.next_attempt_at) if r.status in WAITING else "",
                _when(r.sent_at),
                (r.last_error or "")[:120],
            )
        out.print(t)
        if not rows:
            out.print("no deliveries" + (f" with status {status}" if status else ""))

    guarded(open_context(config), work)


@alerts_app.command("retry")
def alerts_retry(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Delivery ids.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead delivery.")] = False,
    config: ConfigOption = None,
) -> None:
    """Re-queue deliveries for an immediate attempt (sent ones are left alone)."""
    from alerts.outbox import retry

    if not ids and not all_dead:
        raise fail("give delivery ids or --all-dead")

    def work(app_ctx: AppContext) -> int:
        with app_ctx.sessions() as s:
            return retry(s, ids or (), all_dead=all_dead)

    n = guarded(open_context(config or ctx.obj), work)
    out.print(f"re-queued {n} deliver{'y' if n == 1 else 'ies'}")


@app.command("notify-test")
def notify_test(
    channel: Annotated[str, typer.Argument(help="Channel name from channels.yaml.")],
    config: ConfigOption = None,
) -> None:
    """Send a sample alert through CHANNEL and print each service's result."""
    from alerts.channels import ChannelSender
    from alerts.outbox import renderer_for
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
    msg = renderer_for(cfg).immediate(item, sender.format, max_length=sender.channel.max_length)
    result = sender.send(msg)
    for svc in result.services:
        mark = "[green]ok[/green]" if svc.ok else "[red]failed[/red]"
        out.print(f"{mark} {svc.name} {svc.url}" + (f": {svc.detail}" if svc.detail else ""))
    if not result.ok:
        kind = "retryable" if result.retryable else "permanent"
        raise fail(f"{channel}: {kind} failure: {result.reason or 'no detail'}")
    out.print(f"sent a test alert through {channel}")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""
