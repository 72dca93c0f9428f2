"""The listener itself: /healthz and /metrics, exposure rules, tokens, CSRF, headers, and
reads that neither wait for nor stall the daemon's writers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4 as CONTENT_TYPE
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from crawler.models import Story
from scheduler.config import Config
from scheduler.http import HttpError, HttpServer, check_exposure, is_loopback, parse_listen
from scheduler.metrics import Counters
from scheduler.settings import AppSettings, HttpSettings
from tests.console.conftest import Client, Console, Running
from tests.scheduler.test_status import parse, value

TOKEN = "correct-horse-battery-staple"


def _config(console: Console, **http: Any) -> Config:
    settings = console.config.settings.model_copy(update={"http": HttpSettings(**http)})
    return Config(
        console.config.directory,
        settings,
        console.config.sources,
        console.config.channels,
        console.config.watchlists,
    )


@pytest.fixture
def guarded(console: Console) -> Iterator[Client]:
    """The same archive behind a token."""
    cfg = _config(console, token=TOKEN)
    server = HttpServer(
        "127.0.0.1:0", lambda: cfg, console.sessions, tick=lambda: datetime.now(UTC)
    )
    running = Running(server)
    try:
        yield Client(server.url)
    finally:
        running.close()


# ----- /healthz and /metrics -----------------------------------------------------------------


def test_healthz_and_metrics(console: Console) -> None:
    code, headers, body = console.client.get("/healthz")
    assert code == 200 and headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["database"] == {"ok": True} and payload["sources"]["new"] == 4
    code, headers, body = console.client.get("/metrics")
    assert code == 200 and headers["Content-Type"] == CONTENT_TYPE
    _, samples = parse(body)
    assert value(samples, "wirewatch_deliveries", status="dead") == 2
    assert value(samples, "wirewatch_stories_stored") == 4


def test_healthz_is_503_when_the_scheduler_is_stale(console: Console) -> None:
    stale = datetime.now(UTC) - timedelta(minutes=5)
    counters = Counters()
    counters.inc("polls", 7)
    server = HttpServer(
        "127.0.0.1:0",
        lambda: console.config,
        console.sessions,
        counters=counters,
        tick=lambda: stale,
    )
    running = Running(server)
    try:
        client = Client(server.url)
        code, _, body = client.get("/healthz")
        assert code == 503 and json.loads(body)["scheduler"]["ok"] is False
        _, samples = parse(client.get("/metrics")[2])
        assert value(samples, "wirewatch_polls_total") == 7
    finally:
        running.close()


def test_metrics_survive_a_database_outage(tmp_path: Path, console: Console) -> None:
    gone = sessionmaker(create_engine("sqlite:////nonexistent-wirewatch-dir/none.db"))
    counters = Counters()
    counters.inc("items_new", 3)
    server = HttpServer(
        "127.0.0.1:0", lambda: console.config, gone, counters=counters, tick=lambda: None
    )
    running = Running(server)
    try:
        client = Client(server.url)
        code, _, body = client.get("/healthz")
        assert code == 503 and json.loads(body)["database"]["ok"] is False
        code, _, body = client.get("/metrics")
        assert code == 200
        _, samples = parse(body)
        assert value(samples, "wirewatch_database_up") == 0
        assert value(samples, "wirewatch_items_new_total") == 3
    finally:
        running.close()


def test_shutdown_closes_the_port(console: Console) -> None:
    host, port = console.server.address
    assert console.client.get("/healthz")[0] == 200
    server = HttpServer("127.0.0.1:0", lambda: console.config, console.sessions)
    running = Running(server)
    host, port = server.address
    running.close()
    server.stop()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2).close()


def test_busy_port_fails_to_bind(console: Console) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(f"127.0.0.1:{port}", lambda: console.config, console.sessions)
        with pytest.raises(OSError):
            server.bind()
        server.stop()


def test_ipv6_loopback(console: Console) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    running = Running(HttpServer("[::1]:0", lambda: console.config, console.sessions))
    try:
        assert running.server.url.startswith("http://[::1]:")
        assert Client(running.server.url).get("/metrics")[0] == 200
    finally:
        running.close()


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["9464", ":9464", "host:", "host:port", "h:70000"])
def test_parse_listen_rejects(listen: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(listen)


# ----- exposure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("console.example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_non_loopback_needs_a_token() -> None:
    with pytest.raises(HttpError, match=r"needs http\.token"):
        check_exposure("0.0.0.0:9464", None)
    assert check_exposure("0.0.0.0:9464", TOKEN) == ("0.0.0.0", 9464)
    assert check_exposure("127.0.0.1:9464", None) == ("127.0.0.1", 9464)


def test_settings_reject_a_short_token_and_a_bad_public_url() -> None:
    with pytest.raises(ValueError):
        HttpSettings(token="short")
    with pytest.raises(ValueError):
        HttpSettings(public_url="javascript:alert(1)")
    assert AppSettings(http={"public_url": "https://w.example/"}).http.public_url == (
        "https://w.example"
    )


# ----- token and CSRF ------------------------------------------------------------------------


def test_token_guards_pages_but_not_health(guarded: Client) -> None:
    code, headers, _ = guarded.get("/stories?source=moea-en")
    assert code == 303 and headers["Location"] == "/login?next=/stories%3Fsource%3Dmoea-en"
    assert guarded.get("/healthz")[0] == 200
    assert guarded.get("/metrics")[0] == 200
    assert guarded.get("/static/console.css")[0] == 200
    assert guarded.get("/stories", Authorization=f"Bearer {TOKEN}")[0] == 200
    assert guarded.get("/stories", Authorization="Bearer wrong-token-wrong-token")[0] == 401
    assert guarded.post("/sources/moea-en/poll")[0] == 401


def test_login_sets_a_cookie_that_is_not_the_token(guarded: Client) -> None:
    code, _, page = guarded.post("/login", {"token": "nope", "next": "/alerts"})
    assert code == 401 and "That is not the token" in page
    code, headers, _ = guarded.post("/login", {"token": TOKEN, "next": "//evil.example/x"})
    assert code == 303 and headers["Location"] == "/"
    session = next(c for c in guarded.jar if c.name == "wirewatch_session")
    assert TOKEN not in (session.value or "")
    assert session.has_nonstandard_attr("HttpOnly")
    assert guarded.get("/alerts")[0] == 200
    assert guarded.post("/logout")[0] == 303
    assert guarded.get("/alerts")[0] == 303


def test_bearer_requests_need_no_csrf(guarded: Client) -> None:
    code, _, _ = guarded.request(
        "/sources/moea-en/poll", {}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert code == 303


def test_posts_need_the_csrf_token(console: Console) -> None:
    client = console.client
    assert client.request("/sources/moea-en/poll", {})[0] == 403
    assert client.request("/sources/moea-en/poll", {"csrf": "x" * 43})[0] == 403
    assert client.post("/sources/moea-en/poll")[0] == 303
    assert client.get("/sources/moea-en/poll")[0] == 405  # never a GET


def test_security_headers(console: Console) -> None:
    _, headers, _ = console.client.get("/stories")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


# ----- readers and writers -------------------------------------------------------------------


def test_pages_load_while_a_writer_holds_the_database(console: Console) -> None:
    with console.engine.connect() as writer:
        writer.begin()  # on SQLite: BEGIN IMMEDIATE, the write lock
        writer.execute(Story.__table__.insert().values(title="being written"))
        for path in ("/stories", f"/stories/{console.ids.en}", "/sources", "/healthz"):
            assert console.client.get(path)[0] == 200, path
        assert "being written" not in console.client.get("/stories")[2]  # not committed
        writer.rollback()


def test_a_writer_commits_while_pages_load(console: Console) -> None:
    """Page loads in a loop never keep a write transaction from committing."""
    stop = threading.Event()
    errors: list[str] = []

    def browse() -> None:
        client = Client(console.server.url)
        while not stop.is_set():
            code = client.get("/stories?q=MOU")[0]
            if code != 200:
                errors.append(str(code))

    threads = [threading.Thread(target=browse) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        for i in range(20):
            with console.sessions.begin() as s:
                s.add(Story(title=f"written {i}"))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors
    with console.sessions() as s:
        n = s.scalar(text("SELECT count(*) FROM stories WHERE title LIKE 'written %'"))
    assert n == 20


def test_reads_use_a_reader_that_issues_no_begin(console: Console) -> None:
    read: sessionmaker[Session] = console.server.context.read
    if console.engine.dialect.name == "sqlite":
        assert read.kw["bind"] is not console.engine
        with read() as s:
            assert s.execute(text("PRAGMA query_only")).scalar() == 1
    else:
        assert read.kw["bind"] is console.engine  # PostgreSQL: pooled sessions, MVCC
