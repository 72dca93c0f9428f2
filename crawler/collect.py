"""One collection pass: a single Scrapy crawl over the given sources, then their poll state.

:func:`collect` runs inside an already running asyncio Twisted reactor (the daemon's, or
the one :func:`run_collect` starts once for the CLI); it never installs or runs a reactor.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.collectors.base import SourceRun
from crawler.crawl_settings import CrawlSettings
from crawler.models import Source, utcnow
from crawler.reactor import install_reactor
from crawler.scrapy_settings import scrapy_settings
from crawler.state import (
    FAILING_AFTER,
    PollOutcome,
    SourceConfig,
    lease,
    record,
    sync_sources,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

ARTICLES_PER_SOURCE = 20
RESOLVES_PER_SOURCE = 50
_LOAD_CHUNK = 500


@dataclass
class PollReport:
    """The outcome of every source of one pass, in the order given."""

    outcomes: list[PollOutcome] = field(default_factory=list)
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    seconds: float = 0.0

    @property
    def new(self) -> int:
        """New articles stored in this pass."""
        return sum(o.new for o in self.outcomes)

    @property
    def duplicates(self) -> int:
        """Items seen again (or copies of stored ones)."""
        return sum(o.duplicates for o in self.outcomes)

    @property
    def skipped(self) -> dict[str, int]:
        """Entries read but not stored in this pass, by reason (duplicates included)."""
        total: dict[str, int] = {}
        for outcome in self.outcomes:
            for reason, count in outcome.skipped.items():
                total[reason] = total.get(reason, 0) + count
        return total

    @property
    def failed(self) -> list[PollOutcome]:
        """Outcomes of the sources whose poll failed."""
        return [o for o in self.outcomes if o.failed]

    @property
    def new_ids(self) -> list[int]:
        """Ids of all articles stored in this pass."""
        return [i for o in self.outcomes for i in o.new_ids]

    def by_source(self) -> dict[str, PollOutcome]:
        """Outcomes keyed by source id."""
        return {o.source_id: o for o in self.outcomes}


async def collect(
    sessions: sessionmaker[Session],
    sources: Sequence[SourceConfig],
    crawl: CrawlSettings,
    *,
    owner: str = "cli",
    settings: dict[str, Any] | None = None,
    failing_after: int = FAILING_AFTER,
    rng: random.Random | None = None,
) -> PollReport:
    """Poll ``sources`` once (ignoring their schedule) and record each one's outcome.

    ``failing_after`` consecutive failures turn a degraded source into a failing one.
    Missing source rows are created from the config. Sources leased by another owner are
    reported as ``skipped``. ``settings`` overrides Scrapy settings. A fresh ``Crawler`` is
    created for every pass; if the pass is cancelled, the crawl is stopped, finished sources
    are recorded and the others released.
    """
    report = PollReport()
    clock = time.monotonic()
    configs = {s.id: s for s in sources}
    runs, skipped = await asyncio.to_thread(_prepare, sessions, list(configs.values()), owner)
    try:
        if runs:
            await _crawl(sessions, runs, crawl, settings or {})
    finally:
        outcomes = {sid: run.outcome for sid, run in runs.items()}
        for sid in skipped:
            outcomes[sid] = PollOutcome(sid, status="skipped", error="leased by another poller")
        for outcome in outcomes.values():
            if outcome.status == "pending":
                outcome.status, outcome.error = "failed", "no response (request dropped)"
        await asyncio.to_thread(record_all, sessions, outcomes, configs, crawl, failing_after, rng)
        report.outcomes = [outcomes[sid] for sid in configs if sid in outcomes]
        report.finished_at = utcnow()
        report.seconds = time.monotonic() - clock
    return report


def _prepare(
    sessions: sessionmaker[Session], sources: list[SourceConfig], owner: str
) -> tuple[dict[str, SourceRun], list[str]]:
    now = utcnow()
    with sessions() as session:
        with session.begin():
            sync_sources(session, sources, disable_missing=False)
        got = lease(session, [s.id for s in sources], now, owner)
        rows = {r.id: r for r in session.scalars(select(Source).where(Source.id.in_(got)))}
    runs = {s.id: new_run(s, rows[s.id]) for s in sources if s.id in rows}
    return runs, [s.id for s in sources if s.id not in rows]


def new_run(config: SourceConfig, row: Source) -> SourceRun:
    """The run of one leased source: its stored URL, validators and baseline state."""
    return SourceRun(
        config=config,
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        baseline=not row.baseline_done,
        article_budget=ARTICLES_PER_SOURCE,
        resolve_budget=RESOLVES_PER_SOURCE,
    )


async def _crawl(
    sessions: sessionmaker[Session],
    runs: dict[str, SourceRun],
    crawl: CrawlSettings,
    overrides: dict[str, Any],
) -> None:
    from scrapy.crawler import AsyncCrawlerRunner

    from crawler.pipelines import PASS_SETTING, PassTarget
    from crawler.spider import PollSpider

    settings = scrapy_settings(crawl, **overrides)
    settings[PASS_SETTING] = PassTarget(sessions, runs)
    runner = AsyncCrawlerRunner(settings)
    try:
        await runner.crawl(PollSpider, runs=runs, sessions=sessions)
    except asyncio.CancelledError:
        await runner.stop()
        for run in runs.values():
            if run.outcome.status == "pending":
                run.outcome.status, run.outcome.error = "skipped", "pass cancelled"
        raise


def record_all(
    sessions: sessionmaker[Session],
    outcomes: dict[str, PollOutcome],
    configs: dict[str, SourceConfig],
    crawl: CrawlSettings,
    failing_after: int,
    rng: random.Random | None = None,
) -> None:
    """Record every outcome of a pass (or of sources finished together) in one transaction.

    The source rows are loaded in a few queries and written in one flush. A source whose
    outcome cannot be recorded is logged and left as it was; if the transaction as a whole
    fails, each source is recorded in its own transaction instead.
    """
    todo = {
        sid: outcome
        for sid, outcome in outcomes.items()
        if not (outcome.status == "skipped" and outcome.error == "leased by another poller")
    }
    if not todo:
        return
    try:
        with sessions() as session, session.begin():
            ids = list(todo)
            # Held here so they stay in the (weak) identity map: record()'s session.get
            # then needs no query.
            rows: list[Source] = []
            for start in range(0, len(ids), _LOAD_CHUNK):
                chunk = ids[start : start + _LOAD_CHUNK]
                rows += session.scalars(select(Source).where(Source.id.in_(chunk)))
            for sid, outcome in todo.items():
                _record_one(session, sid, outcome, configs, crawl, failing_after, rng)
        return
    except Exception:  # e.g. a lost connection: fall back to one transaction per source
        logger.warning("recording the pass in one transaction failed", exc_info=True)
    for sid, outcome in todo.items():
        try:
            with sessions() as session, session.begin():
                _record_one(session, sid, outcome, configs, crawl, failing_after, rng)
        except Exception:  # keep recording the other sources
            logger.exception("recording the poll of %s failed", sid)


def _record_one(
    session: Session,
    sid: str,
    outcome: PollOutcome,
    configs: dict[str, SourceConfig],
    crawl: CrawlSettings,
    failing_after: int,
    rng: random.Random | None,
) -> None:
    """Record one outcome; on error, log it and drop that source's unflushed changes."""
    try:
        record(
            session,
            outcome,
            now=utcnow(),
            interval=configs[sid].interval,
            max_backoff=crawl.max_backoff,
            failing_after=failing_after,
            rng=rng,
        )
    except Exception:  # keep recording the other sources
        logger.exception("recording the poll of %s failed", sid)
        row = session.get(Source, sid)
        if row is not None:
            session.expire(row)


