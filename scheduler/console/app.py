"""The console's Starlette app: routes, templates, and what every page shares.

Endpoints that touch the database are plain functions, which Starlette runs in its
threadpool, never on the event loop (see ``scheduler.http``). Templates autoescape
everything; archive text reaches a page only through ``{{ }}`` and links only through
``safe_url`` (http/https or nothing), because feeds are hostile.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from alerts.render import highlight_parts, safe_url
from crawler.models import utcnow
from scheduler.config import Config
from scheduler.console.auth import SecurityMiddleware, checked_form, login_response, safe_next
from scheduler.health import health
from scheduler.metrics import Counters, StatusCollector, exposition, registry
from scheduler.outages import OutageWatch

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50


@dataclass
class ConsoleContext:
    """What the pages need from the process serving them (daemon or ``wirewatch console``)."""

    config: Callable[[], Config]
    read: sessionmaker[Session]
    write: sessionmaker[Session]
    token: str | None = None
    counters: Counters | None = None
    tick: Callable[[], datetime | None] = field(default=lambda: None)
    outages: OutageWatch | None = None  # the daemon's write failures (None: not a daemon)
    daemon: bool = True
    clock: Callable[[], datetime] = utcnow
    metrics: CollectorRegistry = field(init=False)

    def __post_init__(self) -> None:
        collector = StatusCollector(self.read, self.clock, counters=self.counters, tick=self.tick)
        self.metrics = registry(collector)


def context(request: Request) -> ConsoleContext:
    """The console context of the app serving ``request``."""
    return request.app.state.console  # type: ignore[no-any-return]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = lambda u: Markup.escape(safe_url(u))
    env.filters["parts"] = highlight_parts
    return env


templates = Jinja2Templates(env=_environment())


def local_time(value: datetime | None, tz: str) -> str:
    """``value`` in the display zone, to the minute ("" for None)."""
    # Not alerts.wording.local_time: the footer names the zone once a page, cells omit it.
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if value else ""


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> Response:
    """A page from ``templates/name`` with what every page shows."""
    ctx = context(request)
    tz = ctx.config().settings.timezone

    def link(path: str, **params: Any) -> str:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return f"{path}?{query}" if query else path

    return templates.TemplateResponse(
        request,
        name,
        {
            "tz": tz,
            "when": lambda v: local_time(v, tz),
            "iso": lambda v: v.isoformat() if v else "",
            "csrf": request.state.csrf,
            "logged_in": bool(ctx.token),
            "daemon": ctx.daemon,
            "link": link,
            "section": request.url.path.strip("/").split("/")[0],
            **values,
        },
        status_code=status_code,
    )


# ----- status, login -------------------------------------------------------------------------


def healthz(request: Request) -> Response:
    """200 or 503 with the health payload (no token needed: load balancers ask)."""
    ctx = context(request)
    with ctx.read() as session:
        outage = ctx.outages.current() if ctx.outages is not None else None
        ok, payload = health(session, ctx.clock(), ctx.tick(), outage)
    return Response(
        json.dumps(payload, sort_keys=True) + "\n",
        status_code=200 if ok else 503,
        media_type="application/json",
    )


def metrics(request: Request) -> Response:
    """Prometheus text or OpenMetrics (by Accept); the counters survive a database outage."""
    body, content_type = exposition(context(request).metrics, request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type})


async def login(request: Request) -> Response:
    """The token form (GET) and its check (POST)."""
    token = context(request).token
    next_path = safe_next(request.query_params.get("next"))
    if not token:
        return RedirectResponse(next_path, status_code=303)
    if request.method == "POST":
        form = await checked_form(request)
        given = str(form.get("token") or "")
        next_path = safe_next(str(form.get("next") or "/"))
        if given and hmac.compare_digest(given, token):
            return login_response(request, token, next_path)
        return render(request, "login.html.j2", 401, next=next_path, failed=True)
    return render(request, "login.html.j2", next=next_path, failed=False)


async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    await checked_form(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie("wirewatch_session")
    return response


def home(request: Request) -> Response:
    """The console opens on the story list."""
    return RedirectResponse("/stories", status_code=303)


# ----- the app -------------------------------------------------------------------------------


def _error(request: Request, exc: Exception) -> Response:
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    if request.url.path in ("/healthz", "/metrics") or not hasattr(request.state, "csrf"):
        return PlainTextResponse(f"{detail}\n", status_code=code)
    return render(request, "error.html.j2", code, code=code, message=detail)


def create_app(ctx: ConsoleContext) -> Starlette:
    """The console plus /healthz and /metrics."""
    from scheduler.console import operations, stories, watchlists

    routes = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        *stories.routes,
        *operations.routes,
        *watchlists.routes,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, token=ctx.token)],
        exception_handlers={HTTPException: _error},
    )
    app.state.console = ctx
    return app
