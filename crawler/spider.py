"""The one spider of a poll pass: fetches every source, dispatching pages by source type.

Collectors register themselves by the YAML ``type`` names they handle
(:data:`crawler.collectors.COLLECTORS`); a new source type is one
:class:`~crawler.collectors.base.Collector` subclass in one file under ``crawler/collectors/``.
Only the index request of a source decides its outcome; follow-up pages, article pages and
redirector lookups that fail just lose what they would have added. A follow-up the link
policy refused (:mod:`crawler.netguard`) also marks the source degraded with that error.

Completion: the spider counts, per source, the requests it made whose callback or errback has
not finished yet and the items yielded whose pipeline has not finished yet (the
``item_scraped``/``item_dropped``/``item_error`` signals); a request the scheduler drops
(``request_dropped``) counts as finished. When a source's count reaches zero its poll is
complete and ``on_done(source_id)`` is called, so a long-lived crawl (:mod:`crawler.flow`)
can record each source as soon as it ends instead of when the whole crawl does. A request a
spider middleware discards silently never settles; the flow's per-source deadline covers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from functools import partial, wraps
from http import HTTPStatus
from typing import Any

import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twisted.python.failure import Failure

from crawler.collectors import COLLECTORS
from crawler.collectors.base import CollectError, Page, SourceRun, content_type
from crawler.db import make_reader
from crawler.errors import one_line
from crawler.extract import ExtractedArticle, extract_article
from crawler.followups import google_news_target, merge_article
from crawler.items import Entry
from crawler.middlewares import META_KEY, Fetch, fetch_of
from crawler.models import utcnow
from crawler.netguard import RefusedHop
from crawler.normalize import EntryBatch, Normalized, normalize
from crawler.parse_pool import ParsePool, PoolUnavailable, shared_pool
from crawler.reasons import NO_IDENTITY, duplicate_reason
from crawler.retry import parse_retry_after
from crawler.scrapy_settings import PARSE_ON_DEMAND_SETTING, PARSE_WORKERS_SETTING
from crawler.store import known_items, stored_guids
from crawler.textfill import count_attempt, fill_text, pending_text
from crawler.urls import is_google_news

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_NOTES = 20


def _tracked(method: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
    """Wrap a callback or errback: count the items it yields, settle its request at the end."""

    @wraps(method)
    async def wrapper(
        self: PollSpider, first: Any, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        request = getattr(first, "request", None)  # a Response's, or set on an errback Failure
        fetch = fetch_of(request) if isinstance(request, Request) else None
        try:
            result = method(self, first, *args, **kwargs)
            if inspect.isasyncgen(result):
                async for out in result:
                    self._count_item(out)
                    yield out
            elif inspect.isawaitable(result):
                await result
            elif result is not None:
                for out in result:
                    self._count_item(out)
                    yield out
        finally:
            if fetch is not None:
                self._settle(fetch.source_id)

    return wrapper


class PollSpider(scrapy.Spider):
    """Fetches the index page of each source once, plus the follow-ups its collector asks for.

    Spider arguments: ``runs`` (source id → :class:`SourceRun`) and ``sessions``; the
    known-item lookup reads through a read-only engine on SQLite. (The storage pipeline gets
    the same two from the crawler's settings.) With ``feed`` (a queue of runs, ``None`` ends
    it) the spider keeps running and starts each run as it arrives; ``on_done`` is told when
    a source's poll is complete (see the module doc).
    """

    name = "wirewatch-poll"

    def __init__(
        self,
        runs: Mapping[str, SourceRun],
        sessions: sessionmaker[Session],
        *args: Any,
        feed: asyncio.Queue[SourceRun | None] | None = None,
        on_done: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # The same dict as the storage pipeline's (crawler.pipelines.PassTarget): runs added
        # while the crawl goes on (``feed``) must be found by both.
        self.runs: dict[str, SourceRun] = runs if isinstance(runs, dict) else dict(runs)
        self.sessions = sessions
        self.feed = feed
        self.on_done = on_done
        self._pending: dict[str, int] = {}
        self.parse_pool: ParsePool | None = None  # set from the crawl's settings
        self._parsing_here = 0  # pages being parsed in this process's threads, or waiting
        # Known-item lookups read through an engine that never queues behind SQLite's write
        # lock (the storage pipeline holds it while it writes); a stale answer only means
        # the pipeline finds the duplicate itself.
        bind = sessions.kw.get("bind")
        reader = make_reader(bind) if isinstance(bind, Engine) else None
        self._reader = reader if reader is not None and reader is not bind else None
        self.reads = sessionmaker(self._reader) if self._reader is not None else sessions
        for run in list(self.runs.values()):
            self.add_run(run)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> PollSpider:
        """Build the spider and follow the signals that end a request or an item."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.parse_pool = shared_pool(
            crawler.settings.getint(PARSE_WORKERS_SETTING),
            crawler.settings.getbool(PARSE_ON_DEMAND_SETTING),
        )
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider._item_done, signal=signal)
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        return spider  # type: ignore[return-value]

    def add_run(self, run: SourceRun) -> None:
        """Take ``run`` into the crawl (its requests are made by :meth:`source_request`)."""
        run.known_guids = partial(self._stored_guids, run.config.id)
        self.runs[run.config.id] = run

    def _count_item(self, out: Any) -> None:
        if isinstance(out, EntryBatch | Entry):
            self._pending[out.source_id] = self._pending.get(out.source_id, 0) + 1

    def _item_done(self, item: Any, **_: Any) -> None:
        if isinstance(item, EntryBatch | Entry):
            self._settle(item.source_id)

    def _request_dropped(self, request: Request, **_: Any) -> None:
        fetch = fetch_of(request)
        if fetch is not None:
            self._settle(fetch.source_id)

    def _settle(self, source_id: str) -> None:
        """One request or item of ``source_id`` finished; the last one completes the poll."""
        left = self._pending.get(source_id, 0) - 1
        if left > 0:
            self._pending[source_id] = left
            return
        self._pending.pop(source_id, None)
        if self.on_done is not None:
            self.on_done(source_id)

    def _stored_guids(self, source_id: str, guids: list[str]) -> set[str]:
        """Which of ``guids`` ``source_id`` has stored (called from worker threads)."""
        if not guids:
            return set()
        with self.reads() as session:
            return stored_guids(session, source_id, guids)

    def closed(self, reason: str) -> None:
        """Dispose of the pass's read-only engine."""
        if self._reader is not None:
            self._reader.dispose()

    async def start(self) -> AsyncIterator[Request]:
        """One index request per source (never filtered as a duplicate), then the feed's."""
        for run in list(self.runs.values()):
            yield self.source_request(run, run.url, role="index")
        if self.feed is None:
            return
        while (run := await self.feed.get()) is not None:
            self.add_run(run)
            yield self.source_request(run, run.url, role="index")

    def source_request(
        self,
        run: SourceRun,
        url: str,
        *,
        role: str,
        depth: int = 0,
        entry: Entry | None = None,
        article_id: int | None = None,
    ) -> Request:
        """A request on behalf of ``run`` carrying its :class:`Fetch` and per-source headers."""
        index = role == "index"
        self._pending[run.config.id] = self._pending.get(run.config.id, 0) + 1
        fetch = Fetch(
            run.config.id,
            role=role,
            depth=depth,
            etag=run.etag if index else None,
            last_modified=run.last_modified if index else None,
            origin=run.config.url,
        )
        callbacks = {"article": self.on_article, "resolve": self.on_resolved, "fill": self.on_fill}
        cb_kwargs: dict[str, Any] = {"entry": entry} if entry is not None else {}
        if article_id is not None:
            cb_kwargs["article_id"] = article_id
        return Request(
            url,
            callback=callbacks.get(role, self.on_page),
            errback=self.on_error,
            headers=dict(run.config.headers),
            cb_kwargs=cb_kwargs,
            meta={META_KEY: fetch, "handle_httpstatus_list": [304] if index else []},
            # A redirect loop must end in "max redirections", not in the dupe filter.
            dont_filter=index,
        )

    @_tracked
    async def on_page(self, response: Response) -> AsyncIterator[EntryBatch | Request]:
        """An index or follow-up page: parse it with the source's collector."""
        fetch = fetch_of(response.request)
        if fetch is None:
            return
        run = self.runs[fetch.source_id]
        outcome = run.outcome
        if fetch.role == "index":
            outcome.http_status = response.status
            outcome.etag = fetch.new_etag or (run.etag if response.status == 304 else None)
            outcome.last_modified = fetch.new_last_modified or (
                run.last_modified if response.status == 304 else None
            )
            outcome.moved_to = fetch.moved_to
            if response.status == 304:
                outcome.status = "not_modified"
                for request in await self._fill_requests(run):
                    yield request
                return
        collector = COLLECTORS[run.config.type]
        try:
            pool = self._pool() if collector.pooled(response) else None
            # A pooled page waits for its parser in the pool's own thread, not in one of the
            # default executor's few threads, which storage and lookups need meanwhile.
            with self._parsing(pool) as pool:
                page = await asyncio.get_running_loop().run_in_executor(
                    pool.threads if pool else None, collector.parse_with, pool, response, run, fetch
                )
        except Exception as exc:  # a collector bug or a hostile page must not end the pass
            message = str(exc) if isinstance(exc, CollectError) else _describe_exc(exc)
            if not isinstance(exc, CollectError):
                logger.exception("parsing %s for %s failed", response.url, run.config.id)
            if fetch.role == "index":
                outcome.status, outcome.error = "failed", message
            else:
                _note(run, f"{response.url}: {message}")
            return
        if fetch.role == "index":
            outcome.status = "ok"
        all_known = True
        part: Page | None = page
        while part is not None:
            for note in part.notes:
                _note(run, note)
            for reason, count in part.skipped.items():
                outcome.found += count
                outcome.skip(reason, count)
            outputs, known = await self._route(run, part.entries, part.normalized)
            all_known = all_known and known
            for out in outputs:
                yield out
            part = await self._next_part(run, page, response.url)
        if fetch.role == "index":
            for out in await self._fill_requests(run):
                yield out
        if page.follow and not (page.stop_when_known and all_known):
            for url in page.follow:
                yield self.source_request(run, url, role="page", depth=fetch.depth + 1)

    def _pool(self) -> ParsePool | None:
        """The crawl's parse pool, unless its processes cannot start (then work stays in
        this process's threads instead of queueing in the pool's few)."""
        pool = self.parse_pool
        return pool if pool is not None and pool.unavailable is None else None

    @contextlib.contextmanager
    def _parsing(self, pool: ParsePool | None) -> Iterator[ParsePool | None]:
        """``pool`` if it is wanted for the next page, else None, while the page is parsed
        in this process's threads (counted: their backlog starts an on-demand pool)."""
        if pool is not None and pool.wanted(self._parsing_here):
            yield pool
            return
        self._parsing_here += 1
        try:
            yield None
        finally:
            self._parsing_here -= 1

    @staticmethod
    async def _next_part(run: SourceRun, page: Page, url: str) -> Page | None:
        """The next lazily parsed part of ``page`` (parsed in a worker thread), or None."""
        if page.more is None:
            return None
        try:
            return await asyncio.to_thread(next, page.more, None)
        except Exception as exc:  # a later batch of a hostile feed must not end the pass
            logger.exception("parsing the rest of %s for %s failed", url, run.config.id)
            _note(
                run,
                f"{url}: reading stopped after {run.outcome.found} entries: {_describe_exc(exc)}",
            )
            return None

    async def _route(
        self,
        run: SourceRun,
        entries: list[Entry],
        normalized: list[Normalized | None] | None = None,
    ) -> tuple[list[EntryBatch | Request], bool]:
        """Count stored entries as skipped; batch new ones for storage or route them on.

        ``normalized``: the entries already normalised (by a parser process), if they are.
        Returns what to yield and whether every entry was already known.
        """
        run.outcome.found += len(entries)
        valid, known = await asyncio.to_thread(self._screen, run, entries, normalized)
        run.outcome.skip(NO_IDENTITY, len(entries) - len(valid))
        batch = EntryBatch(run.config.id, [])
        outputs: list[EntryBatch | Request] = []
        for (entry, norm), seen in zip(valid, known, strict=True):
            if seen:
                run.outcome.skip(duplicate_reason(seen))
            elif is_google_news(norm.url) and run.resolve_budget > 0:
                run.resolve_budget -= 1
                outputs.append(self.source_request(run, norm.url, role="resolve", entry=entry))
            elif (request := self._article_request(run, entry)) is not None:
                outputs.append(request)
            else:
                batch.items.append(norm)
        if batch.items:
            outputs.insert(0, batch)
        return outputs, all(k is not None for k in known)

    def _screen(
        self,
        run: SourceRun,
        entries: list[Entry],
        normalized: list[Normalized | None] | None = None,
    ) -> tuple[list[tuple[Entry, Normalized]], list[str | None]]:
        """Normalise ``entries`` (unless ``normalized`` holds them so), drop those with
        neither link nor guid, look up stored ones.

        Runs in a worker thread.
        """
        config = run.config
        if normalized is None:
            normalized = [normalize(e, language=config.language, tags=config.tags) for e in entries]
        pairs = list(zip(entries, normalized, strict=True))
        valid = [(e, n) for e, n in pairs if n is not None]
        if not valid:
            return [], []
        with self.reads() as session:
            return valid, known_items(session, [n for _, n in valid])

    def _article_request(self, run: SourceRun, entry: Entry) -> Request | None:
        """A request for the entry's article page when the source wants its text."""
        fetchable = entry.url.startswith(("http://", "https://"))
        if fetchable and run.config.fetch_article and not run.baseline and run.article_budget > 0:
            run.article_budget -= 1
            return self.source_request(run, entry.url, role="article", entry=entry)
        return None

    async def _fill_requests(self, run: SourceRun) -> list[EntryBatch | Request]:
        """Requests for stored articles still without text (:mod:`crawler.textfill`).

        Spends what is left of the source's article budget after this page's new items.
        """
        if not run.config.fetch_article or run.article_budget <= 0:
            return []

        def pending() -> list[tuple[int, str]]:
            with self.reads() as session:
                return pending_text(session, run.config.id, run.article_budget)

        todo = await asyncio.to_thread(pending)
        run.article_budget -= len(todo)
        return [self.source_request(run, url, role="fill", article_id=i) for i, url in todo]

    @_tracked
    async def on_fill(self, response: Response, article_id: int) -> None:
        """A stored article's page fetched: store its text (nothing is yielded)."""
        run = self.runs[fetch_of(response.request).source_id]  # type: ignore[union-attr]
        page = await self._extract(run, response)
        await asyncio.to_thread(self._write_text, article_id, page)

    def _write_text(self, article_id: int, page: ExtractedArticle | None) -> None:
        try:
            with self.sessions() as session, session.begin():
                if page is None:
                    count_attempt(session, article_id)
                else:
                    fill_text(session, article_id, page)
        except Exception:  # e.g. the database is busy: the next pass tries again
            logger.warning("storing the text of article %s failed", article_id, exc_info=True)

    def _complete(self, run: SourceRun, entry: Entry) -> Entry | Request:
        """The entry itself, or a request for its article page when the source wants text."""
        return self._article_request(run, entry) or entry

    @_tracked
    def on_resolved(self, response: Response, entry: Entry) -> Iterator[Entry | Request]:
        """A Google News link fetched: continue with the publisher's URL when found."""
        run = self.runs[entry.source_id]
        target = google_news_target(response.url, response.body)
        if target:
            entry.url = target
        yield self._complete(run, entry)

    @_tracked
    async def on_article(self, response: Response, entry: Entry) -> AsyncIterator[Entry]:
        """An article page fetched: add its main text and missing metadata."""
        run = self.runs[entry.source_id]
        yield merge_article(entry, await self._extract(run, response))

    async def _extract(self, run: SourceRun, response: Response) -> ExtractedArticle | None:
        """The article on a fetched page; None (and a note) when extraction fails.

        A failure loses only this page's text: the feed's own text is kept.
        """
        body, args = response.body, {"url": response.url, "tz": run.tz}
        args["content_type"] = content_type(response)
        try:
            with self._parsing(self._pool()) as pool:
                if pool is not None:
                    # In a parser process: a page that hangs or crashes the extractor costs
                    # its own text only.
                    with contextlib.suppress(PoolUnavailable):  # then extracted here
                        job = partial(pool.call, extract_article, body, **args)
                        loop = asyncio.get_running_loop()
                        return await loop.run_in_executor(pool.threads, job)
                return await asyncio.to_thread(extract_article, body, **args)
        except Exception as exc:  # a hostile page must not end the pass
            _note(run, f"article {response.url}: {_describe_exc(exc)}")
            return None

    @_tracked
    async def on_error(self, failure: Failure) -> AsyncIterator[Entry]:
        """A request failed: fail the source (index) or keep the entry as it was (follow-up)."""
        request: Request = failure.request  # type: ignore[attr-defined]
        fetch = fetch_of(request)
        if fetch is None:
            return
        run = self.runs[fetch.source_id]
        if isinstance(failure.value, RefusedHop) and fetch.role != "index":
            run.outcome.refused.append(str(failure.value))
        entry = request.cb_kwargs.get("entry")
        if fetch.role in ("article", "resolve") and isinstance(entry, Entry):
            yield entry
            return
        if fetch.role == "fill":
            _note(run, f"{request.url}: {describe_failure(failure, self.settings)[0]}")
            await asyncio.to_thread(self._write_text, request.cb_kwargs["article_id"], None)
            return
        message, status, retry_after = describe_failure(failure, self.settings)
        if fetch.role != "index":
            _note(run, f"{request.url}: {message}")
            return
        outcome = run.outcome
        outcome.status, outcome.error, outcome.http_status = "failed", message, status
        outcome.retry_after = retry_after


