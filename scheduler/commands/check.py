"""``wirewatch check``: validate the configuration and print what it defines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scheduler.commands.app import ConfigOption, app, err, open_context, out
from scheduler.output import Column, Format, FormatOption, emit, write_rows

if TYPE_CHECKING:
    from scheduler.config import Config


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
