"""The real daemon (``wirewatch run``) as a subprocess, with its config, logs and endpoints.

Tests drive it like an operator: write config files, send signals, read stderr, ask
/healthz, and look at the database and at the local feed server's request log. Every wait
is on a condition with a generous deadline (the machine is shared), never a fixed sleep.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.models import Delivery, Match
from benchmarks.newsserver import NewsServer
from crawler.db import make_engine, session_factory
from crawler.models import Article, Source
from tests.alerts.conftest import (
    SLACK_URL,
    HttpReceiver,
    SmtpServer,
    free_port,
    receiver,
    wait_for,
)
from tests.conftest import REPO

# Slack's own host cannot be reached from here: the daemon's process points the Slack plugin's
# webhook endpoint at a local receiver (the HTTP boundary) before running the real CLI.
LAUNCH = """
import faulthandler, os, signal, sys
faulthandler.register(signal.SIGUSR1)  # Daemon.stacks(): where a stuck daemon is
port = os.environ.get("TEST_SLACK_PORT")
if port:
    from apprise.plugins.slack import NotifySlack
    NotifySlack.webhook_url = f"http://127.0.0.1:{port}/services"
    NotifySlack.request_rate_per_sec = 0
from scheduler.cli import main
main()
"""

WATCHLIST = (
    "groups:\n"
    "  taiwan: [Taiwan, 台灣]\n"
    "  mou: [MOU, memoranda of understanding]\n"
    "  us: ['=US', United States]\n"
    "  chips: [semiconductor]\n"
    "match: {match}\n"
    "notify:\n"
)


@pytest.fixture
def news() -> Iterator[NewsServer]:
    """One loopback news host with one feed of five items."""
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=5, multi="port") as server:
        yield server


@pytest.fixture
def two_hosts() -> Iterator[NewsServer]:
    """Two loopback news hosts with a feed each, for stories syndicated across sites."""
    with NewsServer(hosts=2, feeds_per_host=1, items_per_feed=5, multi="port") as server:
        yield server


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    """The webhook every test watchlist alerts."""
    yield from receiver()


@pytest.fixture
def slack() -> Iterator[HttpReceiver]:
    """The local stand-in for Slack's webhook host."""
    yield from receiver()


def write_config(
    root: Path,
    news: NewsServer,
    hook: HttpReceiver,
    match: str,
    smtp: SmtpServer | None = None,
    *,
    settings: str = "",
    interval: str = "5s",
    feeds: Iterable[str] | None = None,
    log: str = "{level: INFO}",
) -> None:
    """A config directory polling ``news``'s feeds and alerting ``hook`` on ``match``."""
    (root / "watchlists").mkdir(parents=True, exist_ok=True)
    (root / "wirewatch.yaml").write_text(
        "data_dir: ./data\n"
        f"log: {log}\n"
        "crawl: {retries: 0, timeout: 20s}\n"
        "alerts: {dispatch_interval: 1s, admin_channel: null}\n" + settings
    )
    urls = list(feeds if feeds is not None else news.feed_urls())
    sources = "sources:\n" + "".join(
        f"  - id: feed{i}\n    type: rss\n    url: {url}\n    interval: {interval}\n"
        for i, url in enumerate(urls)
    )
    (root / "sources.yaml").write_text(sources)
    channels = f"channels:\n  hook:\n    url: json://127.0.0.1:{hook.port}/hook\n"
    routes = "  - channel: hook\n"
    if smtp is not None:
        channels += f"  mail:\n    url: '{smtp.url()}'\n    format: html\n"
        channels += f"  slack:\n    url: {SLACK_URL}\n"
        routes += "  - channel: mail\n  - channel: slack\n"
    (root / "channels.yaml").write_text(channels)
    (root / "watchlists" / "ip.yaml").write_text(WATCHLIST.format(match=match) + routes)


