"""How the crawler fetches: politeness, limits and identity (``crawl:`` in wirewatch.yaml)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from crawler.durations import Duration
from crawler.netpolicy import parse_allowance


def _allowance(entry: str) -> str:
    parse_allowance(entry)
    return entry


DEFAULT_USER_AGENT = "wirewatch/0.1 (+https://github.com/wirewatch/wirewatch; news monitor)"


class CrawlSettings(BaseModel):
    """How politely and how hard the crawler fetches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = Field(default=16, ge=1, le=512)
    per_host: int = Field(default=2, ge=1, le=64)
    delay: Duration = timedelta(0)
    timeout: Duration = timedelta(seconds=30)
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)
    obey_robots: bool = True
    retries: int = Field(default=2, ge=0, le=10)
    max_backoff: Duration = timedelta(hours=6)
    # Hosts and networks a redirect or link may reach although they are not public
    # (see crawler.netpolicy), e.g. ["intranet.example.org", "10.20.0.0/16"].
    allow_private: list[Annotated[str, AfterValidator(_allowance)]] = Field(default_factory=list)
    # Processes that parse feeds beside the one that stores (crawler.parse_pool); None
    # chooses one per core beyond the first, started once parsing backs up; 0 parses in
    # threads of the crawling process.
    parse_workers: int | None = Field(default=None, ge=0, le=32)

    def parse_processes(self) -> int:
        """How many parser processes a crawl uses (``parse_workers``, or this machine's)."""
        if self.parse_workers is not None:
            return self.parse_workers
        from crawler.parse_pool import auto_workers  # off the start-up path of `check`

        return auto_workers()