def run_collect(
    sessions: sessionmaker[Session],
    sources: Sequence[SourceConfig],
    crawl: CrawlSettings,
    *,
    owner: str = "cli",
    settings: dict[str, Any] | None = None,
    failing_after: int = FAILING_AFTER,
) -> PollReport:
    """Run :func:`collect` to completion from synchronous code (the CLI).

    A Twisted reactor runs at most once per process, so call this once per process; the
    daemon awaits :func:`collect` in its own reactor instead.
    """
    return run_in_reactor(
        lambda: collect(
            sessions,
            sources,
            crawl,
            owner=owner,
            settings=settings,
            failing_after=failing_after,
        )
    )


def run_in_reactor(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Install the asyncio reactor, run the coroutine ``make()`` in it, stop, return its result.

    For synchronous callers (CLI commands); at most once per process.
    """
    install_reactor()
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    results: list[T] = []
    errors: list[Any] = []

    def finish(_: object) -> None:
        reactor.stop()  # type: ignore[attr-defined]

    def start() -> None:
        d = Deferred.fromFuture(asyncio.ensure_future(make()))
        d.addCallbacks(results.append, errors.append)
        d.addBoth(finish)

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    if errors:
        errors[0].raiseException()
    if not results:
        raise RuntimeError("the reactor stopped before the work finished")
    return results[0]
