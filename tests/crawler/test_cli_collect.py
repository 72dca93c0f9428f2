"""``wirewatch poll``, ``sources`` and ``articles`` end to end (console script, real crawl)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.newsserver import Fault, NewsServer
from tests.crawler.conftest import run_cli as _run


def _config(tmp_path: Path, sources: str) -> Path:
    """A config directory on a fresh SQLite file with ``sources`` (YAML list lines)."""
    root = tmp_path / "config"
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text(
        f"database_url: sqlite:///{tmp_path / 'ww.db'}\ncrawl:\n  timeout: 5s\n  retries: 0\n",
        encoding="utf-8",
    )
    (root / "sources.yaml").write_text("sources:\n" + sources, encoding="utf-8")
    return root


@pytest.fixture
def config(tmp_path: Path) -> object:
    with NewsServer(hosts=2, feeds_per_host=1, items_per_feed=4) as srv:
        good, bad = srv.feed_urls()
        srv.set_fault(bad, Fault("status", status=500))
        root = _config(
            tmp_path,
            f"  - {{id: good, type: rss, url: '{good}', interval: 15m}}\n"
            f"  - {{id: bad, type: rss, url: '{bad}'}}\n"
            f"  - {{id: paused, type: rss, url: '{good}?x=1', enabled: false}}\n",
        )
        yield root, srv


def test_poll_sources_and_articles(config: tuple[Path, NewsServer]) -> None:
    root, srv = config
    done = _run(root, "poll")
    assert done.returncode == 0, done.stderr
    assert "good" in done.stdout and "ok (baseline)" in done.stdout
    assert "HTTP 500 Internal Server Error" in done.stdout
    assert "4 new" in done.stdout and "1 failed" in done.stdout
    assert "Traceback" not in done.stderr

    health = _run(root, "sources")
    assert health.returncode == 0, health.stderr
    lines = {line.split()[1]: line for line in health.stdout.splitlines() if "│" in line[:3]}
    assert "ok" in lines["good"] and "degraded" in lines["bad"]
    assert "HTTP 500" in lines["bad"] and "disabled" in lines["paused"]

    title = srv.items(srv.feed_ids()[0])[0].title
    word = title.split()[-1]
    found = _run(root, "articles", "--search", word.upper(), "--since", "1d")
    assert found.returncode == 0, found.stderr
    assert title in found.stdout
    listed = _run(root, "articles", "--source", "good", "--limit", "2")
    assert listed.stdout.count("http://") == 2
    assert "no articles match" in _run(root, "articles", "--search", "zzzqqq").stdout


def test_poll_named_sources_and_unknown_ids(config: tuple[Path, NewsServer]) -> None:
    root, _ = config
    done = _run(root, "poll", "good")
    assert done.returncode == 0, done.stderr
    assert "good" in done.stdout and "bad" not in done.stdout
    missing = _run(root, "poll", "good", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == ["error: unknown source id(s): nope"]
    assert _run(root, "articles", "--since", "soon").returncode == 1


def test_refused_link_shows_on_the_source(tmp_path: Path) -> None:
    from tests.hostile.test_links import InternalService, listing_page

    internal = InternalService("127.0.0.1")
    html = {"Content-Type": "text/html"}
    try:
        with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
            first = ("Tariff notice", srv.add_static("/n/1.html", b"<p>notice</p>", html))
            page = srv.add_static("/n/", listing_page([first]), html)
            root = tmp_path / "config"
            (root / "watchlists").mkdir(parents=True)
            (root / "wirewatch.yaml").write_text(
                f"database_url: sqlite:///{tmp_path / 'ww.db'}\ncrawl: {{retries: 0}}\n"
            )
            (root / "sources.yaml").write_text(
                "sources:\n"
                f"  - {{id: notices, type: html, url: '{page}', fetch_article: true,\n"
                "      selectors: {list: li}}\n"
            )
            assert _run(root, "poll").returncode == 0  # the baseline fetches no article
            admin = f"http://127.0.0.1:{internal.port}/admin"
            srv.add_static("/n/", listing_page([("Admin", admin), first]), html)
            done = _run(root, "poll")
            health = _run(root, "sources")
    finally:
        internal.close()
    assert done.returncode == 0, done.stderr
    assert f"refused link to {admin}: 127.0.0.1 is a loopback address" in done.stdout
    [line] = [line for line in health.stdout.splitlines() if "notices" in line]
    assert "degraded" in line and f"refused link to {admin}" in line, health.stdout
    assert internal.requests == []


def test_poll_report_sources_and_articles_show_what_happened_to_each_entry(
    tmp_path: Path,
) -> None:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
        base = srv.host_urls()[0]
        items = (
            f"<item><title>經濟部與美國簽署備忘錄，涵蓋專利授權</title><link>{base}/tw/1</link>"
            "<pubDate>Mon, 16 Mar 2026 08:00:00 +0800</pubDate></item>"
            f"<item><title>Taiwan signs patent pact - Reuters</title><link>{base}/gn/1</link>"
            '<source url="https://www.reuters.com">Reuters</source>'
            "<pubDate>Mon, 16 Mar 2026 09:00:00 GMT</pubDate></item>"
            f"<item><title>Undated notice</title><link>{base}/n/1</link></item>"
            f"<item><title>Undated notice</title><link>{base}/n/1?utm_source=rss</link></item>"
            "<item><title>Nothing to identify it</title></item>"
        )
        body = f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()
        url = srv.add_static("/mixed.xml", body, {"Content-Type": "application/rss+xml"})
        root = _config(tmp_path, f"  - {{id: gnews, type: rss, url: '{url}'}}\n")
        done = _run(root, "poll")
    assert done.returncode == 0, done.stderr
    assert "1 no link and no guid" in done.stdout  # the poll report's skipped column
    assert "3 new, 1 already seen, 1 skipped (1 no link and no guid)" in done.stdout

    health = _run(root, "sources")
    (row,) = [line for line in health.stdout.splitlines() if "│ gnews" in line]
    assert "5 found: 3 new, 1 duplicate: same URL, 1 no link and no guid" in row

    listed = _run(root, "articles").stdout
    lines = {line.split("│")[4].strip(): line for line in listed.splitlines() if "│" in line[:3]}
    assert "經濟部與美國簽署備忘錄，涵蓋專利授權" in lines  # full-width comma kept
    gnews = lines["Taiwan signs patent pact"]  # " - Reuters" stripped from the title
    assert "Reuters (via gnews)" in gnews and "2026-03-16 09:00" in gnews
    assert "no date (fetched " in lines["Undated notice"]
