"""A fault-injecting local news server: thousands of feeds across many loopback hosts.

`NewsServer` runs an asyncio HTTP/1.1 server in a background thread and exposes a synchronous
API for tests and benchmarks. Each simulated host is its own listening address (127.0.0.2,
127.0.0.3, ... on one port; or, with ``multi="port"``, 127.0.0.1 on one port per host).

Paths on every host::

    /                       home page, with <link rel="alternate"> to the host's feeds
    /robots.txt             allow all (or a "robots" fault), with a Sitemap line
    /sitemap.xml            news sitemap of every article on the host
    /feed/<id>.rss|.atom    RSS 2.0 or Atom 1.0 feed
    /news/<id>/             HTML listing page of the same section
    /news/<id>/<seq>-<slug>.html   article page
    /moved/<path>           the same resource as <path> (the default target of a redirect fault)

Run ``python -m benchmarks.newsserver --hosts 10 --feeds-per-host 5 --port 8080`` to serve by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import heapq
import itertools
import re
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlsplit

from benchmarks.faults import (
    GZIP_BOMB_DEFAULT_SIZE,
    Fault,
    entity_bomb,
    garbage,
    gzip_bomb,
    gzip_bomb_length,
    robots_txt,
)
from benchmarks.newscontent import Feed, Item, NewsSite, http_date

__all__ = [
    "Fault",
    "HostLoad",
    "Item",
    "NewsServer",
    "RequestRecord",
    "headers_from_comment",
    "host_load",
]

_MAX_HEAD = 64 * 1024
_MAX_REQUEST_BODY = 1 << 20
_KEEPALIVE_IDLE = 30.0
_MAX_REQUESTS_PER_CONNECTION = 10_000
_MAX_RECORDS_PER_URL = 1_000
_SLOW_TICK = 0.05
_FEED_PATH = re.compile(r"^/feed/(\d+)\.(rss|atom)$")
_LISTING_PATH = re.compile(r"^/news/(\d+)/?$")
_ARTICLE_PATH = re.compile(r"^/news/(\d+)/(\d+)(?:-[^/]*)?\.html$")
_XML_DECL = re.compile(r"^<\?xml[^>]*\?>")
_META_CHARSET = re.compile(r'<meta charset="[^"]*">', re.IGNORECASE)


@dataclass
class RequestRecord:
    """One request as received: headers are keyed in lower case; status is set once answered.

    ``time`` is when the request head was read, ``end`` when its answer was written out (or
    the connection dropped); both are ``time.monotonic()`` readings of the server's clock, so
    overlaps and gaps between requests can be read from the log.
    """

    method: str
    url: str
    path: str
    headers: dict[str, str]
    time: float
    status: int | None = None
    fault: str | None = None
    host: int = 0
    end: float | None = None


@dataclass(frozen=True)
class HostLoad:
    """The load one host name saw: requests, most in flight at once, gaps between starts.

    Two requests overlap when one was read before the other's answer was written out; a
    client that waits for each answer before it sends the next request never overlaps.
    """

    requests: int
    max_in_flight: int
    min_gap: float | None  # seconds between consecutive request starts; None for one request
    span: float  # seconds from the first request start to the last


def host_load(records: Iterable[RequestRecord]) -> dict[str, HostLoad]:
    """:class:`HostLoad` per host name (hosts on one IP and several ports count as one)."""
    by_host: dict[str, list[RequestRecord]] = {}
    for record in records:
        by_host.setdefault(urlsplit(record.url).hostname or "", []).append(record)
    loads = {}
    for name, group in by_host.items():
        group.sort(key=lambda r: r.time)
        ends: list[float] = []  # answer times of the requests still open, as a heap
        most = 0
        for record in group:
            while ends and ends[0] <= record.time:
                heapq.heappop(ends)
            heapq.heappush(ends, record.end if record.end is not None else float("inf"))
            most = max(most, len(ends))
        gaps = [b.time - a.time for a, b in itertools.pairwise(group)]
        span = group[-1].time - group[0].time
        loads[name] = HostLoad(len(group), most, min(gaps, default=None), span)
    return loads


@dataclass
class _Resource:
    body: bytes
    content_type: str
    last_modified: datetime | None = None
    etag: str | None = None
    text: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    compressible: bool = True
    raw_validators: bool = False  # validators already in `headers`, verbatim


@dataclass
class _FaultEntry:
    fault: Fault
    remaining: int | None


@dataclass
class _Host:
    index: int
    ip: str
    port: int = 0

    @property
    def netloc(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.netloc}"


def headers_from_comment(data: bytes) -> dict[str, str]:
    """Response headers from the ``Header:`` lines of a feedparser test file's leading comment."""
    head = data[:4096].decode("latin-1")
    headers: dict[str, str] = {}
    for match in re.finditer(r"^Header:\s*([^:\r\n]+):\s*(.*?)\s*$", head, re.MULTILINE):
        headers[match.group(1).strip()] = match.group(2)
    return headers


