"""The real daemon against a ReDoS article and against hostile links.

``wirewatch run`` as a subprocess, local feed servers, a webhook receiver: a regex term that
backtracks catastrophically in Python's ``re`` must not stall polling, /healthz or SIGTERM,
nor may an edit nesting 200 parentheses do more than log one error with its place; a feed
that redirects to another loopback port and a listing that links there must not make the
crawler fetch that "internal service", and the refusal must show on the source.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from subprocess import Popen

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.faults import Fault
from benchmarks.newsserver import NewsServer
from crawler.db import make_engine, session_factory
from crawler.models import Article, Source
from tests.alerts.conftest import HttpReceiver, free_port, wait_for
from tests.alerts.conftest import start_daemon as start
from tests.hostile.test_links import InternalService, listing_page
from tests.scheduler.test_cli_check import wirewatch
from tests.scheduler.test_daemon_e2e import alerts_with

REDOS_BODY = "a" * 5000 + "!"
NESTED = "(" * 200 + "taiwan" + ")" * 200


@pytest.fixture
def news() -> Iterator[NewsServer]:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=3, multi="port") as server:
        yield server


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def internal() -> Iterator[InternalService]:
    service = InternalService("127.0.0.1")
    yield service
    service.close()


def write_config(root: Path, sources: str, hook: HttpReceiver, status_port: int) -> None:
    (root / "watchlists").mkdir(parents=True, exist_ok=True)
    (root / "wirewatch.yaml").write_text(
        "data_dir: ./data\n"
        "log: {level: INFO}\n"
        "crawl: {retries: 0, timeout: 5s}\n"
        "alerts: {dispatch_interval: 1s, admin_channel: null}\n"
        f'http: {{listen: "127.0.0.1:{status_port}"}}\n'
    )
    (root / "sources.yaml").write_text("sources:\n" + sources)
    (root / "channels.yaml").write_text(
        f"channels:\n  hook:\n    url: json://127.0.0.1:{hook.port}/hook\n"
    )
    (root / "watchlists" / "watch.yaml").write_text(
        "groups:\n"
        "  evil: [{regex: '(a+)+$'}]\n"
        "  taiwan: [Taiwan]\n"
        "  secret: [INTERNAL SECRET, internal]\n"
        "match: evil OR taiwan OR secret\n"
        "notify:\n  - channel: hook\n"
    )


def source_row(sessions: sessionmaker[Session], source_id: str) -> Source | None:
    """The source's row, or None (also while the daemon has not created the schema yet)."""
    try:
        with sessions() as s:
            return s.get(Source, source_id)
    except OperationalError:
        return None


def healthz(port: int) -> tuple[int, float]:
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
        return response.status, time.monotonic() - started


@contextmanager
def running(tmp_path: Path, root: Path) -> Iterator[tuple[Popen[str], sessionmaker[Session], str]]:
    """The daemon on a fresh SQLite database; killed, its output shown, if the test fails."""
    db = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(db)
    proc = start(root, db)
    try:
        yield proc, session_factory(engine), db
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        print(proc.communicate(timeout=30)[0])
        raise
    finally:
        engine.dispose()


def stop(proc: Popen[str], timeout: float = 30) -> tuple[int, str, float]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out, time.monotonic() - started


def test_redos_article_does_not_stall_the_daemon(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver
) -> None:
    root, port = tmp_path / "config", free_port()
    [feed] = news.feed_urls()
    write_config(
        root, f"  - id: feed0\n    type: rss\n    url: {feed}\n    interval: 5s\n", hook, port
    )
    with running(tmp_path, root) as (proc, sessions, _):

        def polled() -> datetime | None:
            row = source_row(sessions, "feed0")
            return row.last_polled_at if row is not None and row.baseline_done else None

        wait_for(lambda: polled() is not None, 60, "the baseline")
        [feed_id] = news.feed_ids()
        published = time.monotonic()
        news.publish(feed_id, "Pathological input", REDOS_BODY, REDOS_BODY)

        def matched() -> bool:
            with sessions() as s:
                art = s.scalars(select(Article).where(Article.title == "Pathological input"))
                row = art.one_or_none()
                return row is not None and row.matched_at is not None

        wait_for(matched, 60, "the ReDoS article to be matched")
        took = time.monotonic() - published
        status, answered = healthz(port)
        assert status == 200 and answered < 1.0
        # An edit nesting 200 parentheses is refused once, with its place; the last good
        # config keeps running.
        watch = root / "watchlists" / "watch.yaml"
        good = watch.read_text()
        watch.write_text(good.replace("match: evil OR taiwan OR secret", f"match: {NESTED}"))
        time.sleep(5)  # two reload ticks and more
        # Polling, matching and delivery go on: a later story alerts, and polls continue.
        before = polled()
        news.publish(feed_id, "Taiwan signs a patent pact", "Taiwan and partners signed.")
        wait_for(lambda: alerts_with(hook, "patent pact") == 1, 60, "the next alert")
        wait_for(lambda: polled() != before, 30, "another poll")
        assert alerts_with(hook, "Pathological") == 0  # (a+)+$ never matches "a…a!"
        status, answered_again = healthz(port)
        assert status == 200 and answered_again < 1.0
        code, out, stopping = stop(proc)
    assert code == 0, out
    assert "Traceback" not in out and "RecursionError" not in out
    refused = [line for line in out.splitlines() if "config not reloaded" in line]
    assert len(refused) == 1, refused
    assert f"{watch}:5:72: match: expression nested too deeply" in refused[0]
    print(
        f"ReDoS article: published → matched in {took:.1f} s (poll interval 5 s); /healthz "
        f"answered in {answered * 1000:.0f} ms and {answered_again * 1000:.0f} ms; SIGTERM → "
        f"exit 0 in {stopping:.1f} s"
    )


