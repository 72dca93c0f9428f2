"""The thread-pool baseline of the poll benchmarks: urllib + feedparser, 16 threads.

It stores nothing: each feed is fetched and parsed, and on a later pass the ETag /
Last-Modified it got are sent back, like wirewatch does. Imports only the standard library
and feedparser, so as a process (``python -m benchmarks.threadpool URLS_FILE VALIDATORS_FILE``)
its start-up is that of a small script.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import feedparser

Validators = dict[str, tuple[str | None, str | None]]
_TIMEOUT = 30.0
THREADS = 16


@dataclass
class PoolPass:
    """One pass of the thread-pool baseline: wall seconds and HTTP statuses by count."""

    seconds: float
    statuses: Counter[int]
    entries: int


def _fetch(url: str, validators: Validators | None) -> tuple[int, int]:
    """Fetch and parse one feed; (status, entries). Records new validators in ``validators``."""
    request = urllib.request.Request(url)
    etag, modified = (validators or {}).get(url, (None, None))
    if etag:
        request.add_header("If-None-Match", etag)
    if modified:
        request.add_header("If-Modified-Since", modified)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            entries = len(feedparser.parse(response.read()).entries)
            if validators is not None:
                validators[url] = (response.headers["ETag"], response.headers["Last-Modified"])
            return response.status, entries
    except urllib.error.HTTPError as exc:
        if exc.code != 304:
            raise
        return 304, 0


def pooled_poll(
    urls: Sequence[str], validators: Validators | None = None, threads: int = THREADS
) -> PoolPass:
    """Fetch every URL with urllib and parse it with feedparser, ``threads`` at a time.

    With ``validators`` (URL → (ETag, Last-Modified)) it sends them as If-None-Match /
    If-Modified-Since, accepts a 304 as "unchanged", and records the new validators in it.
    """
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda u: _fetch(u, validators), urls))
    seconds = time.perf_counter() - started
    return PoolPass(seconds, Counter(s for s, _ in results), sum(n for _, n in results))


def main(urls_file: str, validators_file: str) -> int:
    """One pooled pass over the URLs in a JSON file; validators kept in another (exit 1 if
    any feed went unanswered)."""
    urls = json.loads(Path(urls_file).read_text(encoding="utf-8"))
    path = Path(validators_file)
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    validators: Validators = {u: (v[0], v[1]) for u, v in saved.items()}
    done = pooled_poll(urls, validators)
    path.write_text(json.dumps(validators), encoding="utf-8")
    return 0 if sum(done.statuses.values()) == len(urls) else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m benchmarks.threadpool URLS_FILE VALIDATORS_FILE")
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
