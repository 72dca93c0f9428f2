"""Continuous collection: one long-lived crawl, fed due sources as slots free up.

A :class:`Flow` owns one Scrapy crawl on the running asyncio reactor. Its loop claims due
sources in bounded batches (at most ``crawl.concurrency`` at a time and the free slots,
``slots`` in all) with
:func:`crawler.state.claim_due`, hands each to the crawl as it is claimed, and records each
source as soon as its poll completes (the spider reports completion, see
:mod:`crawler.spider`). A slow source holds one slot, never the others: no pass waits
for its slowest source. Several processes on one PostgreSQL database each claim only what
they have slots for, so they share the due sources from their first claim.

Races and leases: a claim is a lease of ``deadline + LEASE_MARGIN``; each source has a
deadline (its requests are bounded by the download timeout, the deadline is the safety net),
after which it is recorded as failed (or with what it stored) and its slot freed, so the
lease never runs out while its owner still works on it. An expired lease (a killed process)
is reclaimable by anyone. On stop, claiming ends, sources in flight get ``grace`` seconds,
then the crawl stops and unfinished sources are released (due again at once, not failed). When a
reload changes the ``crawl:`` settings, claiming pauses until the sources in flight are done,
and a new crawl with the new settings takes over.
A late response of a source recorded at its deadline is still stored, under the source's
current run in the crawl.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.collect import PollReport, new_run, record_all
from crawler.collectors.base import SourceRun
from crawler.crawl_settings import CrawlSettings
from crawler.models import Source, utcnow
from crawler.scrapy_settings import scrapy_settings
from crawler.sources import SourceConfig
from crawler.state import FAILING_AFTER, PollOutcome, claim_due, release

logger = logging.getLogger(__name__)

SLOTS_PER_REQUEST = 2  # sources in flight per concurrent request: the downloader stays busy
IDLE_TICK = 1.0  # seconds between claims when nothing finishes
# Sources are claimed and recorded in groups of a quarter of the concurrency: one claim and
# one record transaction per group, not per source. The spare slots keep the downloader busy
# meanwhile, and a finished source waits at most about IDLE_TICK for its group.
BATCH_SHARE = 4
RETRY_PAUSE = 5.0  # seconds after a failed step (a database outage)
LEASE_MARGIN = timedelta(minutes=2)
STOP_GRACE = 45.0


def source_deadline(crawl: CrawlSettings) -> float:
    """Seconds one source may take: every try of its index plus follow-ups, twice over."""
    return max(60.0, (crawl.retries + 2) * crawl.timeout.total_seconds() * 2)


class Flow:
    """Claims due sources and polls them continuously until :meth:`stop` (see module doc).

    ``sources`` returns the current configured sources (a reload changes them);
    ``on_report`` gets a :class:`PollReport` for each group of sources recorded together.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sources: Callable[[], Sequence[SourceConfig]],
        crawl: Callable[[], CrawlSettings],
        *,
        owner: str,
        on_report: Callable[[PollReport], Any] | None = None,
        failing_after: Callable[[], int] = lambda: FAILING_AFTER,
        settings: dict[str, Any] | None = None,
        deadline: float | None = None,
        grace: float = STOP_GRACE,
    ) -> None:
        self.sessions = sessions
        self.sources = sources
        self.crawl = crawl
        self.owner = owner
        self.on_report = on_report
        self.failing_after = failing_after
        self.settings = settings or {}
        self.deadline = deadline
        self.grace = grace
        self._stop = asyncio.Event()
        self._queue: asyncio.Queue[SourceRun | None] = asyncio.Queue()
        self._done: dict[str, asyncio.Future[None]] = {}
        self._inflight: dict[asyncio.Task[PollOutcome], tuple[SourceConfig, float]] = {}
        self._runner: Any = None
        self._crawl_settings: CrawlSettings | None = None
        self._unrecorded: list[tuple[PollOutcome, SourceConfig, float]] = []
        self._crawl_task: asyncio.Future[Any] | None = None
        self._progress = asyncio.Event()  # set when a source in flight finishes
        self._recorded_at = 0.0  # time.monotonic() of the last recording
        self._drained_at: float | None = None  # when a claim last found fewer due than asked

    @property
    def slots(self) -> int:
        """How many sources this process polls at once."""
        return self.crawl().concurrency * SLOTS_PER_REQUEST

    def batch(self) -> int:
        """How many sources are claimed, or recorded, together (see ``BATCH_SHARE``)."""
        return max(1, self.crawl().concurrency // BATCH_SHARE)

    def stop(self) -> None:
        """Claim nothing more; :meth:`run` finishes the sources in flight and returns."""
        self._stop.set()

    async def run(self) -> None:
        """Claim and poll until stopped; then finish, or release, what is in flight."""
        self._start_crawl()
        try:
            while not self._stop.is_set():
                try:
                    await self._step()
                except Exception:  # the database, say: the crawl runs on, the next step retries
                    logger.exception("collection failed; retrying")
                    await self._wait(RETRY_PAUSE, sources=False)
            if self._inflight:
                await asyncio.wait(list(self._inflight), timeout=self.grace)
            await self._record(self._finished())
        finally:
            await self._shut_down()

    async def _step(self) -> None:
        """Claim what fits, wait for a source to finish (or a tick), record what finished."""
        if self.crawl() == self._crawl_settings:
            await self._fill()
        elif not self._inflight:  # drained: the next crawl uses the reloaded settings
            await self._end_crawl()
            self._start_crawl()
        await self._wait(IDLE_TICK)
        self._progress.clear()  # a source finishing from here on wakes the next wait
        if self._record_due():
            await self._record(self._finished())
        if self._crawl_task is not None and self._crawl_task.done():
            self._crawl_broke()

    def _record_due(self) -> bool:
        """Whether to record the finished sources now: a full group, nothing else in flight,
        or the last recording is a tick old (a lone source is recorded at once)."""
        done = sum(1 for task in self._inflight if task.done())
        if not done and not self._unrecorded:
            return False
        return (
            done >= self.batch()
            or done == len(self._inflight)
            or time.monotonic() - self._recorded_at >= IDLE_TICK
        )

    # ----- the crawl -------------------------------------------------------------------------

    def _start_crawl(self) -> None:
        from scrapy.crawler import AsyncCrawlerRunner

        from crawler.pipelines import PASS_SETTING, PassTarget
        from crawler.spider import PollSpider

        self._queue = asyncio.Queue()
        self._crawl_settings = self.crawl()
        runs: dict[str, SourceRun] = {}  # filled by the spider as sources arrive
        settings = scrapy_settings(self._crawl_settings, **self.settings)
        settings[PASS_SETTING] = PassTarget(self.sessions, runs)
        self._runner = AsyncCrawlerRunner(settings)
        self._crawl_task = asyncio.ensure_future(
            self._runner.crawl(
                PollSpider,
                runs=runs,
                sessions=self.sessions,
                feed=self._queue,
                on_done=self._on_done,
            )
        )

    def _crawl_broke(self) -> None:
        """The crawl ended by itself (it should not): log why and start a new one."""
        assert self._crawl_task is not None
        exc = None if self._crawl_task.cancelled() else self._crawl_task.exception()
        logger.error("the crawl stopped unexpectedly (%s); starting a new one", exc)
        for future in self._done.values():
            if not future.done():
                future.set_result(None)
        self._start_crawl()

    async def _end_crawl(self) -> None:
        """End the crawl once what it has runs out (nothing is in flight when called)."""
        self._queue.put_nowait(None)
        if self._crawl_task is not None:
            await asyncio.gather(self._crawl_task, return_exceptions=True)

    def _on_done(self, source_id: str) -> None:
        future = self._done.get(source_id)
        if future is not None and not future.done():
            future.set_result(None)

    async def _shut_down(self) -> None:
        """Stop the crawl; sources still in flight are released for the next claim."""
        self._queue.put_nowait(None)
        if self._inflight:
            for task in self._inflight:
                task.cancel()
            await asyncio.wait(list(self._inflight))
            await self._record(self._finished())
        if self._crawl_task is not None and not self._crawl_task.done():
            await self._runner.stop()
        if self._crawl_task is not None:
            await asyncio.gather(self._crawl_task, return_exceptions=True)

    # ----- claiming --------------------------------------------------------------------------

    async def _fill(self) -> None:
        """Claim as many due sources as there are free slots and start them."""
        crawl = self.crawl()
        free = min(self.slots - len(self._inflight), crawl.concurrency)
        if free <= 0:
            return
        if self._inflight and free < self.batch():
            return  # enough in flight: claim a whole group once it is free
        drained = self._drained_at
        if self._inflight and drained is not None and time.monotonic() - drained < IDLE_TICK:
            return  # the last claim found nothing more due: look again next tick
        configs = {s.id: s for s in self.sources() if s.enabled}
        deadline = self.deadline or source_deadline(crawl)
        lease = timedelta(seconds=deadline) + LEASE_MARGIN
        runs = await asyncio.to_thread(self._claim, configs, free, lease)
        self._drained_at = time.monotonic() if len(runs) < free else None
        for run in runs:
            self._start(run, deadline)

    def _claim(
        self, configs: dict[str, SourceConfig], limit: int, lease: timedelta
    ) -> list[SourceRun]:
        busy = [c.id for c, _ in self._inflight.values()] + [c.id for _, c, _ in self._unrecorded]
        with self.sessions() as session:  # claim_due commits its claim itself
            # A lease of ours on a source not in flight was left by a step that failed to
            # record (the database was read-only, say): that source is due now.
            session.execute(
                update(Source)
                .where(Source.lease_owner == self.owner, Source.id.not_in(busy))
                .values(lease_owner=None, lease_until=None)
            )
            ids = claim_due(session, datetime.now(UTC), self.owner, limit, lease)
            unknown = [i for i in ids if i not in configs]
            if unknown:  # claimed between a config change and its sync: not ours to poll
                for sid in unknown:
                    release(session, sid)
                session.commit()
            wanted = [i for i in ids if i in configs]
            rows = {r.id: r for r in session.scalars(select(Source).where(Source.id.in_(wanted)))}
        return [new_run(configs[i], rows[i]) for i in wanted if i in rows]

    def _start(self, run: SourceRun, deadline: float) -> None:
        self._done[run.config.id] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(run)
        task = asyncio.ensure_future(self._poll(run, deadline))
        task.add_done_callback(lambda _: self._progress.set())
        self._inflight[task] = (run.config, time.monotonic())

    async def _poll(self, run: SourceRun, deadline: float) -> PollOutcome:
        """Wait for ``run`` to complete, its deadline, or a stop; return its outcome."""
        sid = run.config.id
        outcome = run.outcome
        try:
            await asyncio.wait_for(asyncio.shield(self._done[sid]), deadline)
        except TimeoutError:
            if outcome.status == "pending":
                outcome.status = "failed"
                outcome.error = f"no complete answer within {deadline:g}s"
            else:
                outcome.warnings.append(f"follow-ups still running after {deadline:g}s")
        except asyncio.CancelledError:
            if outcome.status == "pending":
                outcome.status, outcome.error = "skipped", "stopping"
            return outcome
        finally:
            self._done.pop(sid, None)
        if outcome.status == "pending":
            outcome.status, outcome.error = "failed", "no response (request dropped)"
        return outcome

    async def _wait(self, timeout: float, *, sources: bool = True) -> None:
        """Until a source finishes (with ``sources``), a stop, or ``timeout``.

        One event stands for every source in flight, so a wait costs the same with 500
        sources in flight as with one.
        """
        if sources and self._progress.is_set():
            return
        stop = asyncio.ensure_future(self._stop.wait())
        waits = [stop, asyncio.ensure_future(self._progress.wait())] if sources else [stop]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            for waiter in waits:
                waiter.cancel()

    def _finished(self) -> list[tuple[PollOutcome, SourceConfig, float]]:
        done = [task for task in self._inflight if task.done()]
        return [(task.result(), *self._inflight.pop(task)) for task in done]

    async def _record(self, finished: list[tuple[PollOutcome, SourceConfig, float]]) -> None:
        """Record finished sources together and report them (``seconds``: the longest).

        If recording fails as a whole, the outcomes are kept and recorded by the next step.
        """
        finished, self._unrecorded = self._unrecorded + finished, []
        self._recorded_at = time.monotonic()
        if not finished:
            return
        report = PollReport(outcomes=[o for o, _, _ in finished])
        configs = {c.id: c for _, c, _ in finished}
        outcomes = {o.source_id: o for o, _, _ in finished}
        try:
            await asyncio.to_thread(
                record_all, self.sessions, outcomes, configs, self.crawl(), self.failing_after()
            )
        except Exception:
            self._unrecorded = finished
            raise
        report.finished_at = utcnow()
        report.seconds = time.monotonic() - min(started for _, _, started in finished)
        if self.on_report is not None:
            self.on_report(report)
