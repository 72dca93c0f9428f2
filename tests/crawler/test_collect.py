"""Real collection passes (Scrapy in a child process) against the local news server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from sqlalchemy import func, select

from benchmarks.newsserver import Fault, NewsServer
from crawler.models import Article, Source, Story, utcnow
from tests.crawler.conftest import FAST, feed


def _articles(sessions: Any, source_id: str) -> list[Article]:
    with sessions() as s:
        return list(s.scalars(select(Article).where(Article.source_id == source_id)))


def _source(sessions: Any, source_id: str) -> Source:
    with sessions() as s:
        row = s.get(Source, source_id)
        assert row is not None
        return row


def test_baseline_then_new_items_then_not_modified(
    db: Any, db_url: str, server: NewsServer, poller_factory: Any
) -> None:
    _, sessions = db
    url = server.feed_urls()[0]
    sources = [feed("one", url, interval="10m")]
    poller = poller_factory(db_url)

    first = poller.poll(sources, FAST)["one"]
    assert first["status"] == "ok" and first["baseline"] is True
    assert first["new"] == 5 and first["found"] == 5
    stored = _articles(sessions, "one")
    assert len(stored) == 5
    assert all(a.baseline and a.matched_at is not None for a in stored)
    assert all(a.story_id is not None for a in stored)
    row = _source(sessions, "one")
    assert row.baseline_done and row.state == "ok" and row.etag
    assert row.next_poll_at is not None
    assert abs((row.next_poll_at - utcnow()) - timedelta(minutes=10)) < timedelta(seconds=30)

    # Unchanged feed: validators go out, a 304 comes back, nothing is parsed.
    server.reset_requests()
    second = poller.poll(sources, FAST)["one"]
    assert second["status"] == "not_modified" and second["http_status"] == 304
    assert second["found"] == 0 and second["new"] == 0
    (request,) = server.requests(url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["if-none-match"] == row.etag
    assert "if-modified-since" in headers
    assert "wirewatch" in headers["user-agent"]

    # A new item: stored once, not baseline, so the matcher will see it.
    item = server.publish(server.feed_ids()[0], "Patent office announces new fee schedule")
    third = poller.poll(sources, FAST)["one"]
    assert third["status"] == "ok" and third["baseline"] is False
    assert third["new"] == 1 and third["duplicates"] == third["found"] - 1
    (new,) = [a for a in _articles(sessions, "one") if not a.baseline]
    assert new.title == item.title and new.matched_at is None
    assert third["new_ids"] == [new.id]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Story)) == 6


def test_faults_degrade_only_their_source(sqlite_db: Any, poller_factory: Any) -> None:
    url, sessions = sqlite_db
    with NewsServer(hosts=5, feeds_per_host=2, items_per_feed=3) as srv:
        urls = srv.feed_urls()  # two feeds per host: host i serves urls[2i] and urls[2i+1]
        per_feed = {
            "err500": Fault("status", status=500),
            "timeout": Fault("timeout", duration=15),
            "garbage": Fault("garbage", size=20_000),
            "bomb": Fault("gzip_bomb", size=1 << 30),
        }
        sources = []
        for (sid, fault), feed_url in zip(per_feed.items(), urls, strict=False):
            srv.set_fault(feed_url, fault)
            sources.append(feed(sid, feed_url))
        srv.set_fault(2, Fault("redirect_loop"))  # every path on host 2 loops
        srv.set_fault(srv.robots_url(3), Fault("robots"))  # host 3 forbids everything
        sources += [feed("loop", urls[4]), feed("robots", urls[6]), feed("healthy", urls[8])]
        outcomes = poller_factory(url).poll(sources, {**FAST, "max_bytes": 1 << 20})

    expected = {
        "err500": "HTTP 500 Internal Server Error",
        "timeout": "timed out after 3s",
        "garbage": "not a feed",
        "bomb": "exceeds max_bytes",
        "loop": "too many redirects",
        "robots": "blocked by robots.txt",
    }
    assert outcomes["healthy"]["status"] == "ok" and outcomes["healthy"]["new"] == 3
    for sid, text in expected.items():
        assert outcomes[sid]["status"] == "failed", (sid, outcomes[sid])
        assert text in outcomes[sid]["error"], (sid, outcomes[sid]["error"])
        row = _source(sessions, sid)
        assert row.state == "degraded" and row.consecutive_failures == 1
        assert row.last_error and text in row.last_error
        assert row.next_poll_at is not None and row.next_poll_at > utcnow()
    assert _source(sessions, "healthy").state == "ok"


def test_retry_after_sets_next_poll(
    sqlite_db: Any, server: NewsServer, poller_factory: Any
) -> None:
    url, sessions = sqlite_db
    u429, u503 = server.feed_urls()[:2]
    server.set_fault(u429, Fault("status", status=429, retry_after=7200))
    server.set_fault(
        u503,
        Fault(
            "status",
            status=503,
            retry_after=format_datetime(datetime.now(UTC) + timedelta(hours=5), usegmt=True),
        ),
    )
    sources = [feed("limited", u429, interval="5m"), feed("unavailable", u503, interval="5m")]
    outcomes = poller_factory(url).poll(sources, FAST)

    assert outcomes["limited"]["http_status"] == 429
    assert outcomes["limited"]["retry_after"] == 7200
    assert "Retry-After 7200s" in outcomes["limited"]["error"]
    assert 5 * 3600 - 60 <= outcomes["unavailable"]["retry_after"] <= 5 * 3600
    # Neither was retried within the pass: the Retry-After decides.
    assert server.request_count(u429) == 1 and server.request_count(u503) == 1
    now = utcnow()
    limited = _source(sessions, "limited").next_poll_at
    unavailable = _source(sessions, "unavailable").next_poll_at
    assert limited is not None and unavailable is not None
    assert timedelta(hours=2) - timedelta(minutes=1) < limited - now <= timedelta(hours=2)
    assert timedelta(hours=5) - timedelta(minutes=2) < unavailable - now <= timedelta(hours=5)


def test_permanent_redirect_updates_stored_url(
    sqlite_db: Any, server: NewsServer, poller_factory: Any
) -> None:
    url, sessions = sqlite_db
    moved, temporary = server.feed_urls()[:2]
    server.set_fault(moved, Fault("redirect", status=301), times=1)
    server.set_fault(temporary, Fault("redirect", status=302))
    sources = [feed("moved", moved), feed("temporary", temporary)]
    poller = poller_factory(url)
    outcomes = poller.poll(sources)
    assert outcomes["moved"]["status"] == "ok" and outcomes["temporary"]["status"] == "ok"
    new_url = moved.replace("/feed/", "/moved/feed/")
    assert outcomes["moved"]["moved_to"] == new_url
    assert _source(sessions, "moved").url == new_url
    assert _source(sessions, "moved").config_url == moved
    assert _source(sessions, "temporary").url == temporary

    # The next pass goes straight to the new address.
    server.reset_requests()
    poller.poll(sources)
    assert server.request_count(moved) == 0 and server.request_count(new_url) == 1


def test_url_variants_are_stored_once(
    sqlite_db: Any, server: NewsServer, poller_factory: Any
) -> None:
    url, sessions = sqlite_db
    base = server.host_urls()[0]
    links = [
        f"{base}/story/42?utm_source=rss&amp;utm_medium=feed",
        f"{base}/story/42#comments",
        f"{base}/story/42",
        f"{base}/story/43?fbclid=abc",
    ]
    items = "".join(
        f"<item><title>Tariff ruling {i}</title><link>{link}</link>"
        f"<guid isPermaLink='false'>g{i}</guid></item>"
        for i, link in enumerate(links)
    )
    body = f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()
    feed_url = server.add_static("/variants.xml", body, {"Content-Type": "application/rss+xml"}, 0)
    outcome = poller_factory(url).poll([feed("variants", feed_url)])["variants"]
    assert outcome["status"] == "ok" and outcome["found"] == 4
    # Tracking parameters are noise; a fragment with its own guid is its own entry.
    assert outcome["new"] == 3 and outcome["duplicates"] == 1
    assert outcome["skipped"] == {"duplicate: same URL": 1}
    stored = sorted(a.canonical_url for a in _articles(sessions, "variants"))
    assert stored == [f"{base}/story/42", f"{base}/story/42#comments", f"{base}/story/43"]


def test_robots_txt_is_kept_across_passes(sqlite_db: Any, poller_factory: Any) -> None:
    url, _ = sqlite_db
    with NewsServer(hosts=3, feeds_per_host=2, items_per_feed=2) as srv:
        urls = srv.feed_urls()
        srv.set_fault(srv.robots_url(2), Fault("status", status=503))  # host 2: server error
        sources = [feed(f"f{i}", u) for i, u in enumerate(urls)]
        poller = poller_factory(url)
        for _ in range(3):
            outcomes = poller.poll(sources, FAST)
            assert all(o["status"] in ("ok", "not_modified") for o in outcomes.values())
        robots = [r for r in srv.requests() if r.path == "/robots.txt"]
        per_host = {h: sum(r.url == srv.robots_url(h) for r in robots) for h in range(3)}
    # Answered robots.txt is fetched once per host for all passes; a 503 is asked again.
    assert per_host == {0: 1, 1: 1, 2: 3}


def test_conditional_get_with_last_modified_only(
    db: Any, db_url: str, server: NewsServer, poller_factory: Any
) -> None:
    """A server with Last-Modified and no ETag: the stored value goes back verbatim."""
    _, sessions = db
    modified = "Wed, 21 Oct 2026 07:28:00 GMT"
    body = (
        "<rss version='2.0'><channel><title>t</title>"
        f"<item><title>Tariff notice</title><link>{server.host_urls()[0]}/lm/1</link></item>"
        "</channel></rss>"
    ).encode()
    url = server.add_static(
        "/lm.xml", body, {"Content-Type": "application/rss+xml", "Last-Modified": modified}
    )
    poller = poller_factory(db_url)
    first = poller.poll([feed("lm", url)], FAST)["lm"]
    assert first["status"] == "ok" and first["new"] == 1
    row = _source(sessions, "lm")
    assert row.etag is None and row.last_modified == modified

    server.reset_requests()
    second = poller.poll([feed("lm", url)], FAST)["lm"]
    assert second["status"] == "not_modified" and second["http_status"] == 304
    (request,) = server.requests(url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["if-modified-since"] == modified
    assert "if-none-match" not in headers
    row = _source(sessions, "lm")
    assert row.last_modified == modified and row.state == "ok"


def test_a_large_feed_is_read_whole_and_stored_items_are_counted(
    db: Any, db_url: str, server: NewsServer, poller_factory: Any
) -> None:
    """1,203 items (three parse batches): all stored, then counted as seen, one new one stored."""
    _, sessions = db
    base = server.host_urls()[0]

    def body(first: int, last: int) -> bytes:
        items = "".join(
            f"<item><title>Notice {n}</title><link>{base}/notice/{n}</link>"
            f"<guid isPermaLink='false'>notice-{n}</guid></item>"
            for n in range(last, first - 1, -1)
        )
        return f"<rss version='2.0'><channel><title>All</title>{items}</channel></rss>".encode()

    headers = {"Content-Type": "application/rss+xml"}
    url = server.add_static("/all.xml", body(1, 1_203), headers)
    poller = poller_factory(db_url)
    first = poller.poll([feed("all", url)], FAST)["all"]
    assert (first["found"], first["new"], first["skipped"]) == (1_203, 1_203, {})
    server.add_static("/all.xml", body(1, 1_204), headers)
    second = poller.poll([feed("all", url)], FAST)["all"]
    assert (second["found"], second["new"]) == (1_204, 1)
    assert second["skipped"] == {"duplicate: same guid": 1_203}
    assert second["duplicates"] == 1_203
    row = _source(sessions, "all")
    assert (row.last_poll_found, row.last_poll_new) == (1_204, 1)
    assert len(_articles(sessions, "all")) == 1_204