def _host_ip(index: int) -> str:
    return f"127.0.{index // 250}.{index % 250 + 2}"


def _accepts_gzip(value: str) -> bool:
    for token in value.split(","):
        name, _, params = token.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                with contextlib.suppress(ValueError):
                    return float(q[2:]) > 0
            return True
    return False


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'


class NewsServer:
    """Serves generated feeds, listing pages, articles and sitemaps, with injectable faults.

    Usable as a context manager. All methods are thread-safe and synchronous.
    """

    def __init__(
        self,
        hosts: int = 100,
        feeds_per_host: int = 10,
        items_per_feed: int = 20,
        latency: float = 0.0,
        seed: int = 0,
        *,
        port: int = 0,
        multi: Literal["ip", "port"] = "ip",
        base_time: datetime | None = None,
    ) -> None:
        if hosts < 1 or hosts > 250 * 250:
            raise ValueError("hosts must be between 1 and 62500")
        self._nhosts = hosts
        self._feeds_per_host = feeds_per_host
        self._items_per_feed = items_per_feed
        self._seed = seed
        self._port = port
        self._multi = multi
        # Initial items end at midnight UTC today: recent, yet identical all day long.
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self._base_time = base_time or today
        self._lock = threading.RLock()
        self._latency = latency
        self._host_latency: dict[int, float] = {}
        self._faults: dict[str, list[_FaultEntry]] = {}
        self._statics: dict[tuple[int | None, str], tuple[bytes, list[tuple[str, str]]]] = {}
        self._records: dict[str, deque[RequestRecord]] = {}
        self._counts: dict[str, int] = {}
        self._cache: dict[str, tuple[int, _Resource]] = {}
        self._gzip_cache: dict[str, bytes] = {}
        self._hosts: list[_Host] = []
        self._by_netloc: dict[str, _Host] = {}
        self._site: NewsSite | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._conns: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> NewsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> NewsServer:
        """Bind every host and start serving in a background thread."""
        if self._thread is not None:
            return self
        _raise_fd_limit()
        ready = threading.Event()
        errors: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind_all())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="newsserver", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("news server did not start in time")
        if errors:
            self._thread.join(5)
            self._thread = None
            raise errors[0]
        self._site = NewsSite(
            [h.base for h in self._hosts],
            self._feeds_per_host,
            self._items_per_feed,
            self._seed,
            self._base_time,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close listeners and every open connection, then end the thread."""
        if self._thread is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None
        self._loop = None

    async def _bind_all(self) -> None:
        self._stopping = asyncio.Event()
        for attempt in range(20):
            try:
                await self._try_bind()
                return
            except OSError:
                for server in self._servers:
                    server.close()
                self._servers.clear()
                if self._port or attempt == 19:
                    raise

    async def _try_bind(self) -> None:
        self._hosts = []
        port = self._port
        for index in range(self._nhosts):
            ip = _host_ip(index) if self._multi == "ip" else "127.0.0.1"
            host = _Host(index, ip, port if self._multi == "ip" else (port + index if port else 0))

            async def on_connect(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: _Host = host
            ) -> None:
                await self._serve_connection(host, reader, writer)

            server = await asyncio.start_server(
                on_connect, host.ip, host.port, backlog=4096, limit=_MAX_HEAD, reuse_address=True
            )
            host.port = server.sockets[0].getsockname()[1]
            if self._multi == "ip" and not port:
                port = host.port
            self._servers.append(server)
            self._hosts.append(host)
        self._by_netloc = {h.netloc: h for h in self._hosts}

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        for server in self._servers:
            server.close()
        for task in list(self._conns):
            task.cancel()
        if self._conns:
            await asyncio.wait(list(self._conns), timeout=5)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()

    # -- URLs and content ----------------------------------------------------------------

    @property
    def site(self) -> NewsSite:
        if self._site is None:
            raise RuntimeError("server not started")
        return self._site

    def host_urls(self) -> list[str]:
        """Base URL of every host, e.g. ``http://127.0.0.2:41234``."""
        return [h.base for h in self._hosts]

    def feed_urls(self) -> list[str]:
        """Every feed URL, host by host."""
        return [f.url for f in self.site.feeds]

    def listing_urls(self) -> list[str]:
        """Every HTML listing page URL (one per feed, same items)."""
        return [f.listing_url for f in self.site.feeds]

    def sitemap_urls(self) -> list[str]:
        """One news sitemap per host."""
        return [f"{h.base}/sitemap.xml" for h in self._hosts]

    def robots_url(self, host: int | str) -> str:
        return f"{self._host(host).base}/robots.txt"

    def feeds(self) -> list[Feed]:
        """Feed descriptors (id, host index, format, lang, url, listing_url)."""
        return list(self.site.feeds)

    def feed_ids(self, lang: str | None = None, fmt: str | None = None) -> list[int]:
        """Feed ids, optionally only those in a language prefix ("zh", "en") or format."""
        return [
            f.feed_id
            for f in self.site.feeds
            if (lang is None or f.lang.startswith(lang)) and (fmt is None or f.fmt == fmt)
        ]

    def items(self, feed_id: int) -> list[Item]:
        """The items currently in a feed, newest first."""
        with self._lock:
            return list(self.site.feed(feed_id).items)

    def article_url(self, feed_id: int, seq: int | None = None) -> str:
        """URL of an article page; `seq` defaults to the newest item of the feed."""
        with self._lock:
            feed = self.site.feed(feed_id)
            if seq is None:
                return feed.items[0].url
            item = self.site.find_item(feed_id, seq)
            if item is None:
                raise KeyError(f"feed {feed_id} has no item {seq}")
            return item.url

    def publish(
        self,
        feed_id: int,
        title: str,
        summary: str = "",
        body: str = "",
        link: str | None = None,
    ) -> Item:
        """Add a new item to a feed, its listing page, the host's sitemap and an article page."""
        with self._lock:
            return self.site.add_item(feed_id, title, summary, body or summary, link)

    def syndicate(self, item: Item, to_feed_ids: Iterable[int]) -> list[Item]:
        """Publish the same story, lightly edited, on other feeds (usually other hosts)."""
        copies = []
        with self._lock:
            for feed_id in to_feed_ids:
                title, summary, body = self.site.syndicated_copy(item, feed_id)
                copies.append(
                    self.site.add_item(feed_id, title, summary, body, syndicated_from=item.guid)
                )
        return copies

    def add_static(
        self,
        path: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        host: int | str | None = None,
    ) -> str:
        """Serve `body` with exactly `headers` at `path` (on every host when `host` is None).

        Returns the URL on `host` (or on the first host). A Content-Type header defaults to
        ``application/octet-stream``; ETag / Last-Modified headers given here enable 304s.
        """
        if not path.startswith("/"):
            path = "/" + path
        pairs = list((headers or {}).items())
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("Content-Type", "application/octet-stream"))
        target = None if host is None else self._host(host).index
        with self._lock:
            self._statics[(target, path)] = (body, pairs)
        return f"{self._hosts[target or 0].base}{path}"

    # -- faults, latency, request log ----------------------------------------------------

    def set_fault(self, target: str | int, fault: Fault, times: int | None = None) -> None:
        """Apply `fault` to a URL (anything containing ``://``) or to a host (index, IP, netloc
        or base URL ending in the port) for the next `times` matching requests (None: until
        cleared). The newest fault set on a target wins."""
        key = self._fault_key(target)
        with self._lock:
            self._faults.setdefault(key, []).insert(0, _FaultEntry(fault, times))

    def clear_faults(self, target: str | int | None = None) -> None:
        """Remove faults from one target, or all faults."""
        with self._lock:
            if target is None:
                self._faults.clear()
            else:
                self._faults.pop(self._fault_key(target), None)

    def set_latency(self, seconds: float, host: int | str | None = None) -> None:
        """Delay before every response: globally, or for one host (overrides the global)."""
        with self._lock:
            if host is None:
                self._latency = seconds
            else:
                self._host_latency[self._host(host).index] = seconds

    def requests(self, url: str | None = None) -> list[RequestRecord]:
        """Recorded requests for an exact URL (path and query), or for all URLs."""
        with self._lock:
            if url is not None:
                return list(self._records.get(url, ()))
            return sorted((r for q in self._records.values() for r in q), key=lambda r: r.time)

    def request_count(self, url: str | None = None) -> int:
        """How many requests a URL (or the whole server) received."""
        with self._lock:
            if url is not None:
                return self._counts.get(url, 0)
            return sum(self._counts.values())

    def host_load(self) -> dict[str, HostLoad]:
        """How hard each host name was hit, read from the request log (see :class:`HostLoad`)."""
        return host_load(self.requests())

    def reset_requests(self) -> None:
        with self._lock:
            self._records.clear()
            self._counts.clear()

    def _host(self, ref: int | str) -> _Host:
        if isinstance(ref, int):
            return self._hosts[ref]
        netloc = urlsplit(ref).netloc if "://" in ref else ref
        if netloc in self._by_netloc:
            return self._by_netloc[netloc]
        matches = [h for h in self._hosts if h.ip == netloc]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"unknown or ambiguous host {ref!r}")

    def _fault_key(self, target: str | int) -> str:
        if isinstance(target, str) and "://" in target:
            parts = urlsplit(target)
            if parts.path not in ("", "/") or parts.query or target.endswith("/"):
                return f"http://{parts.netloc}{parts.path or '/'}" + (
                    f"?{parts.query}" if parts.query else ""
                )
        return "host:" + self._host(target).netloc

    def _take_fault(self, url: str, host: _Host, path: str) -> Fault | None:
        for key in (url, "host:" + host.netloc):
            entries = self._faults.get(key)
            if not entries:
                continue
            for entry in entries:
                if entry.fault.kind == "robots" and path != "/robots.txt":
                    continue
                if _is_redirect_target(entry.fault, path):
                    continue
                if entry.remaining is not None:
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        entries.remove(entry)
                return entry.fault
        return None

    # -- HTTP ----------------------------------------------------------------------------

    async def _serve_connection(
        self, host: _Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            for _ in range(_MAX_REQUESTS_PER_CONNECTION):
                request = await self._read_request(reader)
                if request is None:
                    break
                if not await self._answer(host, request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, OSError):
            pass
        finally:
            self._conns.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, str, dict[str, str]] | None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _KEEPALIVE_IDLE)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                key = name.strip().lower()
                value = value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > 0:
            await reader.readexactly(min(int(length), _MAX_REQUEST_BODY))
        if "chunked" in headers.get("transfer-encoding", "").lower():
            headers["connection"] = "close"
        return method, target, version, headers

    async def _answer(
        self,
        host: _Host,
        request: tuple[str, str, str, dict[str, str]],
        writer: asyncio.StreamWriter,
    ) -> bool:
        method, target, version, headers = request
        parts = urlsplit(target)
        path = parts.path or "/"
        url = f"{host.base}{path}" + (f"?{parts.query}" if parts.query else "")
        record = RequestRecord(method, url, path, headers, time.monotonic(), host=host.index)
        try:
            keep_alive = (
                version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            ) or headers.get("connection", "").lower() == "keep-alive"
            with self._lock:
                queue = self._records.get(url)
                if queue is None:
                    queue = self._records[url] = deque(maxlen=_MAX_RECORDS_PER_URL)
                queue.append(record)
                self._counts[url] = self._counts.get(url, 0) + 1
                delay = self._host_latency.get(host.index, self._latency)
            if delay > 0:
                await asyncio.sleep(delay)
            with self._lock:
                fault = self._take_fault(url, host, path)
                record.fault = fault.kind if fault else None
                resource = self._resource(host, path, fault)
            if method not in ("GET", "HEAD"):
                record.status = 405
                await self._send(writer, 405, [("Allow", "GET, HEAD")], b"", keep_alive, method)
                return keep_alive
            if fault is not None:
                return await self._answer_fault(
                    host, path, method, headers, fault, resource, writer, keep_alive, record
                )
            if resource is None:
                record.status = 404
                await self._send(
                    writer,
                    404,
                    [("Content-Type", "text/plain")],
                    b"not found\n",
                    keep_alive,
                    method,
                )
                return keep_alive
            await self._send_resource(writer, resource, headers, method, keep_alive, record)
            return keep_alive
        finally:
            record.end = time.monotonic()

    async def _send_resource(
        self,
        writer: asyncio.StreamWriter,
        resource: _Resource,
        request_headers: dict[str, str],
        method: str,
        keep_alive: bool,
        record: RequestRecord,
    ) -> None:
        # The status is recorded before the answer goes out: a client that has read it
        # must find it in the request log.
        headers = [("Content-Type", resource.content_type), *resource.headers]
        if resource.etag and not resource.raw_validators:
            headers.append(("ETag", resource.etag))
        if resource.last_modified and not resource.raw_validators:
            headers.append(("Last-Modified", http_date(resource.last_modified)))
        if _not_modified(resource, request_headers):
            record.status = 304
            await self._send(writer, 304, headers, b"", keep_alive, method, length=False)
            return
        body = resource.body
        if resource.compressible:
            headers.append(("Vary", "Accept-Encoding"))
            if _accepts_gzip(request_headers.get("accept-encoding", "")):
                body = self._gzipped(resource)
                headers.append(("Content-Encoding", "gzip"))
        record.status = 200
        await self._send(writer, 200, headers, body, keep_alive, method)

    def _gzipped(self, resource: _Resource) -> bytes:
        key = resource.etag or _etag(resource.body)
        with self._lock:
            cached = self._gzip_cache.get(key)
            if cached is not None:
                return cached
        packed = gzip.compress(resource.body, 6, mtime=0)
        with self._lock:
            if len(self._gzip_cache) > 20_000:
                self._gzip_cache.clear()
            self._gzip_cache[key] = packed
        return packed

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        keep_alive: bool,
        method: str = "GET",
        *,
        length: bool = True,
    ) -> None:
        writer.write(_head(status, headers, len(body), keep_alive, length))
        if method != "HEAD" and body:
            writer.write(body)
        await writer.drain()

    async def _answer_fault(
        self,
        host: _Host,
        path: str,
        method: str,
        request_headers: dict[str, str],
        fault: Fault,
        resource: _Resource | None,
        writer: asyncio.StreamWriter,
        keep_alive: bool,
        record: RequestRecord,
    ) -> bool:
        kind = fault.kind
        extra = list(fault.headers.items())
        ctype = resource.content_type if resource else "application/xml"
        base = resource.body if resource else b""
        assert self._stopping is not None
        if kind == "status":
            status = fault.status or 500
            if fault.retry_after is not None:
                extra.append(("Retry-After", str(fault.retry_after)))
            body = fault.body if fault.body is not None else _status_page(status)
            record.status = status
            await self._send(
                writer, status, [("Content-Type", "text/html"), *extra], body, keep_alive, method
            )
            return keep_alive
        if kind in ("timeout", "drop"):
            if kind == "timeout":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), fault.duration)
            writer.transport.abort()
            return False
        if kind in ("redirect", "redirect_loop"):
            if kind == "redirect_loop":
                location = path[len("/loop") :] if path.startswith("/loop/") else "/loop" + path
                status = fault.status or 302
            else:
                location = fault.location or "/moved" + path
                status = fault.status or 301
            if location.startswith("/"):
                location = host.base + location
            record.status = status
            await self._send(
                writer,
                status,
                [("Location", location), ("Content-Type", "text/html"), *extra],
                _status_page(status),
                keep_alive,
                method,
            )
            return keep_alive
        if kind == "robots":
            body = robots_txt(fault.disallow, f"{host.base}/sitemap.xml")
            record.status = 200
            await self._send(
                writer, 200, [("Content-Type", "text/plain"), *extra], body, keep_alive, method
            )
            return keep_alive
        if kind == "gzip_bomb":
            size = fault.size or GZIP_BOMB_DEFAULT_SIZE
            headers = [("Content-Type", ctype), ("Content-Encoding", "gzip"), *extra]
            writer.write(_head(200, headers, gzip_bomb_length(size), keep_alive))
            record.status = 200
            if method != "HEAD":
                await _stream(writer, gzip_bomb(size))
            else:
                await writer.drain()
            return keep_alive
        if kind == "stall":
            cut = int(len(base) * fault.fraction)
            writer.write(_head(200, [("Content-Type", ctype), *extra], len(base), True))
            writer.write(base[:cut])
            await writer.drain()
            record.status = 200
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.duration)
            writer.transport.abort()
            return False
        if kind == "slow":
            writer.write(_head(200, [("Content-Type", ctype), *extra], len(base), keep_alive))
            record.status = 200
            if method != "HEAD":
                step = max(1, int(fault.rate * _SLOW_TICK))
                for start in range(0, len(base), step):
                    writer.write(base[start : start + step])
                    await writer.drain()
                    if start + step < len(base):
                        await asyncio.sleep(_SLOW_TICK)
            await writer.drain()
            return keep_alive
        if kind == "truncate":
            body = base[: int(len(base) * fault.fraction)]
        elif kind == "garbage":
            body = garbage(fault.size, zlib.crc32(path.encode()))
        elif kind == "empty":
            body = b""
        elif kind == "entity_bomb":
            body, ctype = entity_bomb(fault.size), "application/rss+xml"
        elif kind == "charset":
            body, ctype = _recode(resource, fault)
        else:  # pragma: no cover - Fault validates kinds
            raise AssertionError(kind)
        record.status = 200
        await self._send(writer, 200, [("Content-Type", ctype), *extra], body, keep_alive, method)
        return keep_alive

    # -- routing -------------------------------------------------------------------------

    def _resource(self, host: _Host, path: str, fault: Fault | None) -> _Resource | None:
        """Resolve a path to a resource (called with the lock held)."""
        if path.startswith("/moved/"):
            path = path[len("/moved") :]
        static = self._statics.get((host.index, path)) or self._statics.get((None, path))
        if static is not None:
            return _static_resource(*static)
        site = self.site
        if path == "/robots.txt":
            return _Resource(
                robots_txt((), f"{host.base}/sitemap.xml"), "text/plain", compressible=False
            )
        key = f"{host.index}{path}"
        feed_match = _FEED_PATH.match(path)
        listing_match = _LISTING_PATH.match(path)
        article_match = _ARTICLE_PATH.match(path)
        if path in ("/", "/index.html"):
            version = sum(f.version for f in site.host_feeds(host.index))
            return self._cached(
                key,
                version,
                lambda: _text_resource(
                    site.render_home(host.index),
                    "text/html; charset=utf-8",
                    site.host_modified(host.index),
                ),
            )
        if path == "/sitemap.xml":
            version = sum(f.version for f in site.host_feeds(host.index))
            return self._cached(
                key,
                version,
                lambda: _text_resource(
                    site.render_sitemap(host.index),
                    "application/xml",
                    site.host_modified(host.index),
                ),
            )
        match = feed_match or listing_match or article_match
        if match is None:
            return None
        feed_id = int(match.group(1))
        if not self._owns(host, feed_id):
            return None
        feed = site.feed(feed_id)
        if feed_match:
            if feed.fmt != feed_match.group(2):
                return None
            ctype = "application/atom+xml" if feed.fmt == "atom" else "application/rss+xml"
            return self._cached(
                key,
                feed.version,
                lambda: _text_resource(site.render_feed(feed_id), ctype, feed.modified),
            )
        if listing_match:
            return self._cached(
                key,
                feed.version,
                lambda: _text_resource(
                    site.render_listing(feed_id), "text/html; charset=utf-8", feed.modified
                ),
            )
        item = site.find_item(feed_id, int(match.group(2)))
        if item is None:
            return None
        return self._cached(
            key,
            0,
            lambda: _text_resource(
                site.render_article(item), "text/html; charset=utf-8", item.published
            ),
        )

    def _owns(self, host: _Host, feed_id: int) -> bool:
        return 0 <= feed_id < len(self.site.feeds) and self.site.feeds[feed_id].host == host.index

    def _cached(self, key: str, version: int, build: Callable[[], _Resource]) -> _Resource:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        resource = build()
        self._cache[key] = (version, resource)
        return resource


