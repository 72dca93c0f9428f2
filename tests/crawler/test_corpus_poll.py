"""The whole feed corpus through ``wirewatch poll``: every entry stored or accounted for.

Every file of ``corpus/feeds`` is served by a loopback server (with the Content-Type its
feedparser test header names, else one that fits its extension) and configured as a
source. The real CLI polls them all once, as a subprocess, with a generated config. Then:

- for every source that was read, found = stored + skipped (by reason), as recorded on
  the source row and shown by ``wirewatch sources``;
- every entry plain feedparser sees with its own guid is stored under that guid, or the
  source counted at least as many skipped entries as guids are missing, or the source's
  failure says why (shown in the poll report and ``wirewatch sources``).

The counts are printed (``pytest -s`` or ``-rA`` shows them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import feedparser
from sqlalchemy import select

from benchmarks.newsserver import NewsServer, headers_from_comment
from crawler.db import make_engine, session_factory
from crawler.models import Article, Source
from tests.crawler.conftest import run_cli

_TYPES = {
    ".json": "application/json",
    ".html": "text/html",
    ".gz": "application/x-gzip",
    ".md": "text/markdown",
    ".tsv": "text/tab-separated-values",
}


@dataclass(frozen=True)
class Served:
    """One corpus file as a source."""

    source_id: str
    path: Path
    url: str
    kind: str


def _headers(path: Path, body: bytes) -> dict[str, str]:
    headers = headers_from_comment(body) if path.suffix in (".xml", ".rss", ".atom") else {}
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = _TYPES.get(path.suffix, "application/xml")
    return headers


def _oracle_guids(path: Path, body: bytes) -> set[str]:
    """The guids plain feedparser finds in ``body`` (ids as written, stripped)."""
    parsed = feedparser.parse(body, response_headers=_headers(path, body))
    ids = (e.get("id") for e in parsed.entries)
    return {i.strip() for i in ids if isinstance(i, str) and i.strip()}


def test_every_corpus_entry_is_stored_or_accounted_for(corpus_dir: Path, tmp_path: Path) -> None:
    feeds = corpus_dir / "feeds"
    files = sorted(p for p in feeds.rglob("*") if p.is_file())
    assert len(files) > 500, "the feed corpus looks incomplete"
    db = tmp_path / "corpus.db"
    config = tmp_path / "config"
    (config / "watchlists").mkdir(parents=True)
    (config / "wirewatch.yaml").write_text(
        f"database_url: sqlite:///{db}\n"
        "crawl:\n  timeout: 20s\n  retries: 0\n  per_host: 16\n  concurrency: 32\n",
        encoding="utf-8",
    )
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as server:
        served: list[Served] = []
        for n, path in enumerate(files):
            body = path.read_bytes()
            route = "/corpus/" + "/".join(path.relative_to(feeds).parts)
            url = server.add_static(route, body, _headers(path, body))
            kind = "sitemap" if "sitemap" in path.name else "rss"
            served.append(Served(f"c{n:04d}", path, url, kind))
        (config / "sources.yaml").write_text(
            "sources:\n"
            + "".join(
                f"  - {{id: {s.source_id}, type: {s.kind}, url: '{s.url}', interval: 1h}}\n"
                for s in served
            ),
            encoding="utf-8",
        )
        poll = run_cli(config, "poll", timeout=900)
    assert poll.returncode == 0, poll.stderr[-3000:]
    assert "Traceback" not in poll.stderr
    health = run_cli(config, "sources")
    assert health.returncode == 0, health.stderr[-3000:]
    shown = {line.split()[1]: line for line in health.stdout.splitlines() if "│ c" in line[:4]}

    engine = make_engine(f"sqlite:///{db}")
    sessions = session_factory(engine)
    with sessions() as s:
        rows = {r.id: r for r in s.scalars(select(Source))}
        stored: dict[str, set[str]] = {}
        for source_id, guid in s.execute(select(Article.source_id, Article.guid)):
            if guid is not None:
                stored.setdefault(source_id, set()).add(guid)
    engine.dispose()

    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    problems: list[str] = []
    for item in served:
        row = rows[item.source_id]
        name = str(item.path.relative_to(feeds))
        oracle = (
            set() if item.kind == "sitemap" else _oracle_guids(item.path, item.path.read_bytes())
        )
        totals["oracle guids"] += len(oracle)
        if row.last_poll_found is None:  # the poll failed: its reason is the source's error
            assert row.last_error, f"{name}: neither read nor failed with a reason"
            assert row.last_error[:40] in shown[item.source_id] or not row.consecutive_failures
            failures[row.last_error.split(":")[0][:60]] += 1
            totals["oracle guids in failed sources"] += len(oracle)
            continue
        skipped = row.last_poll_skipped or {}
        totals["sources read"] += 1
        totals["found"] += row.last_poll_found
        totals["stored"] += row.last_poll_new or 0
        reasons.update(skipped)
        if row.last_poll_found != (row.last_poll_new or 0) + sum(skipped.values()):
            problems.append(f"{name}: found {row.last_poll_found} != stored + skipped {skipped}")
        if row.last_poll_found and f"{row.last_poll_found} found" not in shown[item.source_id]:
            problems.append(f"{name}: `wirewatch sources` does not show the last poll")
        missing = oracle - stored.get(item.source_id, set())
        totals["oracle guids stored"] += len(oracle) - len(missing)
        totals["oracle guids skipped with a reason"] += len(missing)
        # An entry with its own guid can only be missing as a duplicate or a failed store.
        explained = sum(n for why, n in skipped.items() if why != "no link and no guid")
        if len(missing) > explained:
            problems.append(f"{name}: {len(missing)} guid(s) gone without a reason: {missing}")

    print(f"\ncorpus poll: {len(served)} files, {len(served) - totals['sources read']} failed")
    for key, value in totals.items():
        print(f"  {key}: {value}")
    for why, count in reasons.most_common():
        print(f"  skipped: {count} {why}")
    for why, count in failures.most_common():
        print(f"  failed sources: {count} {why}")
    assert not problems, "\n".join(problems[:20])
    assert totals["found"] == totals["stored"] + sum(reasons.values())
    assert totals["stored"] > 1000 and totals["sources read"] > 400
    assert "found" in poll.stdout and "already seen" in poll.stdout