def describe_failure(failure: Failure, settings: Any) -> tuple[str, int | None, Any]:
    """A one-line reason, the HTTP status (if any) and a Retry-After delay (if any)."""
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        reason = _reason(response.status)
        retry_after = None
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get(b"Retry-After"), utcnow())
        suffix = f" (Retry-After {int(retry_after.total_seconds())}s)" if retry_after else ""
        return f"HTTP {response.status} {reason}{suffix}".strip(), response.status, retry_after
    if isinstance(exc, RefusedHop):
        return str(exc), None, None
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "blocked by robots.txt", None, None
        if "max redirections" in text:
            limit = settings.getint("REDIRECT_MAX_TIMES")
            return f"too many redirects (more than {limit}; a redirect loop?)", None, None
        if "DOWNLOAD_MAXSIZE" in text:
            limit = settings.getint("DOWNLOAD_MAXSIZE")
            return f"response exceeds max_bytes ({limit} bytes) when decompressed", None, None
        return f"request ignored: {text}", None, None
    text = str(exc)
    if "max size" in text:
        limit = settings.getint("DOWNLOAD_MAXSIZE")
        return f"response exceeds max_bytes ({limit} bytes)", None, None
    name = type(exc).__name__
    if "Timeout" in name or "TimedOut" in name:
        timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        return f"timed out after {timeout:g}s", None, None
    return _describe_exc(exc), None, None


_FRIENDLY = {
    "ConnectionDone": "connection closed before a complete response",
    "ConnectionLost": "connection closed before a complete response",
    "ConnectionRefusedError": "connection refused",
    "DownloadConnectionRefusedError": "connection refused",
    "DNSLookupError": "DNS lookup failed",
    "CannotResolveHostError": "DNS lookup failed",
    "ResponseDataLossError": "response cut short (data loss)",
    "SSLError": "TLS handshake or certificate verification failed",
}


def _describe_exc(exc: BaseException) -> str:
    """A short reason; wrapped Twisted failures are described by what they wrap."""
    cause = exc.__cause__
    reasons = getattr(cause if cause is not None else exc, "reasons", None) or []
    inner = [f.value for f in reasons if isinstance(f, Failure)]
    if inner and isinstance(inner[0], BaseException):
        return _describe_exc(inner[0])
    return _FRIENDLY.get(type(exc).__name__) or one_line(exc)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _note(run: SourceRun, note: str) -> None:
    if len(run.outcome.warnings) < MAX_NOTES:
        run.outcome.warnings.append(note[:300])
