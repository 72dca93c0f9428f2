"""Feed discovery: the autodiscovery test suite, and ``wirewatch sources discover`` on loopback."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from benchmarks.newsserver import NewsServer
from crawler.discover import feed_links, identify, robots_sitemaps
from tests.cli import wirewatch

SUITE = Path("feeds") / "w3c-feedvalidator" / "feedfinder-tests"
PAGE_DIR = "/tests/client/autodiscovery/"
ORIGIN = "http://diveintomark.org" + PAGE_DIR
OTHER_SERVER = "www.ragingplatypus.com"  # where the <base href> cases point
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title><id>urn:x:{n}</id>
<updated>2026-03-01T00:00:00Z</updated>
<entry><title>Tariff notice {n}</title><id>urn:x:{n}:1</id><link href="/n/{n}/1"/>
<updated>2026-03-01T00:00:00Z</updated><summary>Notice one.</summary></entry>
<entry><title>Tariff notice {n} (2)</title><id>urn:x:{n}:2</id><link href="/n/{n}/2"/>
<updated>2026-03-02T00:00:00Z</updated><summary>Notice two.</summary></entry>
</feed>"""
HTML = {"Content-Type": "text/html; charset=utf-8"}


def _suite_pages(corpus: Path) -> list[Path]:
    return sorted((corpus / SUITE).glob("html4-0[0-5]*.html"))


def test_autodiscovery_suite(corpus_dir: Path) -> None:
    """Every page of Mark Pilgrim's suite resolves to its own feed and never to a distractor."""
    pages = _suite_pages(corpus_dir)
    assert len(pages) == 57  # 057 is UTF-16 with a byte-order mark
    for page in pages:
        n = page.stem.split("-")[1]
        html = page.read_bytes()
        links = feed_links(html, ORIGIN + page.name)
        assert len(links) == 1, (page.name, links)
        (link,) = links
        assert link.endswith(f"/html4-{n}.xml"), (page.name, link)
        host = urlsplit(link).hostname
        declared_base = re.search(rb"<base\s+href=\"([^\"]+)\"", html, re.IGNORECASE)
        if page.name == "html4-052.html":  # a <base> after the link does not apply to it
            assert link == ORIGIN + "html4-052.xml"
        elif declared_base and OTHER_SERVER.encode() in declared_base.group(1):
            expect_other = b"html4-051" not in page.name.encode()  # 051: absolute href wins
            assert (host == OTHER_SERVER) == expect_other, (page.name, link)


def test_feed_link_types_and_rels() -> None:
    page = """<html><head>
    <link rel="alternate" type="application/rss+xml" href="/rss.xml" title="RSS">
    <link rel="alternate" type="application/feed+json" href="/feed.json">
    <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
    <link rel="stylesheet" type="text/css" href="/s.css">
    <link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    </head><body></body></html>"""
    assert feed_links(page, "https://news.example/a/b.html") == [
        "https://news.example/rss.xml",
        "https://news.example/feed.json",
    ]
    assert feed_links("", "https://news.example/") == []


def test_robots_sitemaps_and_identify() -> None:
    robots = "User-agent: *\nDisallow: /private\nSitemap: /news-sitemap.xml\nsitemap: https://cdn.example/s.xml\n"
    assert robots_sitemaps(robots, "https://news.example/robots.txt") == [
        "https://news.example/news-sitemap.xml",
        "https://cdn.example/s.xml",
    ]
    feed = identify(ATOM.format(title="Notices", n=1).encode(), "https://x/f", None)
    assert feed is not None and (feed.type, feed.title, feed.items) == ("atom", "Notices", 2)
    assert identify(b"<!DOCTYPE html><html><body>hi</body></html>", "https://x/", None) is None
    assert identify(b"Not found", "https://x/", "text/plain") is None


