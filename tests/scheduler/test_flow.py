"""Sources flow continuously: a hung source holds one slot, and daemons share from the start.

The slow side is a loopback feed server whose feeds answer only once the test opens its
gate, so every assertion is about order and counts (what was stored, alerted and claimed
while a request was still open), never about how long something took.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.newsserver import NewsServer
from tests.alerts.conftest import HttpReceiver
from tests.scheduler.harness import (
    Archive,
    Daemon,
    alerts_with,
    hook,
    news,
    wait_for,
    write_config,
)

__all__ = ["hook", "news"]  # fixtures

RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>gated {n}</title>'
    "<link>http://example.org/</link><description>d</description>"
    "<item><title>Gated item {n}</title><link>http://example.org/gated/{n}</link>"
    "<guid>gated-{n}</guid></item></channel></rss>"
)


class GatedFeeds:
    """Feeds ``/feed/<n>.rss`` that answer only after :meth:`open`; robots.txt is a 404."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.asked: list[str] = []  # feed paths requested
        self.waiting = 0  # feed requests held at the gate right now
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                match = re.fullmatch(r"/feed/(\d+)\.rss", self.path)
                if match is None:
                    self.send_error(404)
                    return
                with feeds.lock:
                    feeds.asked.append(self.path)
                    feeds.waiting += 1
                feeds.gate.wait(300)
                with feeds.lock:
                    feeds.waiting -= 1
                body = RSS.format(n=match.group(1)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/feed/{n}.rss"

    def open(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gated() -> Iterator[GatedFeeds]:
    feeds = GatedFeeds()
    try:
        yield feeds
    finally:
        feeds.close()


def _with_hung_source(
    tmp_path: Path, news: NewsServer, gated: GatedFeeds, hook: HttpReceiver
) -> tuple[Daemon, Archive]:
    """A daemon polling ``news``'s feed (feed0) and a gated one (feed1), once it asked feed1.

    Requests may wait far longer than any test runs: only the gate ends them.
    """
    root = tmp_path / "config"
    write_config(root, news, hook, "taiwan AND mou", feeds=[*news.feed_urls(), gated.url(1)])
    path = root / "wirewatch.yaml"
    path.write_text(path.read_text().replace("timeout: 20s", "timeout: 1h"))
    db = f"sqlite:///{tmp_path / 'w.db'}"
    daemon = Daemon(root, db)
    archive = Archive(db)
    wait_for(lambda: gated.waiting == 1, 60, "the slow source's request")
    return daemon, archive


def test_a_hung_source_does_not_hold_the_others(
    tmp_path: Path, news: NewsServer, gated: GatedFeeds, hook: HttpReceiver
) -> None:
    daemon, archive = _with_hung_source(tmp_path, news, gated, hook)
    try:
        by_id = lambda: {s.id: s for s in archive.sources()}  # noqa: E731
        wait_for(lambda: by_id().get("feed0") and by_id()["feed0"].baseline_done, 60, "baseline")
        news.publish(news.feed_ids()[0], "Taiwan MOU while one source hangs", "Taiwan MOU. " * 30)
        wait_for(lambda: alerts_with(hook, "while one source hangs"), 60, "the fast alert")

        # The fast source was polled, stored and alerted; the slow one is still in flight:
        # its request is open, it is still leased, and it has never been recorded.
        assert gated.waiting == 1 and gated.asked == ["/feed/1.rss"]
        slow = by_id()["feed1"]
        assert slow.lease_owner is not None and slow.last_polled_at is None
        # The lease outlasts the one try (retries: 0) of its 1 h download timeout.
        assert slow.lease_until > datetime.now(UTC) + timedelta(hours=1)
        assert daemon.lines("maximum number of running instances") == []

        gated.open()
        wait_for(lambda: by_id()["feed1"].baseline_done, 60, "the slow source's baseline")
        slow = by_id()["feed1"]
        assert slow.state == "ok" and slow.lease_owner is None
        assert "Gated item 1" in archive.titles()
    finally:
        gated.open()
        code = daemon.stop()
        leases = archive.leases()
        archive.close()
    assert code == 0, daemon.stderr()
    assert leases == []


@pytest.mark.postgres
def test_two_daemons_share_the_sources_from_their_first_claim(
    tmp_path: Path, pg_url: str, news: NewsServer, gated: GatedFeeds, hook: HttpReceiver
) -> None:
    """Each daemon claims only what it has slots for, so the second one gets work at once."""
    root = tmp_path / "config"
    n = 12
    write_config(root, news, hook, "taiwan", feeds=[gated.url(i) for i in range(n)], interval="1h")
    path = root / "wirewatch.yaml"
    # Two slots per concurrent request: four sources in flight per daemon.
    path.write_text(path.read_text().replace("timeout: 20s", "timeout: 1h, concurrency: 2"))
    daemons = [Daemon(root, pg_url), Daemon(root, pg_url)]
    archive = Archive(pg_url)
    try:
        # Nothing is answered until both daemons hold leases: neither can take all twelve.
        owners = lambda: {s.lease_owner for s in archive.sources() if s.lease_owner}  # noqa: E731
        held = wait_for(lambda: len(owners()) == 2 and owners(), 90, "leases of both daemons")
        leased = [s for s in archive.sources() if s.lease_owner]
        assert len(leased) <= 8  # four slots each
        assert {s.lease_owner for s in leased} == held
        gated.open()
        wait_for(lambda: archive.baselined(n), 120, "the baseline of every source")
    finally:
        gated.open()
        codes = [d.stop() for d in daemons]
        outputs = [d.stderr() for d in daemons]
        archive.close()
    assert codes == [0, 0], outputs
    polled = [sum(int(m) for m in re.findall(r"poll: (\d+) sources", out)) for out in outputs]
    assert all(p > 0 for p in polled), (polled, outputs)
    assert sum(polled) == n, (polled, outputs)  # every source polled once, by one daemon
    assert sorted(gated.asked) == sorted(f"/feed/{i}.rss" for i in range(n))


def test_sigterm_releases_the_sources_in_flight(
    tmp_path: Path, news: NewsServer, gated: GatedFeeds, hook: HttpReceiver
) -> None:
    """A source still unanswered when the stop grace ends is released, not failed."""
    daemon, archive = _with_hung_source(tmp_path, news, gated, hook)
    try:
        assert [s.lease_owner for s in archive.sources() if s.id == "feed1"] != [None]
        daemon.send(signal.SIGTERM)
        code = daemon.wait()
        slow = next(s for s in archive.sources() if s.id == "feed1")
        leases = archive.leases()
    finally:
        gated.open()
        daemon.kill()
        archive.close()
    assert code == 0, daemon.stderr()
    assert leases == []
    assert slow.last_polled_at is None and slow.consecutive_failures == 0
    assert slow.next_poll_at is None  # due again at once


def test_reloaded_crawl_settings_take_over_from_the_next_claims(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    root = tmp_path / "config"
    write_config(root, news, hook, "taiwan")
    path = root / "wirewatch.yaml"
    text = path.read_text()
    path.write_text(text.replace("timeout: 20s", "timeout: 20s, user_agent: agent-one"))
    daemon = Daemon(root, f"sqlite:///{tmp_path / 'w.db'}")
    agents = lambda: [r.headers.get("user-agent") for r in news.requests() if "/feed/" in r.path]  # noqa: E731
    try:
        wait_for(lambda: "agent-one" in agents(), 60, "a poll with the first user agent")
        path.write_text(text.replace("timeout: 20s", "timeout: 20s, user_agent: agent-two"))
        daemon.send(signal.SIGHUP)
        wait_for(lambda: "agent-two" in agents(), 60, "a poll with the reloaded user agent")
        seen = agents()
        # Once the new crawl took over, the old settings are gone.
        assert "agent-one" not in seen[seen.index("agent-two") :]
    finally:
        code = daemon.stop()
    assert code == 0, daemon.stderr()


def test_a_source_past_its_timeout_fails_with_the_reason_and_frees_its_slot(
    tmp_path: Path, news: NewsServer, gated: GatedFeeds, hook: HttpReceiver
) -> None:
    root = tmp_path / "config"
    write_config(root, news, hook, "taiwan", feeds=[gated.url(1), *news.feed_urls()])
    path = root / "wirewatch.yaml"
    # Concurrency 1: at most two sources in flight, the hung one among them.
    path.write_text(path.read_text().replace("timeout: 20s", "timeout: 1s, concurrency: 1"))
    db = f"sqlite:///{tmp_path / 'w.db'}"
    daemon = Daemon(root, db)
    archive = Archive(db)
    try:
        slow = lambda: next((s for s in archive.sources() if s.id == "feed0"), None)  # noqa: E731
        wait_for(lambda: slow() and slow().last_error, 60, "the hung source's failure")
        row = slow()
        assert row.state == "degraded" and row.last_error == "timed out after 1s"
        assert row.lease_owner is None and not row.baseline_done
        # Its slot went back: the source is polled again once due, and asks the gate again.
        wait_for(lambda: len(gated.asked) >= 2, 60, "the next poll of the hung source")
    finally:
        gated.open()
        code = daemon.stop()
        archive.close()
    assert code == 0, daemon.stderr()
