"""Watchlists: their YAML and recent matches, and the try-out of an edited copy.

The try-out validates the edited text exactly as ``wirewatch check`` does
(``scheduler.config.check_watchlist_text``: the same messages, with line and column), then
replays it over the last N days like ``wirewatch backtest`` (``alerts.backtest.replay``),
matching only the articles that contain the literals the expression needs
(``alerts.prefilter``). Nothing is saved: the page offers the text to copy into the file.
A plain form POST renders the whole page; htmx (debounced as you type) asks for the
results fragment only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts.backtest import Replayed, replay
from alerts.matcher import Matcher
from alerts.models import Match
from alerts.prefilter import text_prefilter
from alerts.watchlists import Watchlist
from scheduler.config import Config, check_watchlist_text
from scheduler.console.app import ConsoleContext, context, render
from scheduler.console.auth import checked_form
from scheduler.console.queries import matched_story_ids, recent_matches
from scheduler.yamlsource import Problem

log = logging.getLogger("wirewatch.console")

DEFAULT_DAYS = 30
MAX_DAYS = 365
SHOWN = 100


def watchlist_files(cfg: Config) -> dict[str, Path]:
    """Each watchlist's file, by watchlist name (the file's ``name`` or its stem)."""
    out: dict[str, Path] = {}
    for path in sorted((cfg.directory / "watchlists").glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        name = data.get("name") if isinstance(data, dict) else None
        out.setdefault(str(name or path.stem), path)
    return out


@dataclass
class TryOut:
    """What an edited watchlist would have matched, or why it is not valid."""

    text: str
    days: int
    problems: list[Problem] = field(default_factory=list)
    hits: list[Replayed] = field(default_factory=list)
    total: int = 0
    known: set[int] = field(default_factory=set)

    @property
    def new(self) -> int:
        """Stories the edit adds to what the saved watchlist already matched."""
        return sum(1 for h in self.hits if h.story_id not in self.known)


def try_out(
    ctx: ConsoleContext, cfg: Config, name: str, text: str, days: int, display: str
) -> TryOut:
    """Validate ``text`` and replay it over the last ``days`` days (newest first)."""
    result = TryOut(text, days)
    wl, result.problems = check_watchlist_text(text, cfg, display)
    if wl is None:
        return result
    since = ctx.clock() - timedelta(days=days)
    hits = _replay(ctx, cfg, wl, since)
    with ctx.read() as session:
        result.known = matched_story_ids(session, name, since)
    result.total = len(hits)
    result.hits = hits[::-1][:SHOWN]
    return result


def _replay(ctx: ConsoleContext, cfg: Config, wl: Watchlist, since: datetime) -> list[Replayed]:
    engine = Matcher.compile_one(wl)
    tags = {s.id: s.tags for s in cfg.sources.sources}
    with ctx.read() as session:
        # Big batches: on PostgreSQL each batch is a round trip of the server-side cursor.
        return list(
            replay(
                session, engine, since, tags, prefilter=text_prefilter(wl), batch=5000, indexed=wl
            )
        )


def _recent(ctx: ConsoleContext, name: str) -> list[tuple[Match, str, datetime]]:
    with ctx.read() as session:
        return recent_matches(session, name)


def _lookup(request: Request) -> tuple[Config, Watchlist, Path | None]:
    cfg = context(request).config()
    name = request.path_params["name"]
    try:
        wl = cfg.watchlist(name)
    except KeyError as exc:
        raise HTTPException(404, str(exc).strip("\"'")) from None
    return cfg, wl, watchlist_files(cfg).get(name)


def _display(cfg: Config, wl: Watchlist, path: Path | None) -> str:
    if path is None:
        return f"watchlists/{wl.name}.yaml"
    try:
        return str(path.relative_to(cfg.directory))
    except ValueError:
        return path.name


def watchlists_page(request: Request) -> Response:
    """GET /watchlists: every watchlist with its expression and routes."""
    cfg = context(request).config()
    return render(request, "watchlists.html.j2", watchlists=cfg.watchlists)


def watchlist_page(request: Request) -> Response:
    """GET /watchlists/{name}: the file, recent matches, and the try-out form."""
    cfg, wl, path = _lookup(request)
    text = (
        path.read_text(encoding="utf-8")
        if path
        else yaml.safe_dump(
            wl.model_dump(mode="json", exclude_defaults=True), allow_unicode=True, sort_keys=False
        )
    )
    matches = _recent(context(request), wl.name)
    return render(
        request,
        "watchlist.html.j2",
        wl=wl,
        file_text=text,
        display=_display(cfg, wl, path),
        matches=matches,
        tryout=None,
        days=DEFAULT_DAYS,
    )


async def try_page(request: Request) -> Response:
    """POST /watchlists/{name}/try: the try-out's results (fragment for htmx, else the page)."""
    form = await checked_form(request)
    cfg, wl, path = _lookup(request)
    text = str(form.get("yaml") or "")
    raw_days = str(form.get("days") or DEFAULT_DAYS).strip()
    if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
        raise HTTPException(400, f"days must be a whole number from 1 to {MAX_DAYS}")
    days = int(raw_days)
    display = _display(cfg, wl, path)
    ctx = context(request)
    result = await run_in_threadpool(try_out, ctx, cfg, wl.name, text, days, display)
    if request.headers.get("hx-request") == "true":
        return render(request, "_tryout.html.j2", tryout=result, wl=wl)
    matches = await run_in_threadpool(_recent, ctx, wl.name)
    return render(
        request,
        "watchlist.html.j2",
        wl=wl,
        file_text=text,
        display=display,
        matches=matches,
        tryout=result,
        days=days,
    )


routes = [
    Route("/watchlists", watchlists_page),
    Route("/watchlists/{name}", watchlist_page),
    Route("/watchlists/{name}/try", try_page, methods=["POST"]),
]