def _static_resource(body: bytes, pairs: list[tuple[str, str]]) -> _Resource:
    lowered = {k.lower(): v for k, v in pairs}
    modified = None
    if "last-modified" in lowered:
        with contextlib.suppress(TypeError, ValueError):
            modified = parsedate_to_datetime(lowered["last-modified"])
    return _Resource(
        body,
        lowered["content-type"],
        modified,
        lowered.get("etag"),
        headers=[(k, v) for k, v in pairs if k.lower() != "content-type"],
        compressible=False,
        raw_validators=True,
    )


def _is_redirect_target(fault: Fault, path: str) -> bool:
    """A host-wide move must not redirect the /moved/ copies it points to."""
    return fault.kind == "redirect" and fault.location is None and path.startswith("/moved/")


def _text_resource(text: str, content_type: str, modified: datetime) -> _Resource:
    body = text.encode("utf-8")
    return _Resource(body, content_type, modified, _etag(body), text)


def _not_modified(resource: _Resource, headers: dict[str, str]) -> bool:
    if "if-none-match" in headers:
        if resource.etag is None:
            return False
        tags = {t.strip().removeprefix("W/") for t in headers["if-none-match"].split(",")}
        return "*" in tags or resource.etag.removeprefix("W/") in tags
    since = headers.get("if-modified-since")
    if since and resource.last_modified is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return resource.last_modified.replace(microsecond=0) <= when
    return False


