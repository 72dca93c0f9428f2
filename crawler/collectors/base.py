"""What every collector shares: the per-source run of a pass and the collector interface.

A collector turns one fetched page of a source into entries and follow-up URLs. It is a
small class for one source model (:mod:`crawler.sources`); defining the subclass registers
it in :data:`COLLECTORS` under the model's YAML ``type`` names (a second collector for a
taken name is a TypeError at import). :mod:`crawler.spider` does the fetching, error
handling and bookkeeping for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from scrapy.http import Response

from crawler.errors import CollectError
from crawler.items import Entry
from crawler.middlewares import Fetch
from crawler.normalize import Normalized
from crawler.parse_pool import ParsePool
from crawler.sources import SourceConfig, type_names
from crawler.state import PollOutcome

__all__ = ["COLLECTORS", "CollectError", "Collector", "Page", "SourceRun", "content_type"]


@dataclass
class SourceRun:
    """One source within a pass: its config, stored poll state, budgets and outcome."""

    config: SourceConfig
    url: str
    etag: str | None = None
    last_modified: str | None = None
    baseline: bool = False
    article_budget: int = 20
    resolve_budget: int = 50
    # Which of some guids the source has stored (a read-only lookup the spider provides;
    # collectors may call it from their worker thread to skip parsing stored items).
    known_guids: Callable[[list[str]], set[str]] | None = None
    outcome: PollOutcome = field(init=False)

    def __post_init__(self) -> None:
        self.outcome = PollOutcome(self.config.id, baseline=self.baseline)

    @property
    def tz(self) -> ZoneInfo:
        """The source's zone for dates that carry none."""
        return self.config.tz


@dataclass
class Page:
    """What a collector found on one page.

    ``follow`` lists URLs to fetch next with the same collector (next listing pages, child
    sitemaps). With ``stop_when_known`` they are dropped when every entry was seen before.
    ``skipped`` counts entries the collector read but could not turn into an
    :class:`Entry`, by reason. ``more`` yields further parts of the same page, produced
    lazily in the worker thread (a large feed, a batch of entries at a time).
    """

    entries: list[Entry] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)
    stop_when_known: bool = False
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    more: Iterator[Page] | None = None
    # ``entries`` normalised and prepared for storage by a parser process, else None.
    normalized: list[Normalized | None] | None = None


class Collector:
    """Turns a fetched page of a source into a :class:`Page`; subclass one per source type.

    :meth:`parse` runs in a worker thread: it must not touch the reactor or the database
    (other than through the run's read-only ``known_guids`` lookup).
    """

    #: The source model this collector reads; its ``type`` names are the registry keys.
    source: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        collector = cls()
        for name in type_names(cls.source):
            if name in COLLECTORS:
                taken = type(COLLECTORS[name]).__name__
                raise TypeError(f"source type {name!r} already has a collector ({taken})")
            COLLECTORS[name] = collector

    def parse(self, response: Response, run: SourceRun, fetch: Fetch) -> Page:
        """Parse ``response`` (index or follow-up page); raise CollectError if unusable."""
        raise NotImplementedError

    def pooled(self, response: Response) -> bool:
        """Whether :meth:`parse_with` would hand ``response`` to a parser process."""
        return False

    def parse_with(
        self, pool: ParsePool | None, response: Response, run: SourceRun, fetch: Fetch
    ) -> Page:
        """:meth:`parse`, in one of ``pool``'s parser processes where :meth:`pooled`."""
        return self.parse(response, run, fetch)

    def config(self, run: SourceRun) -> Any:
        """The run's source config, which must be this collector's model."""
        cfg = run.config
        if not isinstance(cfg, self.source):
            raise CollectError(f"source type {cfg.type!r} is not for {type(self).__name__}")
        return cfg


#: Source ``type`` name → its collector; filled by :meth:`Collector.__init_subclass__`.
COLLECTORS: dict[str, Collector] = {}


def content_type(response: Response) -> str | None:
    """The response's Content-Type header as text."""
    value = response.headers.get(b"Content-Type")
    return value.decode("latin-1") if value else None
