"""Real local endpoints for alert tests (an SMTP server, HTTP receivers for Slack and webhooks,
black holes that accept and never answer) and the real daemon run as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message as MimeMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import Channel
from alerts.models import Delivery, Match
from alerts.watchlists import Route, Watchlist
from crawler.models import Article, Source, Story
from crawler.sources import SourcesFile
from scheduler.settings import AlertSettings, AppSettings

SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """aiosmtpd on loopback that can be taken down and brought back on the same port.

    ``refuse`` > 0 answers that many DATA commands with a temporary 451 (the refused
    messages are kept in ``refused``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[MimeMessage] = []
        self.raw: list[bytes] = []  # each accepted message as it arrived
        self.refused: list[MimeMessage] = []
        self.refuse = 0
        self.envelopes: list[tuple[str, list[str]]] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.original_content)
        if self.refuse > 0:
            self.refuse -= 1
            self.refused.append(mail)
            return "451 4.3.0 try again later"
        self.messages.append(mail)
        self.raw.append(envelope.original_content)
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
    """One scripted answer; ``fault`` "hang" never answers (until released), "reset" aborts
    the connection with a TCP RST."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    fault: Literal["hang", "reset"] | None = None


class HttpReceiver:
    """A loopback HTTP server answering POSTs from a script of replies (then ``default``),
    each after ``delay`` seconds; ``answers`` records (status, time) of each answer sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any, float]] = []
        self.answers: list[tuple[int, float]] = []
        self.script: list[Reply] = []
        self.default = Reply()
        self.delay = 0.0
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
                time.sleep(receiver.delay)
                if reply.fault == "hang":
                    receiver.release.wait(60)
                    return
                if reply.fault == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                receiver.answers.append((reply.status, time.time()))

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a held answer is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """A TCP server on loopback that accepts connections and never says a word."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = int(self._sock.getsockname()[1])
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self.connections:
            conn.close()


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``cond`` every 0.1 s until it returns something truthy (returned); fail naming
    ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = cond()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def receiver() -> Iterator[HttpReceiver]:
    """A local HTTP receiver for the length of a fixture."""
    server = HttpReceiver()
    try:
        yield server
    finally:
        server.close()


# Slack's own host cannot be reached from here: the daemon's process points the Slack plugin's
# webhook endpoint at a local receiver (the HTTP boundary) before running the real CLI.
LAUNCH = """
import os, sys
port = os.environ.get("TEST_SLACK_PORT")
if port:
    from apprise.plugins.slack import NotifySlack
    NotifySlack.webhook_url = f"http://127.0.0.1:{port}/services"
    NotifySlack.request_rate_per_sec = 0
from scheduler.cli import main
main()
"""
REPO = Path(__file__).resolve().parents[2]


def start_daemon(root: Path, db: str, slack_port: int | None = None) -> subprocess.Popen[str]:
    """``wirewatch run -c root`` on database ``db`` as a subprocess (output in stdout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["WIREWATCH_DATABASE_URL"] = db
    if slack_port:
        env["TEST_SLACK_PORT"] = str(slack_port)
    cmd = [sys.executable, "-c", LAUNCH, "run", "-c", str(root)]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


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
    yield from receiver()


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