def _recode(resource: _Resource | None, fault: Fault) -> tuple[bytes, str]:
    if resource is None or resource.text is None:
        text = '<?xml version="1.0"?><rss version="2.0"><channel><title>臺灣</title></channel>'
        text += "</rss>"
        ctype = "application/rss+xml"
    else:
        text, ctype = resource.text, resource.content_type.split(";")[0]
    declared = fault.declared
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>'
    text = _XML_DECL.sub(decl, text, count=1)
    meta = f'<meta charset="{declared}">' if declared else ""
    text = _META_CHARSET.sub(meta, text, count=1)
    body = text.encode(fault.encoding, errors="xmlcharrefreplace")
    return body, f"{ctype}; charset={declared}" if declared else ctype


def _status_page(status: int) -> bytes:
    phrase = _reason(status)
    return f"<html><body><h1>{status} {phrase}</h1></body></html>\n".encode()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _head(
    status: int,
    headers: list[tuple[str, str]],
    length: int,
    keep_alive: bool,
    with_length: bool = True,
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_reason(status)}",
        f"Date: {http_date(datetime.now(UTC))}",
        "Server: wirewatch-newsserver",
    ]
    lines += [f"{k}: {v}" for k, v in headers]
    if with_length:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


async def _stream(writer: asyncio.StreamWriter, chunks: Iterator[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()


def _raise_fd_limit() -> None:
    """Lift the soft open-files limit toward the hard one: each connection is a descriptor."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _loopback_range_works() -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C, printing every URL."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.newsserver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--feeds-per-host", type=int, default=5)
    parser.add_argument("--items-per-feed", type=int, default=20)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    multi: Literal["ip", "port"] = "ip" if _loopback_range_works() else "port"
    server = NewsServer(
        args.hosts,
        args.feeds_per_host,
        args.items_per_feed,
        args.latency,
        args.seed,
        port=args.port,
        multi=multi,
    )
    with server:
        for base, sitemap in zip(server.host_urls(), server.sitemap_urls(), strict=True):
            print(f"host    {base}/")
            print(f"sitemap {sitemap}")
        for feed in server.feeds():
            print(f"feed    {feed.url}")
            print(f"listing {feed.listing_url}")
        print("serving; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
