"""The Scrapy item pipeline of a poll pass: stores what the spider yields, counts outcomes.

The pass hands its database and source runs to the pipeline as one :class:`PassTarget` in
the crawler's settings (``WIREWATCH_PASS``), read once in :meth:`StoragePipeline.from_crawler`.
Scrapy deep-copies settings; the target copies as itself, so the pipeline counts into the
very runs the pass reports.
Every entry handed over ends up counted in its source's outcome: stored (``new``) or skipped
with a reason (:func:`crawler.store.skip_reason`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from crawler.items import Entry
from crawler.normalize import OFFICIAL_TAG, EntryBatch, Normalized, normalize
from crawler.reasons import NO_IDENTITY, failed_reason
from crawler.store import BATCH_SIZE, Stored, describe, skip_reason, store_many

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.collectors.base import SourceRun

logger = logging.getLogger(__name__)

PASS_SETTING = "WIREWATCH_PASS"
#: Most items stored in one group (one transaction: ``crawler.store.BATCH_SIZE``).
GROUP_ITEMS = BATCH_SIZE


@dataclass(frozen=True, eq=False)
class PassTarget:
    """Where a poll pass stores: its database and its source runs (source id → run)."""

    sessions: sessionmaker[Session]
    runs: Mapping[str, SourceRun]

    def __deepcopy__(self, memo: dict[int, Any]) -> PassTarget:
        return self  # shared by identity: Scrapy copies its settings


class StoragePipeline:
    """Stores each :class:`EntryBatch` (the new entries of one page) or single :class:`Entry`
    (after an article or redirector fetch); counts the results in its source's outcome.

    One writer task stores in a worker thread, so the reactor keeps downloading meanwhile.
    Batches that queue up while it writes (a busy pass) are stored together, up to
    ``GROUP_ITEMS`` items in one :func:`crawler.store.store_many` call, one transaction: the
    same results as one call each (``store_many`` decides each item in order, the group's
    earlier items included), with fewer commits and one band lookup for the group. A first
    pass of 1,000 generated feeds (20,000 articles) took 78-81 s instead of 100-105 s; its
    peak RSS rose from 223 to 247 MiB (benchmarks/RESULTS.md). A quiet daemon's batches
    rarely queue, so they go alone as before.
    """

    def __init__(
        self, sessions: sessionmaker[Session] | None, runs: Mapping[str, SourceRun]
    ) -> None:
        self.sessions = sessions
        self.runs = runs
        self._queue: deque[_Pending] = deque()
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        """Build the pipeline from the pass's settings (see the module docstring)."""
        target: PassTarget | None = crawler.settings.get(PASS_SETTING)
        if target is None:
            return cls(None, {})
        return cls(target.sessions, target.runs)

    async def process_item(self, item: Any) -> Any:
        """Store an :class:`EntryBatch` or :class:`Entry`; count the results in its outcome."""
        if not isinstance(item, EntryBatch | Entry) or self.sessions is None:
            return item
        run = self.runs.get(item.source_id)
        if run is None:
            return item
        if isinstance(item, Entry):
            normalized = normalize(item, language=run.config.language, tags=run.config.tags)
            if normalized is None:
                run.outcome.skip(NO_IDENTITY)
                return item
            items = [normalized]
        else:
            items = item.items
        try:
            results = await self._store(items, run.baseline, OFFICIAL_TAG in run.config.tags)
        except Exception as exc:  # one bad batch must not lose the rest of the pass
            logger.exception("storing items of %s failed", item.source_id)
            run.outcome.skip(failed_reason(describe(exc)), len(items))
            return item
        outcome = run.outcome
        for result in results:
            reason = skip_reason(result)
            if reason is None:
                outcome.new += 1
                outcome.new_ids.append(result.article_id)  # type: ignore[arg-type]
            else:
                outcome.skip(reason)
        return item

    async def _store(self, items: list[Normalized], baseline: bool, official: bool) -> list[Stored]:
        done: asyncio.Future[list[Stored]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(items, baseline, official, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await done

    async def _write(self) -> None:
        """Store queued batches in order, each group in one worker-thread call."""
        group: list[_Pending] = []
        try:
            while self._queue:
                group = self._take_group()
                live = [p for p in group if not p.done.done()]  # a cancelled waiter: skip
                if not live:
                    continue
                items = [i for p in live for i in p.items]
                try:
                    results = await asyncio.to_thread(
                        store_many,
                        self.sessions,  # type: ignore[arg-type]
                        items,
                        baseline=live[0].baseline,
                        official=live[0].official,
                    )
                except Exception as exc:  # each waiter reports it for its own source
                    for p in live:
                        _settle(p.done, exc=exc)
                    continue
                at = 0
                for p in live:
                    _settle(p.done, results[at : at + len(p.items)])
                    at += len(p.items)
        except BaseException:  # cancelled with the pass: no waiter is left hanging
            for p in [*group, *self._queue]:
                p.done.cancel()
            self._queue.clear()
            raise

    def _take_group(self) -> list[_Pending]:
        """The next queued batches with the same flags, up to ``GROUP_ITEMS`` items (a
        larger batch goes alone)."""
        first = self._queue.popleft()
        group, size = [first], len(first.items)
        while self._queue:
            nxt = self._queue[0]
            same = (nxt.baseline, nxt.official) == (first.baseline, first.official)
            if not same or size + len(nxt.items) > GROUP_ITEMS:
                break
            group.append(self._queue.popleft())
            size += len(nxt.items)
        return group


@dataclass(eq=False)
class _Pending:
    """A batch waiting for the writer, and the future its results go to."""

    items: list[Normalized]
    baseline: bool
    official: bool
    done: asyncio.Future[list[Stored]]


def _settle(
    done: asyncio.Future[list[Stored]],
    results: list[Stored] | None = None,
    exc: BaseException | None = None,
) -> None:
    if done.done():  # its waiter was cancelled meanwhile
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(results or [])
