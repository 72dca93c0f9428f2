"""Hostile links: redirects and discovered links into loopback, private and link-local networks.

Each row is a way a source can lead the crawler somewhere (a redirect of its feed, a redirect
chain, an article link of a listing, its next page, a child sitemap, an article that
redirects …) and a target address in one of its spellings. A real crawl (the same
``collect`` the daemon runs, in a child process) polls the source; an "internal service"
listens on 127.0.0.1 and [::1] and records every request. A refused row must leave that log
empty and leave the refusal on the source: the poll's error for its own URL's redirects, the
source marked degraded with the error for a follow-up. Rows with ``allowed`` show the
exceptions: the source's own origin, and ``crawl.allow_private``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from benchmarks.faults import Fault
from benchmarks.newsserver import NewsServer
from crawler.models import Source
from tests.crawler.conftest import FAST, Poller

INTERNAL_FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>internal</title>'
    b"<item><title>INTERNAL SECRET</title><link>http://127.0.0.1/secret</link>"
    b"<guid>internal-secret</guid></item></channel></rss>"
)


class InternalService:
    """A loopback HTTP service that must never be reached; records every request."""

    def __init__(self, address: str) -> None:
        self.requests: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.requests.append(f"{self.headers.get('Host')}{self.path}")
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(INTERNAL_FEED)))
                self.end_headers()
                self.wfile.write(INTERNAL_FEED)

            def log_message(self, *args: Any) -> None:
                pass

        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self.server = server_class((address, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Row:
    """How the source leads to ``target`` ({v4}/{v6}: the internal service's ports)."""

    route: str
    target: str
    allowed: bool = False
    crawl: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.route}:{self.target}" + (":allowed" if self.allowed else "")


LOOPBACK = "http://127.0.0.1:{v4}/admin"
TARGETS = [
    LOOPBACK,
    "http://localhost:{v4}/admin",
    "http://2130706433:{v4}/admin",  # decimal
    "http://0177.0.0.1:{v4}/admin",  # octal
    "http://0x7f.0.0.1:{v4}/admin",  # hex
    "http://127.1:{v4}/admin",  # short form
    "http://0.0.0.0:{v4}/admin",
    "http://0:{v4}/admin",
    "http://[::1]:{v6}/admin",
    "http://[::ffff:127.0.0.1]:{v4}/admin",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:{v4}/admin",
    "http://10.0.0.1/admin",
    "http://192.168.1.1:8080/admin",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/admin",
]
ROWS = [
    *(Row("feed-redirect", t) for t in TARGETS),
    Row("feed-redirect-chain", LOOPBACK),
    Row("feed-redirect-chain", "http://10.0.0.1/admin"),
    Row("listing-article-link", LOOPBACK),
    Row("listing-article-link", "http://[::1]:{v6}/admin"),
    Row("listing-article-link", "http://169.254.169.254/latest/meta-data/"),
    Row("listing-next-page", LOOPBACK),
    Row("listing-next-page", "http://2130706433:{v4}/admin"),
    Row("sitemap-child", LOOPBACK),
    Row("sitemap-child", "http://0.0.0.0:{v4}/admin"),
    Row("sitemap-child", "file:///etc/passwd"),
    Row("sitemap-article-link", "http://localhost:{v4}/admin"),
    Row("feed-article-link", "http://[::ffff:127.0.0.1]:{v4}/admin"),
    Row("article-redirect", LOOPBACK),
    # The exceptions: the source's own origin, and what crawl.allow_private lists.
    Row("feed-redirect", "{own}/elsewhere.xml", allowed=True),
    Row("feed-redirect", LOOPBACK, allowed=True, crawl={"allow_private": ["127.0.0.1"]}),
    Row(
        "listing-article-link",
        "http://127.0.0.1:{v4}/allowed",  # a URL no other row stored already
        allowed=True,
        crawl={"allow_private": ["127.0.0.0/8"]},
    ),
    Row("sitemap-child", "http://localhost:{v4}/admin", True, {"allow_private": ["localhost"]}),
]


@pytest.fixture(scope="module")
def services() -> Iterator[dict[str, InternalService]]:
    v4, v6 = InternalService("127.0.0.1"), InternalService("::1")
    yield {"v4": v4, "v6": v6}
    v4.close()
    v6.close()


@pytest.fixture(scope="module")
def news() -> Iterator[NewsServer]:
    with NewsServer(hosts=1, feeds_per_host=1, items_per_feed=1, multi="port") as server:
        yield server


@pytest.fixture(scope="module")
def crawl_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    from crawler.db import make_engine, session_factory
    from scheduler.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('links') / 'links.db'}"
    engine = make_engine(url)
    upgrade(engine)
    yield url, session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def poller(crawl_db: tuple[str, Any]) -> Iterator[Poller]:
    p = Poller(crawl_db[0])
    yield p
    p.close()


