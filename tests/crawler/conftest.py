"""Fixtures for crawl tests: a local news server and a poller running in a child process.

A Twisted reactor can run only once per process, and a collection pass needs a running
reactor. So each test gets a child process (:class:`Poller`) that installs the asyncio
reactor once and runs as many passes as the test asks for, one per ``poll()`` call, with
the test free to change the server between passes. That is also how the daemon uses
``collect``: many passes in one long-running reactor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.newsserver import NewsServer
from benchmarks.procfs import child_pids

REPO = Path(__file__).resolve().parents[2]
POLL_TIMEOUT = 120.0

# The child: reads one JSON command per line, answers one JSON report per line.
_CHILD = r"""
import asyncio, dataclasses, json, logging, sys
from pydantic import TypeAdapter
from crawler.collect import collect
from crawler.reactor import install_reactor
from crawler.crawl_settings import CrawlSettings
from crawler.db import make_engine, session_factory
from crawler.sources import AnySource

logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
spec = json.loads(sys.argv[1])
if spec.get("setup"):  # "module:function" run first (a test's fault injection)
    import importlib
    module, function = spec["setup"].split(":")
    getattr(importlib.import_module(module), function)()
install_reactor()
from twisted.internet import reactor
from twisted.internet.defer import Deferred

engine = make_engine(spec["db_url"])
sessions = session_factory(engine)
adapter = TypeAdapter(list[AnySource])


def plain(value):
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


async def main():
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line.strip():
            break
        cmd = json.loads(line)
        sources = adapter.validate_python(cmd["sources"])
        crawl = CrawlSettings(**cmd.get("crawl", {}))
        report = await collect(sessions, sources, crawl, owner=cmd.get("owner", "test"),
                               settings=cmd.get("settings"))
        out = {
            "seconds": report.seconds,
            "outcomes": [
                {k: plain(v) for k, v in dataclasses.asdict(o).items()}
                for o in report.outcomes
            ],
        }
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


def done(result):
    reactor.stop()
    return result


reactor.callWhenRunning(
    lambda: Deferred.fromFuture(asyncio.ensure_future(main())).addBoth(done)
)
reactor.run()
"""


class Poller:
    """A child process that runs collection passes on demand against one database."""

    def __init__(self, db_url: str, setup: str | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        spec = {"db_url": db_url, "setup": setup}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )

    def poll(
        self,
        sources: list[dict[str, Any]],
        crawl: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        owner: str = "test",
    ) -> dict[str, dict[str, Any]]:
        """Run one pass over ``sources`` (dicts as in sources.yaml); outcomes by source id."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        cmd = {"sources": sources, "crawl": crawl or {}, "settings": settings, "owner": owner}
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"poller died: {self._stderr()}")
        report = json.loads(line)
        self.last_seconds = report["seconds"]
        return {o["source_id"]: o for o in report["outcomes"]}

    def descendants(self) -> list[int]:
        """Process ids of the poller's own child processes (its parser processes)."""
        return child_pids(self.proc.pid)

    def close(self) -> str:
        """Stop the child; returns its stderr."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self._stderr()

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


@pytest.fixture
def poller_factory() -> Iterator[Any]:
    """Start pollers on a database URL; all are stopped at teardown."""
    started: list[Poller] = []

    def start(db_url: str, setup: str | None = None) -> Poller:
        p = Poller(db_url, setup)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A migrated SQLite database: (url, sessionmaker)."""
    from crawler.db import make_engine, session_factory
    from scheduler.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'crawl.db'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, session_factory(engine)
    engine.dispose()


@pytest.fixture
def server() -> Iterator[NewsServer]:
    """A small news server: 4 loopback hosts (127.0.0.2-5), 2 feeds each, 5 items a feed."""
    with NewsServer(hosts=4, feeds_per_host=2, items_per_feed=5) as srv:
        yield srv


def feed(source_id: str, url: str, **extra: Any) -> dict[str, Any]:
    """A ``type: rss`` source definition."""
    return {"id": source_id, "type": "rss", "url": url, **extra}


FAST = {"timeout": "3s", "retries": 0}
WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))


def run_cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``wirewatch`` console script on ``config`` (no database URL from the env)."""
    env = {**os.environ, "COLUMNS": "400", "WIREWATCH_CONFIG": str(config)}
    env.pop("WIREWATCH_DATABASE_URL", None)
    return subprocess.run(
        [WIREWATCH, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )
