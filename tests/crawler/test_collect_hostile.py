"""Hostile and odd real-world feeds, served with their recorded headers, in one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.newsserver import Fault, NewsServer, headers_from_comment
from tests.crawler.conftest import FAST, feed

HOSTILE_DIRS = (
    "kurtmckee-feedparser/tests/illformed",
    "kurtmckee-feedparser/tests/encoding",
    "kurtmckee-feedparser/tests/entities",
    "kurtmckee-feedparser/tests/wellformed/sanitize",
    "kagisearch-fastfeedparser",
    "feedjira-feedjira/spec/sample_feeds",
)


def _corpus_files(corpus_dir: Path) -> list[Path]:
    files: list[Path] = []
    for folder in HOSTILE_DIRS:
        root = corpus_dir / "feeds" / folder
        files += sorted(p for p in root.rglob("*") if p.suffix in (".xml", ".rss", ".atom"))
    return files


def test_hostile_corpus_ingests_without_escaping_errors(
    corpus_dir: Path, sqlite_db: Any, poller_factory: Any
) -> None:
    url, _ = sqlite_db
    files = _corpus_files(corpus_dir)
    assert len(files) > 100
    with NewsServer(hosts=4, feeds_per_host=1, items_per_feed=1) as srv:
        sources = []
        for n, path in enumerate(files):
            body = path.read_bytes()
            headers = headers_from_comment(body)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/xml"
            feed_url = srv.add_static(f"/corpus/{n}.xml", body, headers, host=n % 4)
            sources.append(feed(f"c{n}", feed_url))
        srv.set_fault(srv.add_static("/bomb.xml", b"", {}, host=0), Fault("entity_bomb"))
        sources.append(feed("entity-bomb", srv.host_urls()[0] + "/bomb.xml"))
        poller = poller_factory(url)
        # A local server answers at once; a generous timeout keeps a loaded machine from
        # turning a slow answer into a failure this test would misread.
        outcomes = poller.poll(sources, {**FAST, "timeout": "30s", "per_host": 8})
        stderr = poller.close()

    assert len(outcomes) == len(sources)
    statuses = {o["status"] for o in outcomes.values()}
    assert statuses <= {"ok", "failed"}, statuses
    failed = {sid: o["error"] for sid, o in outcomes.items() if o["status"] == "failed"}
    # The only acceptable failure is a document that is no feed at all, said so clearly.
    assert all(err.startswith("not a feed") for err in failed.values()), failed
    ok = [o for o in outcomes.values() if o["status"] == "ok"]
    assert len(ok) >= 0.8 * len(sources)
    assert sum(o["new"] for o in ok) > 500
    assert "Traceback" not in stderr, stderr[-3000:]
