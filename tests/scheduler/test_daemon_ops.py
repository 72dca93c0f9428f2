"""README's "How it behaves" and "Operations" promises, against the real daemon.

Each test runs ``wirewatch run`` as a subprocess on a local feed server and webhook and
checks one promise from the outside: what the receivers got, what the feed server was asked,
what stderr says, what the database holds. Hostile operations (disk full, signals mid-work,
config files vanishing) are rows of tests/hostile/test_operations.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from alerts.models import Delivery
from benchmarks.newsserver import Fault, NewsServer
from crawler.models import Article, Source, StoryBand
from tests.alerts.conftest import HttpReceiver
from tests.scheduler.harness import (
    Archive,
    Daemon,
    alerts_with,
    get_text,
    hook,
    http_settings,
    last_tick,
    news,
    replace_unnoticed,
    two_hosts,
    wait_for,
    write_config,
)
from tests.scheduler.test_status import Samples, parse, value

__all__ = ["hook", "news", "two_hosts"]  # fixtures

CHIPS = ("New semiconductor export rules", "The semiconductor export rules tighten. " * 8)
TAIWAN = ("Taiwan opens a trade office", "Taiwan opened a trade office in Warsaw. " * 8)
WATCHLIST = "watchlists/ip.yaml"


def metrics(port: int) -> Samples:
    """The daemon's /metrics, checked against the exposition format."""
    return parse(get_text(f"http://127.0.0.1:{port}/metrics"))[1]


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'wirewatch.db'}"


@contextmanager
def running(
    tmp_path: Path,
    news: NewsServer,
    hook: HttpReceiver,
    match: str,
    *,
    log: str = "{level: INFO}",
    prepare: Callable[[Path], None] | None = None,
) -> Iterator[tuple[Path, Daemon, Archive]]:
    """A daemon on a fresh config (``prepare`` edits it first) and SQLite database, past the
    silent baseline: (config directory, daemon, archive). Killed and closed after."""
    root = tmp_path / "config"
    write_config(root, news, hook, match, log=log)
    if prepare is not None:
        prepare(root)
    db = sqlite_url(tmp_path)
    daemon, archive = Daemon(root, db), Archive(db)
    try:
        wait_for(lambda: archive.baselined(1), 60, "the baseline")
        yield root, daemon, archive
    finally:
        daemon.kill()
        archive.close()


def publish(news: NewsServer, story: tuple[str, str]) -> None:
    news.publish(news.feed_ids()[0], story[0], story[1])


