"""``wirewatch check``: validate the configuration and print what it defines."""

from __future__ import annotations

from urllib.parse import urlsplit

from rich.table import Table

from scheduler.commands.app import ConfigOption, app, open_context, out
from scheduler.config import Config


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
