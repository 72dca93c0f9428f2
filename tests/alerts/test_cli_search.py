"""``wirewatch articles --search`` end to end: a real poll stores a bilingual feed, the search
lists exactly what ``wirewatch backtest`` of a watchlist with the same ``match`` lists, on
SQLite and PostgreSQL; ``wirewatch db reindex`` fills a search index that lost rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from alerts.search import compile_query
from benchmarks.newsserver import NewsServer
from crawler.db import make_engine
from tests.cli import wirewatch

ITEMS = [
    ("Taiwan and US sign MOU on chips", "The two sides signed a memorandum."),
    ("Mountain resort reopens near Taipei", "Hikers return to the mountain."),
    ("台北市與美方簽署MOU", "雙方簽署專利授權合約，涵蓋半導體。"),
    ("臺北國際書展開幕", "今年的書展在臺北舉行。"),
    ("台中港擴建計畫", "台中市政府今天宣布擴建。"),
    ("专利授权协议签署", "双方签署专利授权合约。"),
    ("Patent licensing pact signed", "Taiwan's ministry signed it with US firms."),
    ("Tell us more about it", "Readers tell us what they think."),
]
QUERIES = {
    "mou": ("MOU", {0, 2}),
    "taipei-trad": ("臺北", {2, 3}),
    "licensing-simp": ("专利授权", {2, 5}),
    "us-exact": ('"=US"', {0, 6}),
    "either": ('"patent licensing" OR 專利授權', {2, 5, 6}),
    "not": ("Taiwan AND NOT MOU", {6}),
}


def _feed(base: str) -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>{base}/a/{i}</link><description>{d}</description>"
        "<pubDate>Mon, 16 Mar 2026 08:00:00 GMT</pubDate></item>"
        for i, (t, d) in enumerate(ITEMS)
    )
    return f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()


def _config(root: Path, db_url: str, feed: str) -> Path:
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text(
        f"database_url: '{db_url}'\ncrawl: {{timeout: 5s, retries: 0}}\n", encoding="utf-8"
    )
    (root / "sources.yaml").write_text(
        f"sources:\n  - {{id: mixed, type: rss, url: '{feed}'}}\n", encoding="utf-8"
    )
    for name, (query, _) in QUERIES.items():
        match = compile_query(query).match.replace("'", "''")
        (root / "watchlists" / f"{name}.yaml").write_text(
            f"name: {name}\nmatch: '{match}'\n", encoding="utf-8"
        )
    return root


def _titles(stdout: str, column: int) -> set[str]:
    """Titles in a rich table's rows (``│``-separated cells)."""
    rows = [line.split("│") for line in stdout.splitlines() if line.startswith("│")]
    return {cells[column].strip() for cells in rows if cells[1].strip()} - {"id", "seen (UTC)"}


@pytest.fixture
def polled(tmp_path: Path, db_url: str) -> tuple[Path, str]:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
        base = srv.host_urls()[0]
        feed = srv.add_static("/mixed.xml", _feed(base), {"Content-Type": "application/rss+xml"})
        root = _config(tmp_path / "config", db_url, feed)
        done = wirewatch(root, "poll")
    assert done.returncode == 0, done.stderr
    assert f"{len(ITEMS)} new" in done.stdout
    return root, db_url


def test_search_lists_what_the_watchlist_matches(polled: tuple[Path, str]) -> None:
    root, _ = polled
    for name, (query, expected) in QUERIES.items():
        found = wirewatch(root, "articles", "--search", query)
        assert found.returncode == 0, found.stderr
        replay = wirewatch(root, "backtest", name, "--since", "3650d")
        assert replay.returncode == 0, replay.stderr
        want = {ITEMS[i][0] for i in expected}
        assert _titles(found.stdout, 4) == want, (query, found.stdout)
        assert _titles(replay.stdout, 3) == want, (name, replay.stdout)


def test_reindex_fills_a_search_index_that_lost_rows_and_bad_queries_are_one_line(
    polled: tuple[Path, str],
) -> None:
    root, db_url = polled
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM article_search"))
    finally:
        engine.dispose()
    assert "no articles match" in wirewatch(root, "articles", "--search", "MOU").stdout
    done = wirewatch(root, "db", "reindex")
    assert done.returncode == 0, done.stderr
    assert f"indexed {len(ITEMS)} article(s) for search" in done.stdout
    found = wirewatch(root, "articles", "--search", "MOU").stdout
    assert _titles(found, 4) == {ITEMS[0][0], ITEMS[2][0]}
    again = wirewatch(root, "db", "reindex", "--all")
    assert f"indexed {len(ITEMS)} article(s) for search" in again.stdout
    bad = wirewatch(root, "articles", "--search", "taiwan mou")
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0
    assert bad.stderr.startswith("error: --search: ") and "(at character 8)" in bad.stderr
