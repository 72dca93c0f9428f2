"""``wirewatch poll``, ``sources`` and ``articles`` end to end (console script, real crawl)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.newsserver import Fault, NewsServer
from tests.crawler.conftest import REPO

WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400", "WIREWATCH_CONFIG": str(config)}
    env.pop("WIREWATCH_DATABASE_URL", None)
    return subprocess.run(
        [WIREWATCH, *args], capture_output=True, text=True, timeout=120, cwd=REPO, env=env
    )


@pytest.fixture
def config(tmp_path: Path) -> object:
    with NewsServer(hosts=2, feeds_per_host=1, items_per_feed=4) as srv:
        good, bad = srv.feed_urls()
        srv.set_fault(bad, Fault("status", status=500))
        root = tmp_path / "config"
        (root / "watchlists").mkdir(parents=True)
        (root / "wirewatch.yaml").write_text(
            f"database_url: sqlite:///{tmp_path / 'ww.db'}\ncrawl:\n  timeout: 5s\n  retries: 0\n",
            encoding="utf-8",
        )
        (root / "sources.yaml").write_text(
            "sources:\n"
            f"  - {{id: good, type: rss, url: '{good}', interval: 15m}}\n"
            f"  - {{id: bad, type: rss, url: '{bad}'}}\n"
            f"  - {{id: paused, type: rss, url: '{good}?x=1', enabled: false}}\n",
            encoding="utf-8",
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
