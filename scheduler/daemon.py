"""The daemon: one Twisted asyncio reactor, Scrapy crawls and APScheduler jobs on the same loop.

Reloads: the config-watch tick (every 2 s) compares the files' fingerprint; SIGHUP asks at
once. Requests coalesce: one reload runs at a time, off the event loop, and requests that
arrive meanwhile (a SIGHUP storm) make exactly one more run, which reads the files as they
are then. The fingerprint is taken before the files are read, so an edit landing during a
reload is seen by the next tick. A broken config, or a top-level file deleted while running,
is logged and the last good config keeps running; a reload the database fails to record is
retried by the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from crawler.reactor import install_reactor
from scheduler import sdnotify
from scheduler.config import FILES, Config, fingerprint, load_config, watched_files
from scheduler.health import TICK_STALE_AFTER
from scheduler.leases import release_dead_leases
from scheduler.metrics import Counters
from scheduler.outages import OutageWatch, describe
from scheduler.pollreport import NetworkWatch, failures_text
from scheduler.yamlsource import ConfigError

log = logging.getLogger("wirewatch.daemon")
config_log = logging.getLogger("wirewatch.config")
RELOAD_TICK = timedelta(seconds=2)
CONFIG_SYNC_LOCK = 0x77697266  # advisory lock key: config → database sync


class DaemonError(RuntimeError):
    """The daemon cannot start; the message says why."""


class SingleInstanceLock:
    """An exclusive lock file beside a SQLite database: one daemon per database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DaemonError naming the holder."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown pid"
            os.close(fd)
            raise DaemonError(
                f"another wirewatch daemon ({holder}) is already using this SQLite database; "
                "stop it first, or use PostgreSQL to run several"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (the file stays; it is harmless)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def sqlite_lock_path(database_url: str) -> Path | None:
    """The lock file for a SQLite URL, or None for other databases."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).expanduser().resolve().with_suffix(".lock")


class Daemon:
    """Polls due sources, matches, dispatches, runs digests and health checks, hot-reloads."""

    def __init__(self, config: Config, *, once: bool = False, role: str = "all") -> None:
        self.config = config
        self.once = once
        self.role = role
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.exit_code = 0
        self._stopping = False
        self._scheduler: Any = None
        self._engine: Any = None
        self._sessions: Any = None
        self._matcher: Any = None
        self._lock: SingleInstanceLock | None = None
        self._crawl_task: asyncio.Task[Any] | None = None
        self._flow: Any = None
        self._match_soon: asyncio.Future[None] | None = None
        self._dispatcher: Any = None
        self._busy: set[str] = set()
        self.counters = Counters()
        self._network = NetworkWatch()
        self._last_tick: datetime | None = None
        self._status: Any = None
        self.outages = OutageWatch()
        self._reload_wanted = False
        self._reloading: asyncio.Task[None] | None = None

    # ----- lifecycle -------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped (or one cycle with ``once``); returns the process exit code."""
        install_reactor()
        from twisted.internet import reactor

        self._open_database()
        reactor.callWhenRunning(self._start_in_loop)  # type: ignore[attr-defined]
        try:
            self._start_status()
            reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
        finally:
            self._close()
        return self.exit_code

    def _open_database(self) -> None:
        from crawler.db import make_engine, session_factory
        from scheduler.migrate import ensure_schema

        url = self.config.database_url
        lock_path = sqlite_lock_path(url)
        if lock_path is not None:
            self._lock = SingleInstanceLock(lock_path)
            self._lock.acquire()
        self._engine = make_engine(url)
        self.outages.attach(self._engine)
        if ensure_schema(self._engine):
            log.info("created the database schema")
        self._sessions = session_factory(self._engine)
        from alerts.dispatcher import Dispatcher

        self._dispatcher = Dispatcher(self._sessions, self.owner, count=self.counters.inc)
        with self._sessions.begin() as session:
            if n := release_dead_leases(session, socket.gethostname()):
                log.info("released %d leases left by a stopped daemon", n)
        self._apply_config(self.config)

    def _start_status(self) -> None:
        listen = self.config.settings.http.listen
        if listen is None or self.once:
            return
        from twisted.internet import reactor

        from scheduler.http import HttpError, HttpServer

        try:
            self._status = HttpServer(
                listen,
                lambda: self.config,
                self._sessions,
                counters=self.counters,
                tick=lambda: self._last_tick,
                outages=self.outages,
            )
            self._status.bind()
        except HttpError as exc:
            raise DaemonError(str(exc)) from None
        except OSError as exc:
            self._status = None
            raise DaemonError(f"cannot serve the console on {listen}: {exc}") from None
        reactor.callWhenRunning(self._status.start)  # type: ignore[attr-defined]
        reactor.addSystemEventTrigger(  # type: ignore[attr-defined]
            "before", "shutdown", self._status.shutdown_deferred
        )

    def _close(self) -> None:
        if self._status is not None:
            self._status.stop()
        if self._engine is not None:
            self._engine.dispose()
        if self._lock is not None:
            self._lock.release()

    def _start_in_loop(self) -> None:
        loop = asyncio.get_event_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        if self.once:
            self._crawl_task = loop.create_task(self._run_once())
            return
        self._start_scheduler(loop)
        self._last_tick = datetime.now(UTC)
        sdnotify.ready()
        log.info(
            "wirewatch running: %d sources, %d watchlists, %d channels (config %s)",
            sum(s.enabled for s in self.config.sources.sources),
            len(self.config.watchlists),
            len(self.config.channels),
            self.config.directory,
        )

    def stop(self) -> None:
        """Stop scheduling and claiming; let the running crawl and sends finish; stop."""
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping")
        sdnotify.stopping()
        if self._dispatcher is not None:
            self._dispatcher.stop_claiming()
        if self._flow is not None:
            self._flow.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        asyncio.get_event_loop().create_task(self._finish())

    async def _finish(self) -> None:
        from twisted.internet import reactor

        if self._crawl_task is not None and not self._crawl_task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._crawl_task), timeout=60)
            except (TimeoutError, Exception):
                log.warning("the running crawl did not finish in time; its sources will re-poll")
        if self._dispatcher is not None:
            grace = self.config.settings.alerts.stop_grace.total_seconds()
            released, channels = await asyncio.to_thread(self._dispatcher.finish, grace)
            if channels:
                log.warning(
                    "sends on %s did not finish within %.0fs; %d deliveries handed back, "
                    "they will be sent again after the restart",
                    ", ".join(channels),
                    grace,
                    released,
                )
        while self._busy:
            await asyncio.sleep(0.05)
        reactor.stop()  # type: ignore[attr-defined]

    # ----- config ----------------------------------------------------------------------------

    def reload(self) -> None:
        """Reload the config soon (SIGHUP or a change seen by the tick; see the module doc)."""
        self._reload_wanted = True
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_event_loop().create_task(self._reload_runs())

    async def _reload_runs(self) -> None:
        self._busy.add("reload")  # a stop waits for the reload in progress
        try:
            while self._reload_wanted and not self._stopping:
                self._reload_wanted = False
                sdnotify.reloading()
                try:
                    await asyncio.to_thread(self._reload_now)
                finally:
                    sdnotify.ready()
        finally:
            self._busy.discard("reload")

    def _reload_now(self) -> None:
        """Load and apply the config files as they are now; a broken config is reported."""
        directory = self.config.directory
        seen = fingerprint(watched_files(directory))
        deleted = [
            path
            for path in self.config.files.values()
            if path.parent == directory and path.name in FILES and not path.exists()
        ]
        if deleted:
            for path in deleted:
                config_log.error(
                    "config not reloaded: %s: deleted while wirewatch runs; the last good "
                    "configuration keeps running (an empty file configures nothing)",
                    path,
                )
            self.config.fingerprint = seen
            return
        try:
            new = load_config(directory)
        except ConfigError as exc:
            for problem in exc.problems:
                config_log.error("config not reloaded: %s", problem)
            self.config.fingerprint = seen
            return
        new.fingerprint = seen
        try:
            self._apply_config(new)
        except Exception as exc:  # the database: the next tick tries again
            log.error("configuration not applied, will retry: %s", describe(exc))
            return
        config_log.info("configuration reloaded from %s", new.directory)

    async def _check_reload(self) -> None:
        self._last_tick = datetime.now(UTC)  # liveness for /healthz and the systemd watchdog
        if self._reloading is not None and not self._reloading.done():
            return  # the running reload took its fingerprint first: the next tick compares
        if fingerprint(watched_files(self.config.directory)) != self.config.fingerprint:
            self.reload()

    def _apply_config(self, config: Config) -> None:
        from alerts.catchup import note_changes
        from alerts.matcher import Matcher
        from crawler.db import lock_transaction
        from crawler.state import sync_sources

        matcher = Matcher.compile([w for w in config.watchlists if w.enabled])
        with self._sessions.begin() as session:
            # Daemons sharing a PostgreSQL database may start together: one syncs at a time.
            lock_transaction(session, CONFIG_SYNC_LOCK)
            sync_sources(session, config.sources.sources)
            changes = note_changes(session, config.watchlists, datetime.now(UTC))
        self.config, self._matcher = config, matcher
        for name, kind in changes:
            log.warning(
                "watchlist %r is %s: it matches new articles from now on. To see what it would "
                "have caught, run `wirewatch backtest %s --since 30d`; add --deliver to alert "
                "those stories once",
                name,
                kind,
                name,
            )

    # ----- scheduling ------------------------------------------------------------------------

    def _start_scheduler(self, loop: asyncio.AbstractEventLoop) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        sched = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        opts = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
        now = datetime.now(UTC)
        sched.add_job(self._check_reload, "interval", seconds=RELOAD_TICK.seconds, **opts)
        if self.role in ("all", "collector"):
            self._crawl_task = loop.create_task(self._run_flow())
            sched.add_job(self._thread_job("match", self._match), "interval", seconds=5, **opts)
            sched.add_job(self._thread_job("repair", self._repair), "interval", minutes=10, **opts)
        if self.role in ("all", "dispatcher"):
            every = max(1, int(self.config.settings.alerts.dispatch_interval.total_seconds()))
            sched.add_job(
                self._thread_job("dispatch", self._dispatch),
                "interval",
                seconds=every,
                next_run_time=now,
                **opts,
            )
            sched.add_job(self._thread_job("health", self._health), "interval", minutes=5, **opts)
        sched.add_job(self._thread_job("retention", self._retention), "interval", hours=6, **opts)
        ping = sdnotify.watchdog_interval()
        if ping is not None:
            sched.add_job(self._watchdog, "interval", seconds=ping, next_run_time=now, **opts)
        self._scheduler = sched
        sched.start()

    def _thread_job(self, name: str, work: Callable[[], Any]) -> Callable[[], Awaitable[None]]:
        """Run blocking database/network work off the reactor thread, one at a time per name."""

        async def run() -> None:
            try:
                await asyncio.to_thread(work)
            except Exception:
                log.exception("%s job failed; it will run again", name)
            finally:
                self._busy.discard(name)

        async def job() -> None:
            if self._stopping or name in self._busy:
                return
            self._busy.add(name)
            # A scheduler shutdown cancels the job, but the thread runs on: the work keeps
            # its place in _busy until it really ends, and stop() waits for that.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(asyncio.ensure_future(run()))

        return job

    async def _watchdog(self) -> None:
        """Ping systemd from the event loop, and only while the tick job keeps running."""
        tick = self._last_tick
        if tick is not None and datetime.now(UTC) - tick < TICK_STALE_AFTER:
            sdnotify.watchdog()

    def _count_poll(self, report: Any) -> None:
        self.counters.inc("polls", sum(o.status != "skipped" for o in report.outcomes))
        self.counters.inc("items_new", report.new)
        self.counters.inc("items_duplicate", report.duplicates)
        self.counters.inc("poll_failures", len(report.failed))

    # ----- jobs ------------------------------------------------------------------------------

    async def _poll_due(self, limit: int) -> bool:
        """Claim up to ``limit`` due sources, crawl them once, count and log the pass.

        Returns whether anything was polled; a failed crawl raises (its sources re-poll).
        """
        from sqlalchemy import update

        from crawler.models import Source
        from crawler.state import claim_due

        with self._sessions() as session:  # claim_due commits its claim itself
            # One pass runs at a time here, so a lease this daemon still holds was left by a
            # pass that failed before recording (its database turned read-only, say): the
            # sources are due now, not when that lease runs out.
            session.execute(
                update(Source)
                .where(Source.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
            ids = claim_due(session, datetime.now(UTC), self.owner, limit)
        by_id = {s.id: s for s in self.config.sources.sources}
        sources = [by_id[i] for i in ids if i in by_id]
        if not sources:
            return False
        report = await self._collect(sources)
        self._count_poll(report)
        log.info("poll: %s", _summary(report))
        network = self._network.note(report)
        if network:
            log.warning("%s", network)
        return True

    async def _run_flow(self) -> None:
        """Poll sources continuously as they come due (crawler.flow) until stopped."""
        from crawler.flow import Flow

        settings = lambda: self.config.settings  # noqa: E731 - a reload replaces the config
        self._flow = Flow(
            self._sessions,
            lambda: self.config.sources.sources,
            lambda: settings().crawl,
            owner=self.owner,
            on_report=self._flow_report,
            failing_after=lambda: settings().alerts.failure_threshold,
        )
        while not self._stopping:
            try:
                await self._flow.run()
            except Exception:
                log.exception("collection failed; sources in flight will be retried")
                await asyncio.sleep(5)

    def _flow_report(self, report: Any) -> None:
        """Sources recorded together: count and log them, match their new articles now."""
        self._count_poll(report)
        log.info("poll: %s", _summary(report))
        network = self._network.note(report)
        if network:
            log.warning("%s", network)
        if report.new:  # kept referenced until done; the job skips itself if one runs
            self._match_soon = asyncio.ensure_future(self._thread_job("match", self._match)())

    async def _collect(self, sources: list[Any]) -> Any:
        from crawler.collect import collect

        settings = self.config.settings
        return await collect(
            self._sessions,
            sources,
            settings.crawl,
            owner=self.owner,
            failing_after=settings.alerts.failure_threshold,
        )

    def _match(self) -> None:
        from alerts.matching import match_pending

        while not self._stopping:
            with self._sessions() as session:
                n = match_pending(session, self._matcher, self.config)
            self.counters.inc("articles_matched", n)
            if not n:
                return

    def _repair(self) -> None:
        """Merge stories that concurrent collectors may have split (see crawler.dedupe)."""
        from alerts.story_hooks import move_alerts
        from crawler.dedupe import repair_recent

        official = {s.id for s in self.config.sources.sources if "official" in s.tags}
        since = datetime.now(UTC) - timedelta(days=2)
        with self._sessions.begin() as session:
            merged = repair_recent(session, since, official_sources=official, on_merge=move_alerts)
        if merged:
            log.info("merged %d split stories", len(merged))

    def _dispatch(self) -> None:
        """Start a sending lane for each channel with due alerts or digests (alerts.dispatcher)."""
        self._dispatcher.tick(self.config)

    def _health(self) -> None:
        from alerts.admin import check_sources

        check_sources(self._sessions, self.config, datetime.now(UTC))

    def _retention(self) -> None:
        from alerts.story_hooks import alert_owed
        from crawler.dedupe import WINDOW
        from crawler.retention import prune_articles, prune_bands

        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            bands = prune_bands(session, now - 2 * WINDOW)
        keep = self.config.settings.retention.articles
        articles = 0
        if keep is not None:
            with self._sessions.begin() as session:
                articles = prune_articles(session, now - keep, keep=alert_owed)
        if articles or bands:
            log.info("retention: removed %d old articles, %d old band keys", articles, bands)

    async def _run_once(self) -> None:
        """One full cycle: poll every due source, match, deliver (digests included), exit."""
        try:
            await self._poll_due(10_000)
            await asyncio.to_thread(self._match)
            await asyncio.to_thread(self._dispatcher.run_once, self.config)
            await asyncio.to_thread(self._health)
            # Run from cron or a timer, --once is the only cycle: it keeps the archive too.
            await asyncio.to_thread(self._retention)
        except Exception:
            log.exception("cycle failed")
            self.exit_code = 1
        finally:
            self.stop()


def _summary(report: Any) -> str:
    failed = failures_text(report, named=5)
    return (
        f"{len(report.outcomes)} sources in {report.seconds:.1f}s: {report.new} new, "
        f"{report.duplicates} seen before, {len(report.failed)} failed"
        + (f": {failed}" if failed else "")
    )
