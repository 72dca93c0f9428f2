"""Real-socket tests of the fault-injecting local news server."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import socket
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from benchmarks.newsserver import Fault, NewsServer, headers_from_comment


@pytest.fixture(scope="module")
def server() -> Iterator[NewsServer]:
    with NewsServer(hosts=100, feeds_per_host=3, items_per_feed=10, seed=7) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean(server: NewsServer) -> Iterator[None]:
    yield
    server.clear_faults()
    server.set_latency(0.0)


def fetch(
    url: str, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """GET without following redirects or raising on error statuses."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", target, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def feed_of(server: NewsServer, lang: str, fmt: str) -> int:
    return next(i for i in server.feed_ids(lang, fmt))


@pytest.mark.parametrize(("lang", "fmt"), [("en", "rss"), ("en", "atom"), ("zh", "rss")])
def test_feeds_parse_with_feedparser(server: NewsServer, lang: str, fmt: str) -> None:
    feed_id = feed_of(server, lang, fmt)
    status, headers, body = fetch(server.feeds()[feed_id].url)
    parsed = feedparser.parse(body)
    assert status == 200
    assert headers["Content-Type"].startswith(f"application/{fmt}+xml")
    assert not parsed.bozo
    assert parsed.version == ("rss20" if fmt == "rss" else "atom10")
    assert len(parsed.entries) == 10
    entry = parsed.entries[0]
    assert entry.id.startswith("tag:wirewatch.bench,2026:7/")
    assert entry.published_parsed is not None
    assert entry.link == server.items(feed_id)[0].url
    if lang == "zh":
        assert any("\u4e00" <= ch <= "\u9fff" for ch in entry.title)
        body.decode("utf-8").encode("big5")  # generated Chinese is Big5-encodable


def test_content_is_deterministic(server: NewsServer) -> None:
    with NewsServer(hosts=2, feeds_per_host=3, items_per_feed=10, seed=7) as other:
        mine = [(i.guid, i.title, i.body) for i in server.items(4)]
        theirs = [(i.guid, i.title, i.body) for i in other.items(4)]
    assert mine == theirs


def test_listing_article_sitemap_home_robots(server: NewsServer) -> None:
    item = server.items(0)[0]
    _, _, listing = fetch(server.listing_urls()[0])
    assert item.url.encode() in listing
    status, _, article = fetch(server.article_url(0, item.seq))
    assert status == 200 and item.title.encode() in article
    _, _, sitemap = fetch(server.sitemap_urls()[0])
    assert item.url.encode() in sitemap
    _, _, home = fetch(server.host_urls()[0] + "/")
    assert b'rel="alternate"' in home and server.feed_urls()[0].encode() in home
    _, _, robots = fetch(server.robots_url(0))
    assert b"Allow: /" in robots and b"Sitemap:" in robots
    assert fetch(server.host_urls()[0] + "/nothing-here")[0] == 404


