"""Who may see the console, and which POSTs are genuine.

Access: without ``http.token`` (loopback only, see ``scheduler.http``) every request is let
in. With a token, a request needs ``Authorization: Bearer <token>`` or the session cookie
that ``POST /login`` sets: an HMAC of the token (never the token itself), so changing the
token logs every browser out. /healthz, /metrics, /static and /login stay open.

CSRF: every state-changing action is a POST carrying the ``csrf`` form field, which must equal
the ``wirewatch_csrf`` cookie (double submit). Both cookies are HttpOnly and SameSite=Lax:
sent when a link in an alert opens the console, never with another site's POST. A request
authenticated by a Bearer header is exempt: browsers never add that header on their own.

Every response carries a strict Content-Security-Policy (scripts and styles from /static
only, no inline code), ``nosniff``, no framing and no referrer, so escaped archive text has no
second way in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

SESSION_COOKIE = "wirewatch_session"
CSRF_COOKIE = "wirewatch_csrf"
OPEN_PATHS = ("/healthz", "/metrics", "/login")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def session_value(token: str) -> str:
    """The cookie value that stands for ``token``."""
    return hmac.new(token.encode(), b"wirewatch-console-session", hashlib.sha256).hexdigest()


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith("/static/")


def bearer_ok(request: Request, token: str | None) -> bool:
    """True when the request carries ``Authorization: Bearer <token>``."""
    if not token:
        return False
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def authenticated(request: Request, token: str | None) -> bool:
    """May this request see the console?"""
    if not token:
        return True
    if bearer_ok(request, token):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie, session_value(token))


def safe_next(value: str | None) -> str:
    """A local path to return to after login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


class SecurityMiddleware(BaseHTTPMiddleware):
    """Token check, the CSRF cookie and the security headers (see the module docstring)."""

    def __init__(self, app: Any, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        fresh = not csrf
        if fresh:
            csrf = secrets.token_urlsafe(32)
        request.state.csrf = csrf
        request.state.bearer = bearer_ok(request, self.token)
        if not _is_open(request.url.path) and not authenticated(request, self.token):
            response: Response
            if request.method in ("GET", "HEAD") and not request.headers.get("authorization"):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            else:
                response = PlainTextResponse("authentication required\n", status_code=401)
                response.headers["WWW-Authenticate"] = 'Bearer realm="wirewatch"'
        else:
            response = await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE,
                csrf,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
        return response


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after the CSRF check (403 when it fails)."""
    form = await request.form()
    if request.state.bearer:
        return form
    sent = form.get("csrf")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, cookie):
        raise HTTPException(403, "the form's CSRF token is missing or stale; reload the page")
    return form


def login_response(request: Request, token: str, next_path: str) -> Response:
    """Redirect to ``next_path`` with the session cookie set."""
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(token),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
