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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from crawler.items import Entry
from crawler.normalize import OFFICIAL_TAG, EntryBatch, normalize
from crawler.reasons import NO_IDENTITY, failed_reason
from crawler.store import describe, skip_reason, store_many

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.collectors.base import SourceRun

logger = logging.getLogger(__name__)

PASS_SETTING = "WIREWATCH_PASS"


@dataclass(frozen=True, eq=False)
class PassTarget:
    """Where a poll pass stores: its database and its source runs (source id → run)."""

    sessions: sessionmaker[Session]
    runs: Mapping[str, SourceRun]

    def __deepcopy__(self, memo: dict[int, Any]) -> PassTarget:
        return self  # shared by identity: Scrapy copies its settings


class StoragePipeline:
    """Stores each :class:`EntryBatch` (the new entries of one page) or single :class:`Entry`
    (after an article or redirector fetch) in one worker-thread call.

    Batches are written one at a time, so the reactor keeps downloading meanwhile.
    """

    def __init__(
        self, sessions: sessionmaker[Session] | None, runs: Mapping[str, SourceRun]
    ) -> None:
        self.sessions = sessions
        self.runs = runs
        self._lock = asyncio.Lock()

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
        async with self._lock:
            try:
                results = await asyncio.to_thread(
                    store_many,
                    self.sessions,
                    items,
                    baseline=run.baseline,
                    official=OFFICIAL_TAG in run.config.tags,
                )
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