def test_conditional_get_and_publish(server: NewsServer) -> None:
    url = server.feed_urls()[1]
    status, headers, _ = fetch(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert fetch(url, {"If-None-Match": etag})[0] == 304
    assert fetch(url, {"If-Modified-Since": modified})[0] == 304
    item = server.publish(1, title="Taiwan signs MOU on patent licensing", summary="Breaking.")
    status, headers, body = fetch(url, {"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    assert fetch(url, {"If-Modified-Since": modified})[0] == 200
    parsed = feedparser.parse(body)
    assert parsed.entries[0].title == item.title
    assert len(parsed.entries) == 10  # the window slides
    assert item.title.encode() in fetch(server.listing_urls()[1])[2]
    assert item.url.encode() in fetch(server.sitemap_urls()[0])[2]
    assert fetch(item.url)[0] == 200
    records = server.requests(url)
    assert [r.status for r in records[-4:]] == [304, 304, 200, 200]
    assert records[-4].headers["if-none-match"] == etag


def test_syndicate_puts_story_on_other_hosts(server: NewsServer) -> None:
    original = server.publish(3, title="MediaTek wins 5G patent ruling", body="Long text. " * 40)
    copies = server.syndicate(original, [6, 9])
    assert {urlsplit(c.url).netloc for c in copies} == {
        urlsplit(server.feed_urls()[6]).netloc,
        urlsplit(server.feed_urls()[9]).netloc,
    }
    for copy in copies:
        assert copy.url != original.url and copy.syndicated_from == original.guid
        assert original.title in copy.title and original.body[-200:] in copy.body
        assert copy.title in feedparser.parse(fetch(server.feed_urls()[copy.feed_id])[2]).entries[
            0
        ].get("title", "")


def test_gzip_when_accepted(server: NewsServer) -> None:
    url = server.feed_urls()[2]
    _, plain_headers, plain = fetch(url)
    status, headers, packed = fetch(url, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain_headers
    assert gzip.decompress(packed) == plain
    assert "Content-Encoding" not in fetch(url, {"Accept-Encoding": "gzip;q=0"})[1]


def test_keep_alive_and_head(server: NewsServer) -> None:
    parts = urlsplit(server.feed_urls()[0])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", parts.path)
            assert conn.getresponse().read()
        conn.request("HEAD", parts.path)
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b""
        assert int(response.headers["Content-Length"]) > 0
    finally:
        conn.close()


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (429, 30), (503, 120)])
def test_status_faults(server: NewsServer, status: int, retry_after: int | None) -> None:
    url = server.feed_urls()[4]
    server.set_fault(url, Fault("status", status=status, retry_after=retry_after), times=2)
    for _ in range(2):
        got, headers, _ = fetch(url)
        assert got == status
        assert headers.get("Retry-After") == (None if retry_after is None else str(retry_after))
    assert fetch(url)[0] == 200  # `times` ran out


def test_host_fault_hits_every_path(server: NewsServer) -> None:
    server.set_fault(5, Fault("status", status=503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT"))
    base = server.host_urls()[5]
    assert fetch(base + "/")[0] == 503
    assert fetch(base + "/robots.txt")[1]["Retry-After"].startswith("Wed")
    assert fetch(server.host_urls()[6] + "/")[0] == 200


def test_timeout_and_drop(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    server.set_fault(url, Fault("timeout", duration=3), times=1)
    with pytest.raises((TimeoutError, socket.timeout)):
        fetch(url, timeout=0.3)
    server.set_fault(url, Fault("drop"), times=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        fetch(url)
    assert fetch(url)[0] == 200


def test_stall_sends_part_then_hangs(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    server.set_fault(url, Fault("stall", fraction=0.3, duration=3), times=1)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=0.3)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        length = int(response.headers["Content-Length"])
        first = response.read(int(length * 0.3))
        assert first.startswith(b"<?xml")
        with pytest.raises((TimeoutError, socket.timeout)):
            response.read()
    finally:
        conn.close()


def test_slow_body_trickles(server: NewsServer) -> None:
    url = server.add_static("/slow.xml", b"x" * 2000, {"Content-Type": "text/xml"})
    server.set_fault(url, Fault("slow", rate=4000), times=1)
    started = time.monotonic()
    status, _, body = fetch(url, timeout=0.3)  # each read is fast enough; the whole is not
    assert status == 200 and body == b"x" * 2000
    assert time.monotonic() - started >= 0.3


def test_truncate_garbage_empty(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    full = fetch(url)[2]
    server.set_fault(url, Fault("truncate", fraction=0.5), times=1)
    cut = fetch(url)[2]
    assert cut == full[: len(full) // 2]
    assert feedparser.parse(cut).bozo
    server.set_fault(url, Fault("garbage", size=1000), times=1)
    status, headers, junk = fetch(url)
    assert status == 200 and len(junk) == 1000 and headers["Content-Type"] == "application/rss+xml"
    server.set_fault(url, Fault("empty"), times=1)
    assert fetch(url)[2] == b""


def test_wrong_and_missing_charset(server: NewsServer) -> None:
    feed_id = feed_of(server, "zh", "rss")
    url = server.feeds()[feed_id].url
    title = server.items(feed_id)[0].title
    server.set_fault(url, Fault("charset", encoding="big5", declared="utf-8"), times=1)
    _, headers, body = fetch(url)
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert title.encode("big5") in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    server.set_fault(url, Fault("charset", encoding="big5", declared=None), times=1)
    _, headers, body = fetch(url)
    assert headers["Content-Type"] == "application/rss+xml"
    assert body.startswith(b'<?xml version="1.0"?>') and title.encode("big5") in body


def test_gzip_bomb_streams_a_huge_ratio(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    server.set_fault(url, Fault("gzip_bomb"), times=1)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", parts.path, headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        assert response.headers["Content-Encoding"] == "gzip"
        declared = int(response.headers["Content-Length"])
        assert declared < 8 << 20
        packed = response.read(256 * 1024)
    finally:
        conn.close()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    inflated = 0
    head = b""
    for start in range(0, len(packed), 4096):
        out = inflater.decompress(packed[start : start + 4096], 1 << 24)
        head = head or out[:40]
        inflated += len(out)
    assert head.startswith(b"<?xml")
    assert inflated / len(packed) > 500
    assert (4 << 30) / declared > 500


def test_gzip_bomb_is_valid_gzip_when_small(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    server.set_fault(url, Fault("gzip_bomb", size=3 << 20), times=1)
    _, _, packed = fetch(url)
    assert len(zlib.decompress(packed, 16 + zlib.MAX_WBITS)) >= 2 << 20


def test_redirects(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    server.set_fault(url, Fault("redirect", status=301))
    status, headers, _ = fetch(url)
    assert status == 301
    moved = headers["Location"]
    assert moved.endswith("/moved/feed/0.rss")
    assert feedparser.parse(fetch(moved)[2]).entries
    with urllib.request.urlopen(url, timeout=5) as response:  # follows to the same feed
        assert response.url == moved and feedparser.parse(response.read()).entries
    target = server.feed_urls()[1]
    for code in (302, 308):
        server.set_fault(url, Fault("redirect", status=code, location=target), times=1)
        status, headers, _ = fetch(url)
        assert (status, headers["Location"]) == (code, target)


def test_redirect_loop(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    server.set_fault(0, Fault("redirect_loop"))
    status, headers, _ = fetch(url)
    assert status == 302 and "/loop/" in headers["Location"]
    assert fetch(headers["Location"])[1]["Location"] == url
    with pytest.raises(urllib.error.HTTPError, match="redirect"):
        urllib.request.urlopen(url, timeout=5)


def test_robots(server: NewsServer) -> None:
    robots = server.robots_url(2)
    server.set_fault(2, Fault("robots"))
    assert b"Disallow: /\n" in fetch(robots)[2]
    assert fetch(server.host_urls()[2] + "/")[0] == 200  # only robots.txt changes
    server.set_fault(2, Fault("robots", disallow=("/news/", "/feed/7.rss")))
    body = fetch(robots)[2]
    assert b"Disallow: /news/" in body and b"Disallow: /feed/7.rss" in body
    assert server.requests(robots)[-1].fault == "robots"


def test_entity_bomb_is_small_but_quadratic(server: NewsServer) -> None:
    url = server.feed_urls()[0]
    server.set_fault(url, Fault("entity_bomb", size=100_000_000), times=1)
    body = fetch(url)[2]
    assert len(body) < 100_000 and b"<!ENTITY a " in body
    assert body.count(b"&a;") * 50_000 >= 100_000_000


def test_latency_per_host(server: NewsServer) -> None:
    server.set_latency(0.2, host=3)
    started = time.monotonic()
    assert fetch(server.host_urls()[3] + "/")[0] == 200
    assert time.monotonic() - started >= 0.2


def test_requests_are_counted(server: NewsServer) -> None:
    url = server.feed_urls()[5]
    before = server.request_count(url)
    for _ in range(3):
        fetch(url, {"User-Agent": "wirewatch-test/1.0"})
    assert server.request_count(url) == before + 3
    assert server.requests(url)[-1].headers["user-agent"] == "wirewatch-test/1.0"


def test_many_hosts_answer(server: NewsServer) -> None:
    urls = server.feed_urls()
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda u: fetch(u)[0], urls))
    assert len({urlsplit(u).netloc for u in urls}) == 100
    assert statuses == [200] * len(urls)


def test_host_wide_move(server: NewsServer) -> None:
    server.set_fault(4, Fault("redirect", status=308))
    with urllib.request.urlopen(server.feed_urls()[12], timeout=5) as response:
        assert "/moved/feed/12." in response.url and response.status == 200


def test_thousands_of_concurrent_connections(server: NewsServer) -> None:
    urls = server.feed_urls() * 5

    async def get(url: str) -> bytes:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        return head.split(b"\r\n", 1)[0]

    async def all_at_once() -> list[bytes]:
        return await asyncio.wait_for(asyncio.gather(*(get(u) for u in urls)), 60)

    assert set(asyncio.run(all_at_once())) == {b"HTTP/1.1 200 OK"}
    assert len(urls) == 1500


def test_static_file_with_corpus_headers(server: NewsServer, corpus_dir: Path) -> None:
    path = corpus_dir / "feeds/kurtmckee-feedparser/tests/encoding/http_text_xml_charset_2.xml"
    if not path.is_file():
        pytest.skip("corpus file missing")
    data = path.read_bytes()
    headers = headers_from_comment(data)
    assert headers == {"Content-type": "text/xml; charset=windows-1252"}
    url = server.add_static("/corpus/charset2.xml", data, headers, host=1)
    parsed = feedparser.parse(url)  # feedparser fetches and sees the real header
    assert not parsed.bozo
    assert parsed.entries[0]["description"] == "This is a \xa3\u201ctest.\u201d"
    assert fetch(server.host_urls()[2] + "/corpus/charset2.xml")[0] == 404


def test_static_validators_give_304(server: NewsServer) -> None:
    url = server.add_static("/s.xml", b"<rss/>", {"Content-Type": "text/xml", "ETag": '"v1"'})
    assert fetch(url)[1]["ETag"] == '"v1"'
    assert fetch(url, {"If-None-Match": '"v1"'})[0] == 304