@pytest.fixture
def config(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text(
        f"database_url: sqlite:///{tmp_path / 'ww.db'}\n"
        "crawl:\n  timeout: 5s\n  retries: 0\n  user_agent: wirewatch-test/1 (+discover)\n"
        "  max_bytes: 200000\n",
        encoding="utf-8",
    )
    (root / "sources.yaml").write_text(
        "sources:\n  - {id: notices-html4-002, type: rss, url: 'http://elsewhere.invalid/f'}\n",
        encoding="utf-8",
    )
    return root


def _entries(stdout: str) -> list[dict[str, object]]:
    return yaml.safe_load("\n".join(line[2:] for line in stdout.splitlines()[1:]))


def test_discover_suite_pages_served_from_loopback(config: Path, corpus_dir: Path) -> None:
    """Relative feed links of the suite resolve against the served page, then get fetched."""
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
        for n in ("002", "003", "006", "044"):
            page = (corpus_dir / SUITE / f"html4-{n}.html").read_bytes()
            srv.add_static(f"{PAGE_DIR}html4-{n}.html", page, HTML)
            feed = ATOM.format(title=f"Notices html4-{n}", n=n).encode()
            srv.add_static(
                f"{PAGE_DIR}html4-{n}.xml", feed, {"Content-Type": "application/atom+xml"}
            )
        for n in ("002", "003", "006", "044"):
            url = srv.host_urls()[0] + f"{PAGE_DIR}html4-{n}.html"
            done = wirewatch(config, "sources", "discover", url)
            assert done.returncode == 0, done.stderr
            (feed,) = [
                e
                for e in _entries(done.stdout)
                if str(e["url"]).endswith(".xml") and "html4" in str(e["url"])
            ]
            assert feed["url"] == srv.host_urls()[0] + f"{PAGE_DIR}html4-{n}.xml"
            assert feed["type"] == "atom" and feed["name"] == f"Notices html4-{n}"
            assert f"Notices html4-{n} (atom, 2 items)" in done.stdout
        # the configured id is taken: the new one is made unique
        assert (
            "id: notices-html4-002-2"
            in wirewatch(
                config, "sources", "discover", srv.host_urls()[0] + f"{PAGE_DIR}html4-002.html"
            ).stdout
        )
        agents = {r.headers.get("user-agent") for r in srv.requests()}
        assert agents == {"wirewatch-test/1 (+discover)"}


def test_discover_site_feeds_sitemap_and_paste_ready_entries(config: Path) -> None:
    with NewsServer(hosts=1, feeds_per_host=2, items_per_feed=3) as srv:
        article = srv.article_url(srv.feed_ids()[0])
        done = wirewatch(config, "sources", "discover", article)
        assert done.returncode == 0, done.stderr
        entries = _entries(done.stdout)
        assert [e["type"] for e in entries] == ["rss", "rss", "sitemap"]
        assert {e["url"] for e in entries} == {*srv.feed_urls(), srv.sitemap_urls()[0]}
        assert len({e["id"] for e in entries}) == 3
        assert "(rss, 3 items)" in done.stdout and "(sitemap, 6 items)" in done.stdout
        # pasted under sources:, the entries pass `wirewatch check`
        sources = config / "sources.yaml"
        sources.write_text(sources.read_text() + "\n".join(done.stdout.splitlines()[1:]) + "\n")
        checked = wirewatch(config, "check")
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_discover_falls_back_to_common_paths_and_obeys_robots(config: Path) -> None:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
        srv.add_static(
            "/robots.txt", b"User-agent: *\nDisallow: /rss.xml\n", {"Content-Type": "text/plain"}
        )
        srv.add_static(
            "/", b"<html><head><title>Ministry</title></head><body>News</body></html>", HTML
        )
        feed = ATOM.format(title="Ministry notices", n=9).encode()
        srv.add_static("/feed.xml", feed, {"Content-Type": "application/xml"})
        srv.add_static("/rss.xml", feed, {"Content-Type": "application/xml"})
        done = wirewatch(config, "sources", "discover", srv.host_urls()[0] + "/")
        assert done.returncode == 0, done.stderr
        (entry,) = _entries(done.stdout)
        assert entry["url"] == srv.host_urls()[0] + "/feed.xml"
        assert srv.request_count(srv.host_urls()[0] + "/rss.xml") == 0  # robots.txt said no


def test_discover_reports_nothing_found(config: Path) -> None:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1) as srv:
        srv.add_static("/robots.txt", b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
        srv.add_static("/", b"<html><body>No feeds here</body></html>", HTML)
        big = b"<rss><channel><title>x</title>" + b"<item><title>y</title></item>" * 20_000
        srv.add_static("/feed", big + b"</channel></rss>", {"Content-Type": "application/rss+xml"})
        done = wirewatch(config, "sources", "discover", srv.host_urls()[0] + "/")
        assert done.returncode == 1
        assert "no feed or sitemap found at" in done.stderr and "Traceback" not in done.stderr
        missing = wirewatch(config, "sources", "discover", srv.host_urls()[0] + "/gone.html")
        assert missing.returncode == 1 and "HTTP 404" in missing.stderr
        assert wirewatch(config, "sources", "discover", "ftp://x/").returncode == 1