def test_sighup_reloads_before_the_config_watch_could(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    with running(tmp_path, news, hook, "taiwan") as (root, daemon, _):
        watchlist = root / WATCHLIST
        replace_unnoticed(watchlist, watchlist.read_text().replace("match: taiwan", "match: chips"))
        daemon.send(signal.SIGHUP)
        daemon.wait_log("configuration reloaded")
        publish(news, CHIPS)
        wait_for(lambda: alerts_with(hook, CHIPS[0]), 60, "the alert of the new watchlist")
        assert daemon.stop() == 0, daemon.stderr()
    # Logs go to stderr as text: "HH:MM:SS LEVEL logger: message", nothing on stdout.
    assert daemon.stdout() == ""
    for line in daemon.stderr().splitlines():
        assert re.match(r"\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) +[\w.]+: ", line), line


def test_invalid_edit_keeps_the_last_good_config_until_a_valid_one(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    with running(tmp_path, news, hook, "taiwan") as (root, daemon, archive):
        watchlist = root / WATCHLIST
        text = watchlist.read_text()
        line = text.splitlines().index("match: taiwan") + 1
        watchlist.write_text(text.replace("match: taiwan", "match: taiwan AND ("))
        (error,) = daemon.wait_log(r"config not reloaded")
        assert f"{watchlist}:{line}:" in error and "match" in error, error

        publish(news, TAIWAN)  # the last good config still alerts
        wait_for(lambda: alerts_with(hook, TAIWAN[0]), 60, "an alert on the old config")

        watchlist.write_text(text.replace("match: taiwan", "match: chips"))
        daemon.wait_log("configuration reloaded")
        (offer,) = daemon.lines("watchlist 'ip' is")
        assert "wirewatch backtest ip --since 30d" in offer and "--deliver" in offer, offer
        quiet = ("Taiwan signs a trade pact", "Taiwan signed a trade pact with Poland. " * 8)
        publish(news, quiet)
        publish(news, CHIPS)
        wait_for(lambda: alerts_with(hook, CHIPS[0]), 60, "an alert on the new config")
        seen = wait_for(lambda: archive.article(quiet[0]), 30, "the Taiwan-only article")
        assert seen[1] is False, "the replaced watchlist still matched"
        assert alerts_with(hook, quiet[0]) == 0
        assert daemon.stop() == 0, daemon.stderr()


def test_run_once_polls_what_is_due_delivers_and_leaves_no_lease(
    tmp_path: Path, two_hosts: NewsServer, hook: HttpReceiver
) -> None:
    news = two_hosts
    root = tmp_path / "config"
    write_config(root, news, hook, "chips", interval="1h")
    db = sqlite_url(tmp_path)
    archive = Archive(db)
    try:
        first = Daemon(root, db, "--once")
        assert first.wait() == 0, first.stderr()
        assert archive.baselined(2) and hook.requests == []  # the silent baseline

        story = news.publish(news.feed_ids()[0], CHIPS[0], CHIPS[1], CHIPS[1] * 3)
        news.syndicate(story, [news.feed_ids()[1]])
        with archive.sessions.begin() as s:  # make the sources due again
            s.execute(update(Source).values(next_poll_at=None))
        second = Daemon(root, db, "--once")
        assert second.wait() == 0, second.stderr()
        assert alerts_with(hook, CHIPS[0]) == 1, hook.requests
        # One story on two sites: one alert, naming the other source.
        (text,) = [str(payload) for _, payload, _ in hook.requests]
        assert "Also carried by" in text and "feed0" in text and "feed1" in text, text
        assert [d.status for d in archive.deliveries()] == ["sent"]
        assert archive.leases() == []

        asked = news.request_count()
        third = Daemon(root, db, "--once")  # nothing is due for an hour
        assert third.wait() == 0, third.stderr()
        assert news.request_count() == asked
        assert len(hook.requests) == 1 and archive.leases() == []
    finally:
        archive.close()


def test_roles_collector_polls_and_never_sends_dispatcher_sends_and_never_polls(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver, pg_url: str
) -> None:
    root = tmp_path / "config"
    settings, port = http_settings()
    write_config(root, news, hook, "chips", settings=settings)
    archive = Archive(pg_url)
    collector = Daemon(root, pg_url, "--role", "collector")
    try:
        wait_for(lambda: archive.baselined(1), 60, "the collector's baseline")
        publish(news, CHIPS)
        wait_for(archive.deliveries, 60, "the collector's match")
        polls = len(collector.lines(r"poll: "))
        collector.wait_log(r"poll: ", count=polls + 2)  # dispatch_interval is 1 s
        assert hook.requests == [], "the collector sent an alert"
        assert [d.status for d in archive.deliveries()] == ["pending"]
        samples = metrics(port)
        assert value(samples, "wirewatch_polls_total") >= polls + 2
        assert value(samples, "wirewatch_deliveries_sent_total") == 0
        assert value(samples, "wirewatch_deliveries", status="pending") == 1
        assert collector.stop() == 0, collector.stderr()

        news.reset_requests()
        dispatcher = Daemon(root, pg_url, "--role", "dispatcher")
        try:
            wait_for(lambda: alerts_with(hook, CHIPS[0]), 60, "the dispatcher's alert")
            sent = datetime.now(UTC)
            # The poll job would run at start and every 2.5 s (half the 5 s interval).
            wait_for(
                lambda: (last_tick(port) or sent) > sent + timedelta(seconds=6),
                60,
                "three more scheduler ticks",
            )
            assert news.request_count() == 0, news.requests()
            assert [d.status for d in archive.deliveries()] == ["sent"]
            samples = metrics(port)
            assert value(samples, "wirewatch_polls_total") == 0
            assert value(samples, "wirewatch_deliveries_sent_total") == 1
            assert value(samples, "wirewatch_deliveries", status="sent") == 1
            assert value(samples, "wirewatch_sources", state="ok") == 1
            assert dispatcher.stop() == 0, dispatcher.stderr()
        finally:
            dispatcher.kill()
    finally:
        collector.kill()
        archive.close()
    assert len(hook.requests) == 1


DOCUMENTED_FIELDS = {"time", "level", "logger", "message"}


def test_json_logs_every_stderr_line_is_an_object_with_the_documented_fields(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    with running(tmp_path, news, hook, "chips", log="{format: json}") as (root, daemon, _):
        news.set_fault(news.feed_urls()[0], Fault("status", status=500))  # a failing source
        daemon.wait_log("HTTP 500")
        (root / WATCHLIST).write_text("match: (\n")  # an invalid edit, logged with its line
        daemon.wait_log("config not reloaded")
        assert daemon.stop() == 0
    lines = daemon.stderr().splitlines()
    assert len(lines) >= 5
    for line in lines:
        record = json.loads(line)
        assert record.keys() >= DOCUMENTED_FIELDS, line
        datetime.fromisoformat(record["time"])
        assert record["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert daemon.stdout() == ""


class Notifications:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.received: list[str] = []

    def count(self, prefix: str) -> int:
        """Messages received so far that start with ``prefix``."""
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                break
        return sum(m.startswith(prefix) for m in self.received)


def test_systemd_ready_watchdog_reload_and_stopping(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    root = tmp_path / "config"
    write_config(root, news, hook, "chips")
    notes = Notifications(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": str(notes.path), "WATCHDOG_USEC": "1000000"}
    daemon = Daemon(root, sqlite_url(tmp_path), env=env)
    try:
        wait_for(lambda: notes.count("READY=1") == 1, 60, "READY=1")
        wait_for(lambda: notes.count("WATCHDOG=1") >= 3, 60, "watchdog pings every 0.5 s")
        daemon.send(signal.SIGHUP)
        wait_for(lambda: notes.count("RELOADING=1\nMONOTONIC_USEC="), 60, "RELOADING=1")
        wait_for(lambda: notes.count("READY=1") == 2, 60, "READY=1 after the reload")
        daemon.send(signal.SIGTERM)
        wait_for(lambda: notes.count("STOPPING=1"), 60, "STOPPING=1")
        assert daemon.wait() == 0, daemon.stderr()
    finally:
        daemon.kill()
        notes.sock.close()


def test_data_files_are_private_to_the_service_user(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    root = tmp_path / "config"
    write_config(root, news, hook, "chips")
    data = root / "data"  # data_dir: ./data, the default database
    old = os.umask(0o022)
    try:
        daemon = Daemon(root, "")
    finally:
        os.umask(old)
    # Opening the database here would create it: wait for the daemon's files first.
    wait_for(lambda: (data / "wirewatch.db-wal").exists(), 60, "the daemon's database")
    archive = Archive(f"sqlite:///{data / 'wirewatch.db'}")
    try:
        wait_for(lambda: archive.baselined(1), 60, "the baseline")
        files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
        assert {"wirewatch.db", "wirewatch.db-wal", "wirewatch.db-shm", "wirewatch.lock"} <= set(
            files
        ), files
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert files == dict.fromkeys(files, 0o600)
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        archive.close()


def test_a_digest_missed_while_the_daemon_was_down_is_sent_when_it_comes_back(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    def digest_route(root: Path) -> None:
        watchlist = root / WATCHLIST
        digest = "  - channel: hook\n    mode: digest\n    schedule: '0 8 * * *'\n"
        watchlist.write_text(watchlist.read_text().replace("  - channel: hook\n", digest))

    with running(tmp_path, news, hook, "chips", prepare=digest_route) as (root, daemon, archive):
        publish(news, CHIPS)
        (row,) = wait_for(archive.deliveries, 60, "the digest row")
        assert row.mode == "digest" and row.status == "pending"
        assert daemon.stop() == 0, daemon.stderr()
        assert hook.requests == []  # the next 08:00 is still to come

        # As if the daemon had been down since before yesterday's 08:00.
        with archive.sessions.begin() as s:
            s.execute(update(Delivery).values(created_at=datetime.now(UTC) - timedelta(days=2)))
        back = Daemon(root, sqlite_url(tmp_path))
        try:
            wait_for(lambda: alerts_with(hook, CHIPS[0]), 90, "the missed digest")
            # The receiver answers before the daemon records the send: wait for the record.
            wait_for(
                lambda: [d.status for d in archive.deliveries()] == ["sent"], 30, "the sent row"
            )
            assert back.stop() == 0, back.stderr()
        finally:
            back.kill()


def test_run_once_keeps_the_archive_as_the_daemon_does(
    tmp_path: Path, two_hosts: NewsServer, hook: HttpReceiver
) -> None:
    """Run from cron, --once is the only cycle: band keys older than two story windows go,
    the articles stay (kept for ``retention.articles``)."""
    root = tmp_path / "config"
    write_config(root, two_hosts, hook, "chips", interval="1h")
    db = sqlite_url(tmp_path)
    archive = Archive(db)

    def count(model: type) -> int:
        with archive.sessions() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0

    try:
        first = Daemon(root, db, "--once")
        assert first.wait() == 0, first.stderr()
        articles, bands = count(Article), count(StoryBand)
        assert articles and bands
        second = Daemon(root, db, "--once")  # nothing aged yet: every key stays
        assert second.wait() == 0, second.stderr()
        assert (count(Article), count(StoryBand)) == (articles, bands)

        with archive.sessions.begin() as s:
            s.execute(update(Article).values(fetched_at=datetime.now(UTC) - timedelta(days=60)))
        third = Daemon(root, db, "--once")
        assert third.wait() == 0, third.stderr()
        assert (count(Article), count(StoryBand)) == (articles, 0)
        assert f"removed 0 old articles, {bands} old band keys" in third.stderr()
    finally:
        archive.close()
