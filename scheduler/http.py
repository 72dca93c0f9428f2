"""The HTTP listener: the web console, /healthz and /metrics, on the daemon's own event loop.

Shape: one Starlette app (``scheduler.console``) served by uvicorn as a task on the running
asyncio loop, the loop the Twisted reactor, Scrapy and APScheduler share. uvicorn installs
no signal handlers here: the daemon owns SIGTERM/SIGINT and shuts the server down through a
Twisted "before shutdown" trigger, after the running crawl has finished.

The socket is bound before the reactor starts (``bind``), so a busy port or a refused
exposure stops the daemon at once with a one-line reason. Exposure rule: a listen address
that is not loopback needs ``http.token``; without one, nothing is served.

No blocking work on the loop: every database read runs in Starlette's threadpool on a
reader engine (``crawler.db.make_reader``: on SQLite no BEGIN, each SELECT reads the last
committed WAL snapshot, so a page never waits for the daemon's write lock and a writer never
waits for a page; on PostgreSQL pooled sessions under MVCC). The few writes (retry a
delivery, poll a source now) use the writer sessions, also off the loop. A loop wedged by
someone else's bug stops answering here too; the health check then times out, which a
supervisor treats like a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crawler.db import make_reader
from scheduler.config import Config
from scheduler.metrics import Counters
from scheduler.outages import OutageWatch

log = logging.getLogger("wirewatch.http")

CONSOLE_LISTEN = "127.0.0.1:9464"
SHUTDOWN_GRACE = 5  # seconds for running requests when the daemon stops


class HttpError(RuntimeError):
    """The listener cannot start; the message says why in one line."""


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` / ``"[::1]:9464"`` / ``"localhost:0"`` → (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen address must be HOST:PORT, got {listen!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def check_exposure(listen: str, token: str | None) -> tuple[str, int]:
    """(host, port) of ``listen``; HttpError when it is not loopback and there is no token."""
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise HttpError(str(exc)) from None
    if not is_loopback(host) and not token:
        raise HttpError(
            f"refusing to serve the console on {listen}: a non-loopback address needs "
            "http.token in wirewatch.yaml (or listen on 127.0.0.1)"
        )
    return host, port


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon (or ``run``) owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """The console plus /healthz and /metrics on ``listen``; see the module docstring."""

    def __init__(
        self,
        listen: str,
        config: Callable[[], Config],
        sessions: sessionmaker[Session],
        *,
        counters: Counters | None = None,
        tick: Callable[[], datetime | None] | None = None,
        outages: OutageWatch | None = None,
        daemon: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from scheduler.console.app import ConsoleContext, create_app

        http = config().settings.http
        self.host, self.port = check_exposure(listen, http.token)
        self._reader: Engine | None = None
        bind = sessions.kw.get("bind")
        read = sessions
        if isinstance(bind, Engine):
            reader = make_reader(bind)
            if reader is not bind:
                self._reader = reader
                read = sessionmaker(reader, expire_on_commit=False)
        self.context = ConsoleContext(
            config=config,
            read=read,
            write=sessions,
            token=http.token,
            counters=counters,
            tick=tick or (lambda: None),
            outages=outages,
            daemon=daemon,
            **({"clock": clock} if clock else {}),
        )
        self.app = create_app(self.context)
        self._socket: socket.socket | None = None
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the real port when bound with port 0."""
        if self._socket is None:
            return self.host, self.port
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """``http://host:port`` of the bound socket."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def bind(self) -> None:
        """Bind and listen now (OSError if the address is unavailable); serve later."""
        if self._socket is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._socket = sock

    def start(self) -> None:
        """Serve on this thread's event loop, running or about to run (after ``bind``)."""
        self.bind()
        assert self._socket is not None
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
        )
        self._server = _Uvicorn(config)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # Twisted fires its startup triggers just before the loop runs
            loop = asyncio.get_event_loop()
        self._task = loop.create_task(self._server.serve(sockets=[self._socket]))
        log.info("console, /healthz and /metrics on %s/", self.url)

    async def shutdown(self) -> None:
        """Stop accepting, let running requests finish (up to a few seconds), close."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._server = self._task = None

    def shutdown_deferred(self) -> Any:
        """``shutdown`` as a Twisted Deferred, for a "before shutdown" reactor trigger."""
        from twisted.internet.defer import Deferred

        return Deferred.fromFuture(asyncio.ensure_future(self.shutdown()))

    def stop(self) -> None:
        """Close the socket and the reader engine (after ``shutdown``; idempotent)."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        if self._reader is not None:
            self._reader.dispose()
            self._reader = None

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM on a loop of its own (``wirewatch console``)."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            self.start()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._request_exit)
            assert self._task is not None
            await self._task

        try:
            asyncio.run(main())
        finally:
            self.stop()

    def _request_exit(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
