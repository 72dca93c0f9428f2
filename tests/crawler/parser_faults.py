"""Jobs for parser processes that misbehave, named so a parser process can import them."""

from __future__ import annotations

import os
import signal
from typing import Any

from crawler.extract import ExtractedArticle, extract_article
from crawler.feed_job import read_for_storage
from crawler.parse import FeedPart


def read_or_die(body: bytes, **kwargs: Any) -> list[FeedPart]:
    """:func:`crawler.feed_job.read_for_storage`, except that a source whose id starts with
    "crash" kills the parser process (as a crash in a C parser would)."""
    if kwargs["source_id"].startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return read_for_storage(body, **kwargs)


def extract_or_die(body: bytes, **kwargs: Any) -> ExtractedArticle | None:
    """:func:`crawler.extract.extract_article`, except that a page whose URL holds "customs"
    kills the parser process."""
    if "customs" in kwargs["url"]:
        os.kill(os.getpid(), signal.SIGKILL)
    return extract_article(body, **kwargs)


def install() -> None:
    """Make feed collectors use :func:`read_or_die` and article pages :func:`extract_or_die`
    (run in a poller process)."""
    import crawler.collectors.feed as feed
    import crawler.spider as spider

    feed.read_for_storage = read_or_die  # type: ignore[assignment]
    spider.extract_article = extract_or_die  # type: ignore[assignment]
