"""Real local endpoints for alert tests: an SMTP server, a Slack-like and a JSON webhook."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message as MimeMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import Channel
from alerts.watchlists import Route, Watchlist
from crawler.models import Article, Delivery, Match, Source, Story
from crawler.sources import SourcesFile
from scheduler.settings import AlertSettings, AppSettings

SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """aiosmtpd on loopback that can be taken down and brought back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[MimeMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def up(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, to: str = "ops@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=wirewatch@example.org&to={to}&mode=insecure"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class HttpReceiver:
    """A loopback HTTP server answering POSTs from a script of replies (then ``default``)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any, float]] = []
        self.script: list[Reply] = []
        self.default = Reply()
        self.hold: int | None = None  # 1-based number of a request to hold until released
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload: Any = json.loads(raw)
                except ValueError:
                    payload = raw.decode("utf-8", "replace")
                receiver.requests.append((self.path, payload, time.time()))
                if receiver.hold == len(receiver.requests):
                    receiver.release.wait(30)
                reply = receiver.script.pop(0) if receiver.script else receiver.default
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.up()
    try:
        yield server
    finally:
        server.down()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def slack(http: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> HttpReceiver:
    """Slack's webhook endpoint redirected to the local receiver (HTTP boundary only)."""
    from apprise.plugins.slack import NotifySlack

    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{http.port}/services")
    monkeypatch.setattr(NotifySlack, "request_rate_per_sec", 0)
    return http


@dataclass
class Cfg:
    """The parts of ``scheduler.config.Config`` the alert modules read."""

    channels: dict[str, Channel]
    watchlists: list[Watchlist] = field(default_factory=list)
    settings: AppSettings = field(default_factory=AppSettings)
    sources: SourcesFile = field(default_factory=SourcesFile)
    directory: Path = Path("/nonexistent")


def make_cfg(
    channels: dict[str, str],
    *,
    routes: list[Route] | None = None,
    max_attempts: int = 10,
    tmp: Path | None = None,
    **channel_opts: Any,
) -> Cfg:
    chans = {name: Channel(url=url, **channel_opts.get(name, {})) for name, url in channels.items()}
    wl = Watchlist(
        name="tw-ip",
        groups={"ip": ["TRIPS", "patent"]},
        match="ip",
        notify=routes or [Route(channel=n) for n in channels],
    )
    settings = AppSettings(alerts=AlertSettings(max_attempts=max_attempts, admin_channel=None))
    return Cfg(chans, [wl], settings, SourcesFile(), tmp or Path("/nonexistent"))


def add_source(s: Session, source_id: str, **kw: Any) -> Source:
    src = s.get(Source, source_id)
    if src is None:
        src = Source(
            id=source_id,
            type="rss",
            url=f"https://{source_id}.example/feed",
            config_url=f"https://{source_id}.example/feed",
            **kw,
        )
        s.add(src)
        s.flush()
    return src


_counter = iter(range(1, 10**9))


def add_story(
    s: Session,
    title: str,
    *,
    source: str = "src-a",
    body: str = "",
    story: Story | None = None,
    url: str | None = None,
) -> Article:
    """An article (and its story unless given) — the crawler's output, inserted directly."""
    add_source(s, source)
    n = next(_counter)
    if story is None:
        story = Story(title=title)
        s.add(story)
        s.flush()
    art = Article(
        source_id=source,
        story_id=story.id,
        url=url or f"https://{source}.example/{n}",
        canonical_url=url or f"https://{source}.example/{n}",
        guid=str(n),
        title=title,
        summary="",
        body=body,
    )
    s.add(art)
    s.flush()
    return art


def add_delivery(
    s: Session,
    art: Article,
    channel: str,
    *,
    mode: str = "immediate",
    watchlist: str = "tw-ip",
    snippet: str | None = None,
    created_at: datetime | None = None,
) -> Delivery:
    """A match and one outbox row for it (what ``match_pending`` writes)."""
    m = s.query(Match).filter_by(story_id=art.story_id, watchlist=watchlist).one_or_none()
    if m is None:
        m = Match(
            story_id=art.story_id,
            article_id=art.id,
            watchlist=watchlist,
            hits=[{"term": "TRIPS", "group": "ip", "field": "title", "start": 0, "end": 5}],
            snippet=snippet if snippet is not None else art.title,
            highlights=[],
        )
        s.add(m)
        s.flush()
    d = Delivery(
        match_id=m.id,
        story_id=art.story_id,
        watchlist=watchlist,
        channel=channel,
        mode=mode,
        digest_route="0 8 * * * UTC" if mode == "digest" else None,
        created_at=created_at or datetime.now(UTC) - timedelta(seconds=1),
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    s.add(d)
    s.flush()
    return d


def statuses(sessions: sessionmaker[Session]) -> dict[int, str]:
    with sessions() as s:
        return {d.id: d.status for d in s.query(Delivery).order_by(Delivery.id)}