def test_redirect_and_links_to_an_internal_service_are_refused(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver, internal: InternalService
) -> None:
    root, port = tmp_path / "config", free_port()
    secret = f"http://127.0.0.1:{internal.port}/admin/feed.xml"
    moved = news.add_static("/moved/feed.xml", b"", {"Content-Type": "text/html"}, host=0)
    news.set_fault(moved, Fault("redirect", status=302, location=secret))
    own = news.host_urls()[0]
    first = ("Taiwan tariff notice", f"{own}/notices/1.html")
    news.add_static("/notices/1.html", b"<html><body><p>Notice.</p></body></html>", {}, host=0)
    listing = news.add_static(
        "/notices/", listing_page([first]), {"Content-Type": "text/html"}, host=0
    )
    sources = (
        f"  - id: moved\n    type: rss\n    url: {moved}\n    interval: 5s\n"
        f"  - id: notices\n    type: html\n    url: {listing}\n    interval: 5s\n"
        "    fetch_article: true\n    selectors: {list: li}\n"
    )
    write_config(root, sources, hook, port)
    with running(tmp_path, root) as (proc, sessions, db):

        def row(source_id: str) -> Source | None:
            return source_row(sessions, source_id)

        def refused(source_id: str, what: str) -> bool:
            found = row(source_id)
            return found is not None and what in (found.last_error or "")

        wait_for(lambda: refused("moved", "refused redirect"), 60, "the refused redirect")
        wait_for(lambda: (r := row("notices")) is not None and r.baseline_done, 60, "baseline")
        hostile = ("Internal admin page", f"http://127.0.0.1:{internal.port}/admin/")
        news.add_static(
            "/notices/", listing_page([hostile, first]), {"Content-Type": "text/html"}, host=0
        )
        wait_for(lambda: refused("notices", "refused link"), 60, "the refused link")
        moved_row, notices_row = row("moved"), row("notices")
        assert moved_row is not None and notices_row is not None
        time.sleep(6)  # another poll of each: still nothing reaches the internal service
        listed = wirewatch("sources", "--config", str(root), env={"WIREWATCH_DATABASE_URL": db})
        with sessions() as s:
            stored = s.scalars(select(Article).where(Article.url == hostile[1])).one()
        code, out, _ = stop(proc)
    assert code == 0, out
    assert internal.requests == []
    assert alerts_with(hook, "INTERNAL SECRET") == 0
    assert moved_row.last_error == (
        f"refused redirect from {moved} to {secret}: 127.0.0.1 is a loopback address and not "
        "the source's own origin (list it in crawl.allow_private to allow it)"
    )
    assert moved_row.consecutive_failures >= 1 and moved_row.state in ("degraded", "failing")
    assert notices_row.last_error == (
        f"refused link to {hostile[1]}: 127.0.0.1 is a loopback address and not the source's "
        "own origin (list it in crawl.allow_private to allow it)"
    )
    assert "refused redirect from" in listed.stdout, listed.stdout + listed.stderr
    assert f"notices: refused link to {hostile[1]}" in out  # the daemon's log says it too
    # The listing's own item is stored as published, without the refused page's content.
    assert stored.title == "Internal admin page" and "SECRET" not in stored.body
    print(
        "hostile links: redirect and listing link to 127.0.0.1:"
        f"{internal.port} refused, 0 requests reached it: {json.dumps(internal.requests)}"
    )