def rss_feed(items: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid></item>"
        for title, link in items
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{body}</channel></rss>".encode()


def listing_page(items: list[tuple[str, str]], next_page: str | None = None) -> bytes:
    lis = "".join(f'<li><a href="{link}">{title}</a></li>' for title, link in items)
    more = f'<a class="next" href="{next_page}">next</a>' if next_page else ""
    return f"<html><body><ul>{lis}</ul>{more}</body></html>".encode()


def _sitemap(urls: list[str], index: bool = False) -> bytes:
    tag = "sitemap" if index else "url"
    root = "sitemapindex" if index else "urlset"
    body = "".join(f"<{tag}><loc>{u}</loc></{tag}>" for u in urls)
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<?xml version="1.0"?><{root} xmlns="{ns}">{body}</{root}>'.encode()


XML = {"Content-Type": "application/xml"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


class Scenario:
    """Builds one row's source on the news server: its config and the passes to poll."""

    def __init__(self, news: NewsServer, n: int, target: str) -> None:
        self.news, self.n, self.target = news, n, target
        self.base = f"/row{n}"
        self.own = news.host_urls()[0]

    def url(self, path: str) -> str:
        return f"{self.own}{self.base}{path}"

    def serve(self, path: str, body: bytes, headers: dict[str, str]) -> str:
        return self.news.add_static(f"{self.base}{path}", body, headers, host=0)

    def redirect(self, path: str, location: str) -> str:
        url = self.serve(path, b"", HTML)
        self.news.set_fault(url, Fault("redirect", status=302, location=location))
        return url

    def build(self, route: str) -> tuple[dict[str, Any], list[Any]]:
        """The source definition, and per pass a callable preparing it (or None)."""
        sid, first = f"row{self.n}", (f"item {self.n}", self.url("/a.html"))
        self.serve("/a.html", b"<html><body><p>article</p></body></html>", HTML)
        if route == "feed-redirect":
            feed = self.redirect("/feed.xml", self.target)
            return {"id": sid, "type": "rss", "url": feed}, [None]
        if route == "feed-redirect-chain":
            feed = self.redirect("/feed.xml", self.url("/hop1"))
            self.redirect("/hop1", self.url("/hop2"))
            self.redirect("/hop2", self.target)
            return {"id": sid, "type": "rss", "url": feed}, [None]
        if route in ("feed-article-link", "article-redirect"):
            link = self.target
            if route == "article-redirect":
                link = self.redirect("/moved.html", self.target)
            feed = self.serve("/feed.xml", rss_feed([first]), XML)
            later = rss_feed([first, ("new item", link)])
            source = {"id": sid, "type": "rss", "url": feed, "fetch_article": True}
            return source, [None, lambda: self.serve("/feed.xml", later, XML)]
        if route == "listing-article-link":
            page = self.serve("/list.html", listing_page([first]), HTML)
            later = listing_page([first, ("new item", self.target)])
            source = {
                "id": sid,
                "type": "html",
                "url": page,
                "fetch_article": True,
                "selectors": {"list": "li"},
            }
            return source, [None, lambda: self.serve("/list.html", later, HTML)]
        if route == "listing-next-page":
            page = self.serve("/list.html", listing_page([first], next_page=self.target), HTML)
            source = {
                "id": sid,
                "type": "html",
                "url": page,
                "max_pages": 3,
                "selectors": {"list": "li", "next_page": "a.next"},
            }
            return source, [None]
        if route == "sitemap-child":
            index = self.serve("/sitemap.xml", _sitemap([self.target], index=True), XML)
            return {"id": sid, "type": "sitemap", "url": index}, [None]
        if route == "sitemap-article-link":
            smap = self.serve("/sitemap.xml", _sitemap([first[1]]), XML)
            later = _sitemap([first[1], self.target])
            source = {"id": sid, "type": "sitemap", "url": smap, "fetch_article": True}
            return source, [None, lambda: self.serve("/sitemap.xml", later, XML)]
        raise AssertionError(route)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_link(
    row: Row,
    services: dict[str, InternalService],
    news: NewsServer,
    poller: Poller,
    crawl_db: tuple[str, Any],
) -> None:
    n = ROWS.index(row)
    own = news.host_urls()[0] + f"/row{n}"
    target = row.target.format(v4=services["v4"].port, v6=services["v6"].port, own=own)
    scenario = Scenario(news, n, target)
    source, passes = scenario.build(row.route)
    if target.startswith(own):
        news.add_static(target.removeprefix(news.host_urls()[0]), rss_feed([]), XML, host=0)
    before = {k: len(s.requests) for k, s in services.items()}
    outcome: dict[str, Any] = {}
    for prepare in passes:
        if prepare is not None:
            prepare()
        outcome = poller.poll([source], {**FAST, **row.crawl})[source["id"]]
    reached = {k: s.requests[before[k] :] for k, s in services.items()}
    _, sessions = crawl_db
    with sessions() as s:
        stored = s.scalars(select(Source).where(Source.id == source["id"])).one()
    if row.allowed:
        assert outcome["status"] == "ok", outcome
        assert not outcome["refused"], outcome
        if not target.startswith(own):
            assert sum(len(r) for r in reached.values()) >= 1, "the allowed fetch did not happen"
        return
    assert reached == {"v4": [], "v6": []}, f"the internal service was reached: {reached}"
    if row.route.startswith("feed-redirect"):
        assert outcome["status"] == "failed", outcome
        error = outcome["error"]
        assert stored.state != "ok" and stored.last_error == error
        assert error.startswith("refused redirect from http://"), error
    else:
        assert outcome["status"] == "ok", outcome
        [error] = outcome["refused"]
        assert stored.state == "degraded" and stored.last_error == error
        assert error.startswith(("refused link to", "refused redirect from")), error
    assert target in error
    if target.startswith("http"):
        assert "and not the source's own origin (list it in crawl.allow_private" in error, error
    else:
        assert "not an http(s) URL" in error