def replace_unnoticed(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` keeping its size and mtime (padded with blanks): the
    config-watch tick, which compares (path, mtime, size), cannot see this edit."""
    before = path.stat()
    size = len(text.encode())
    assert size <= before.st_size, "the new text must not be longer than the old"
    text += " " * (before.st_size - size)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(tmp, path)
    assert path.stat().st_size == before.st_size


def alerts_with(hook: HttpReceiver, text: str) -> int:
    """How many requests ``hook`` received mentioning ``text``."""
    return sum(text in str(payload) for _, payload, _ in hook.requests)


def drop_file_permission_override() -> None:
    """In a child about to exec: as root, lose CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so
    file modes apply to the daemon as they would to an unprivileged service user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


class Daemon:
    """``wirewatch run`` on a config directory, stdout and stderr kept in files."""

    def __init__(
        self,
        root: Path,
        db: str,
        *args: str,
        env: dict[str, str] | None = None,
        slack_port: int | None = None,
        honour_file_modes: bool = False,
    ) -> None:
        self.root = root
        runs = len(list(root.parent.glob("daemon-*.err")))
        self.err_path = root.parent / f"daemon-{runs}.err"
        self.out_path = root.parent / f"daemon-{runs}.out"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        environ["WIREWATCH_DATABASE_URL"] = db
        if slack_port:
            environ["TEST_SLACK_PORT"] = str(slack_port)
        environ.update(env or {})
        cmd = [sys.executable, "-c", LAUNCH, "run", "-c", str(root), *args]
        preexec = drop_file_permission_override if honour_file_modes and os.geteuid() == 0 else None
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, env=environ, stdout=out, stderr=err, preexec_fn=preexec
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def lines(self, pattern: str) -> list[str]:
        """stderr lines matching the regular expression ``pattern``."""
        return [line for line in self.stderr().splitlines() if re.search(pattern, line)]

    def wait_log(self, pattern: str, timeout: float = 60, count: int = 1) -> list[str]:
        """Wait until stderr has ``count`` lines matching ``pattern``; returns them."""

        def found() -> list[str]:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.stderr()}")
            hits = self.lines(pattern)
            return hits if len(hits) >= count else []

        return wait_for(found, timeout, f"{count} log line(s) matching {pattern!r}")

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> int:
        """Send ``sig`` (if still running) and return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def stacks(self) -> str:
        """The Python stacks of every thread of the running daemon (to diagnose a hang)."""
        if self.proc.poll() is not None:
            return ""
        before = len(self.stderr())
        self.proc.send_signal(signal.SIGUSR1)
        return wait_for(lambda: self.stderr()[before:], 10, "the stack dump")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def wait(self, timeout: float = 180) -> int:
        return self.proc.wait(timeout=timeout)


def get_json(url: str) -> tuple[int, Any]:
    """(status, parsed JSON body) of a GET; connection errors give (0, reason)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())
    except OSError as exc:
        return 0, str(exc)


def last_tick(port: int) -> datetime | None:
    """When the daemon's scheduler last ticked, from its /healthz."""
    _, body = get_json(f"http://127.0.0.1:{port}/healthz")
    tick = body.get("scheduler", {}).get("last_tick") if isinstance(body, dict) else None
    return datetime.fromisoformat(tick) if tick else None


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def http_settings() -> tuple[str, int]:
    """A ``wirewatch.yaml`` line serving /healthz on a free loopback port, and the port."""
    port = free_port()
    return f"http: {{listen: '127.0.0.1:{port}'}}\n", port


class Archive:
    """Read-only views of the daemon's database for assertions."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = session_factory(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _try(self, query: Callable[[Any], Any], default: Any) -> Any:
        try:
            with self.sessions() as s:
                return query(s)
        except Exception:  # the daemon may not have created the schema yet
            return default

    def sources(self) -> list[Source]:
        return self._try(lambda s: list(s.scalars(select(Source))), [])

    def baselined(self, n: int) -> bool:
        rows = self.sources()
        return len(rows) == n and all(r.baseline_done for r in rows)

    def titles(self) -> list[str]:
        return self._try(lambda s: list(s.scalars(select(Article.title))), [])

    def deliveries(self) -> list[Delivery]:
        return self._try(lambda s: list(s.scalars(select(Delivery))), [])

    def article(self, title: str) -> tuple[Article, bool] | None:
        """The article titled ``title`` and whether it matched a watchlist, once stored."""

        def find(s: Any) -> tuple[Article, bool] | None:
            art = s.scalar(select(Article).where(Article.title == title))
            if art is None:
                return None
            return art, s.scalar(select(Match.id).where(Match.article_id == art.id)) is not None

        return self._try(find, None)

    def leases(self) -> list[str]:
        """Owners of every lease still held on a source or a delivery."""
        return [r.lease_owner for r in self.sources() if r.lease_owner] + [
            r.lease_owner for r in self.deliveries() if r.lease_owner
        ]
