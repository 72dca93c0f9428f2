"""Parser processes (crawler.parse_pool): jobs run on another core, with the same results,
and a job that hangs or kills its process costs that job alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from benchmarks.newsserver import NewsServer
from benchmarks.procfs import exited
from crawler.dedupe import prepare
from crawler.errors import CollectError
from crawler.feed_job import read_for_storage
from crawler.normalize import normalize
from crawler.parse import FeedError, feed_parts, open_feed, read_feed
from crawler.parse_pool import (
    POOLED_MAX_BYTES,
    START_BACKLOG,
    ParsePool,
    PoolUnavailable,
    auto_workers,
)
from tests.conftest import _corpus_dir
from tests.crawler.conftest import FAST, REPO, feed

FEEDS = _corpus_dir() / "feeds"


@pytest.fixture
def pool() -> Any:
    pool = ParsePool(1, timeout=5)
    yield pool
    pool.close()


def big_feed(items: int) -> bytes:
    body = "".join(
        f"<item><title>Item {i}</title><link>http://example.org/{i}</link>"
        f"<guid>g{i}</guid><description>&lt;p&gt;Text {i}&lt;/p&gt;</description></item>"
        for i in range(items)
    )
    return f'<rss version="2.0"><channel><title>Big</title>{body}</channel></rss>'.encode()


def wait_gone(pid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not exited(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.05)


def test_jobs_run_in_one_other_process_that_is_kept(pool: ParsePool) -> None:
    first = pool.call(os.getpid)
    assert first != os.getpid()
    assert pool.call(os.getpid) == first
    assert pool.pids() == [first]


def test_a_jobs_exception_is_raised_here_and_its_process_lives_on(pool: ParsePool) -> None:
    pid = pool.call(os.getpid)
    with pytest.raises(FeedError, match="no RSS, Atom or RDF feed found in an HTML page"):
        pool.call(read_feed, b"<html><body>hello</body></html>", url="http://a/", source_id="s")
    assert pool.call(os.getpid) == pid


def test_a_hung_job_is_stopped_and_the_next_job_gets_a_new_process(pool: ParsePool) -> None:
    pid = pool.call(os.getpid)
    started = time.monotonic()
    with pytest.raises(CollectError, match="longer than 5 s; the parser process was stopped"):
        pool.call(time.sleep, 600)
    assert time.monotonic() - started < 60
    wait_gone(pid)
    fresh = pool.call(os.getpid)
    assert fresh != pid
    assert pool.pids() == [fresh]


@pytest.mark.parametrize(
    ("kill", "reason"),
    [
        ((os._exit, 3), "exit code 3"),
        ((os.kill, 0, signal.SIGKILL), "signal 9"),  # pid 0: the job's own process group
    ],
    ids=["exit", "sigkill"],
)
def test_a_job_that_ends_its_process_fails_with_the_reason(
    pool: ParsePool, kill: tuple[Any, ...], reason: str
) -> None:
    pid = pool.call(os.getpid)
    if kill[0] is os.kill:  # kill only the parser process, not our own group
        kill = (os.kill, pid, signal.SIGKILL)
    with pytest.raises(CollectError, match=f"the parser process died \\({reason}\\)"):
        pool.call(*kill)
    assert pool.call(os.getpid) not in (pid, os.getpid())


def test_an_idle_process_is_ended_and_the_next_job_starts_another() -> None:
    pool = ParsePool(1, idle=0.5)
    try:
        pid = pool.call(os.getpid)
        wait_gone(pid, timeout=20)
        assert pool.pids() == []
        assert pool.call(os.getpid) not in (pid, os.getpid())
    finally:
        pool.close()


def test_a_process_killed_between_jobs_is_replaced(pool: ParsePool) -> None:
    pid = pool.call(os.getpid)
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    assert pool.call(os.getpid) != pid


def test_questions_are_answered_by_the_callers_callback(pool: ParsePool) -> None:
    """A feed larger than a batch asks which guids are stored, as it does in a thread."""
    body = big_feed(1_200)
    asked: list[int] = []

    def known(guids: list[str]) -> set[str]:
        asked.append(len(guids))
        return {g for g in guids if g.endswith("7")}

    pooled = pool.call(read_feed, body, url="http://a/f", source_id="s", callback=known)
    there = list(asked)
    asked.clear()
    local = list(feed_parts(open_feed(body, url="http://a/f", source_id="s", known_guids=known)))
    assert there == asked == [500, 500, 200]
    assert pooled == local
    assert sum(len(p.entries) for p in pooled) == 1_080
    assert sum(sum(p.skipped.values()) for p in pooled) == 120


def test_a_failing_callback_raises_here_and_the_process_lives_on(pool: ParsePool) -> None:
    pid = pool.call(os.getpid)

    def broken(guids: list[str]) -> set[str]:
        raise ConnectionError("database gone")

    with pytest.raises(ConnectionError, match="database gone"):
        pool.call(read_feed, big_feed(600), url="http://a/f", source_id="s", callback=broken)
    assert pool.call(os.getpid) == pid


def test_threads_share_the_pool_and_each_gets_its_own_answer() -> None:
    pool = ParsePool(2, timeout=30)
    try:
        with ThreadPoolExecutor(8) as threads:
            sizes = list(threads.map(lambda n: pool.call(len, "x" * n), range(200)))
        assert sizes == list(range(200))
        assert 1 <= len(pool.pids()) <= 2
    finally:
        pids = pool.pids()
        pool.close()
    for pid in pids:
        wait_gone(pid)


def test_parser_processes_end_with_their_parent() -> None:
    """A daemon killed with SIGKILL leaves no parser process behind."""
    code = textwrap.dedent(
        """
        import os, sys, time
        from crawler.parse_pool import ParsePool
        print(ParsePool(1).call(os.getpid), flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert not exited(child)
    parent.kill()
    parent.wait()
    wait_gone(child)


def _corpus_feeds() -> list[Path]:
    if not FEEDS.is_dir():
        return []
    return sorted(
        p
        for p in FEEDS.rglob("*")
        if p.is_file() and "sitemap" not in p.name and p.stat().st_size <= POOLED_MAX_BYTES
    )


def _here(body: bytes, args: dict[str, Any]) -> Any:
    """What the crawling process makes of a feed without a parser process."""
    parts = list(feed_parts(open_feed(body, **args)))
    items = [normalize(e, language=args["language"], tags=["ip"]) for p in parts for e in p.entries]
    texts = [n and prepare(n.title, n.body or n.summary, n.content_hash, n.key_text) for n in items]
    return parts, items, texts


def _there(pool: ParsePool, body: bytes, args: dict[str, Any]) -> Any:
    """The same from a parser process: parts, normalised items and their text work."""
    parts = pool.call(read_for_storage, body, tags=("ip",), **args)
    items = [n for p in parts for n in p.normalized]
    for p in parts:
        p.normalized = None
    return parts, items, [n and n.prepared for n in items]


def test_every_corpus_feed_parses_the_same_in_a_parser_process(corpus_dir: Path) -> None:
    """Entries, notes, skips, normalised items and their text work: all equal."""
    files = _corpus_feeds()
    assert len(files) > 400
    pool = ParsePool(1, timeout=60)
    differ: list[str] = []
    stored = 0
    try:
        for path in files:
            body = path.read_bytes()
            args: dict[str, Any] = {
                "url": f"http://example.org/{path.name}",
                "source_id": "c",
                "language": "en",
            }
            try:
                local: Any = _here(body, args)
            except FeedError as exc:
                local = f"FeedError: {exc}"
            try:
                pooled: Any = _there(pool, body, args)
            except FeedError as exc:
                pooled = f"FeedError: {exc}"
            if pooled != local:
                differ.append(str(path.relative_to(FEEDS)))
            elif not isinstance(local, str):
                stored += sum(t is not None for t in local[2])
    finally:
        pool.close()
    assert differ == []
    assert stored > 1_000


def _outcomes(poller: Any, sources: list[dict[str, Any]], **crawl: Any) -> dict[str, Any]:
    outcomes = poller.poll(sources, {**FAST, "timeout": "30s", **crawl})
    keep = ("status", "error", "found", "new", "skipped")
    return {sid: {k: o[k] for k in keep} for sid, o in outcomes.items()}


def test_an_on_demand_pool_is_wanted_once_parsing_backs_up_and_while_it_runs() -> None:
    eager = ParsePool(1, timeout=30)
    lazy = ParsePool(1, timeout=30, on_demand=True)
    try:
        assert eager.wanted(0)
        assert not lazy.wanted(0)
        assert not lazy.wanted(START_BACKLOG - 1)
        assert lazy.wanted(START_BACKLOG)
        assert lazy.call(os.getpid) != os.getpid()
        assert lazy.wanted(0)  # its process runs: every page goes there
        lazy.unavailable = "cannot start"
        assert not lazy.wanted(START_BACKLOG)
    finally:
        eager.close()
        lazy.close()


@pytest.mark.skipif(auto_workers() == 0, reason="one core: no parser process by default")
def test_by_default_a_small_pass_parses_here_and_a_large_one_starts_a_parser_process(
    sqlite_db: Any, poller_factory: Any
) -> None:
    """With ``parse_workers`` unset, a poll of a few feeds is spared a process (its start-up
    and memory); a pass whose pages queue for parsing gets one, and stores the same way."""
    url, _ = sqlite_db
    poller = poller_factory(url)
    with NewsServer(hosts=5, feeds_per_host=1, items_per_feed=20) as few:
        out = poller.poll([feed(f"few{i}", u) for i, u in enumerate(few.feed_urls())], FAST)
        assert [o["new"] for o in out.values()] == [20] * 5
        assert poller.descendants() == []
    with NewsServer(hosts=4, feeds_per_host=25, items_per_feed=20) as many:
        out = poller.poll([feed(f"many{i}", u) for i, u in enumerate(many.feed_urls())], FAST)
        assert [o["new"] for o in out.values()] == [20] * 100
        assert len(poller.descendants()) == 1


def test_a_pass_stores_the_same_with_parser_processes_as_without(
    corpus_dir: Path, tmp_path: Path, poller_factory: Any
) -> None:
    """The same real and generated feeds, two passes each way into its own database (the
    second fetches the article pages of the ``fetch_article`` sources): the same outcome for
    every source and the same archive; only ``parse_workers: 1`` has a child process."""
    from crawler.db import make_engine
    from scheduler.migrate import upgrade

    files = _corpus_feeds()[::25]
    with NewsServer(hosts=4, feeds_per_host=5, items_per_feed=20) as srv:
        sources = [
            feed(f"gen{i}", url, fetch_article=i % 5 == 0) for i, url in enumerate(srv.feed_urls())
        ]
        ids = srv.feed_ids()
        for n in range(10):  # stories published on three feeds each
            item = srv.publish(ids[n], f"Patent pact number {n} signed", f"Story {n}. " * 40)
            srv.syndicate(item, [ids[(n + 7) % len(ids)], ids[(n + 13) % len(ids)]])
        for n, path in enumerate(files):
            url = srv.add_static(f"/corpus/{n}.xml", path.read_bytes(), {}, host=n % 4)
            sources.append(feed(f"c{n}", url))
        results, stored = {}, {}
        for workers in (0, 1):
            engine = make_engine(f"sqlite:///{tmp_path / f'w{workers}.db'}")
            upgrade(engine)
            poller = poller_factory(str(engine.url))
            results[workers] = [_outcomes(poller, sources, parse_workers=workers) for _ in "12"]
            assert len(poller.descendants()) == workers
            stored[workers] = _archive(engine)
            engine.dispose()
    assert results[1] == results[0]
    assert sum(o["new"] for o in results[1][0].values()) > 400
    assert stored[1] == stored[0]
    articles, stories = stored[1]
    assert len(stories) < len(articles)  # syndicated copies joined stories
    assert sum(bool(a[5]) for a in articles) >= 40  # text from the article pages


def _archive(engine: Any) -> tuple[set[tuple[Any, ...]], set[frozenset[str]]]:
    """The stored articles (identity, text, hash, signature) and the story partition."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source_id, url, guid, title, summary, body, language, tags,"
                " published_at, content_hash, minhash, story_id FROM articles"
            )
        ).all()
    articles = {tuple(r[:-1]) for r in rows}
    stories: dict[int, set[str]] = {}
    for r in rows:
        stories.setdefault(r.story_id, set()).add(f"{r.source_id} {r.url} {r.guid}")
    return articles, {frozenset(members) for members in stories.values()}


def test_a_parser_crash_fails_its_source_alone_and_loses_nothing(
    sqlite_db: Any, poller_factory: Any, server: NewsServer
) -> None:
    """A page that kills the parser process (a crash in a C parser): its source fails with
    the reason, every other source stores its entries in the same pass, and the crashed
    source's entries are all stored once the page parses again (no validator was kept)."""
    url, _ = sqlite_db
    urls = server.feed_urls()
    sources = [feed("crash-1", urls[0])] + [feed(f"ok-{i}", u) for i, u in enumerate(urls[1:])]
    poller = poller_factory(url, setup="tests.crawler.parser_faults:install")
    first = _outcomes(poller, sources, parse_workers=1)
    assert first["crash-1"]["status"] == "failed"
    assert first["crash-1"]["error"] == "the parser process died (signal 9)"
    assert all(first[s["id"]]["new"] == 5 for s in sources[1:]), first
    assert "Traceback" not in poller.close()

    healthy = poller_factory(url)
    again = _outcomes(healthy, sources, parse_workers=1)
    assert again["crash-1"]["status"] == "ok"
    assert again["crash-1"]["new"] == 5


def test_a_pool_whose_processes_cannot_start_says_so_once_and_feeds_parse_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A child that fails at start (here: its module is missing) makes the pool unavailable:
    one error in the log, and the feed collector parses in its own process, same result."""
    from scrapy.http import XmlResponse

    from crawler import parse_pool
    from crawler.collectors.base import SourceRun
    from crawler.collectors.feed import FeedCollector
    from crawler.middlewares import Fetch
    from crawler.sources import FeedSource

    monkeypatch.setattr(parse_pool, "CHILD_MODULE", "crawler.no_such_module")
    pool = ParsePool(1, timeout=30)
    with pytest.raises(PoolUnavailable, match=r"died at start \(exit code 1\)"):
        pool.call(os.getpid)
    with pytest.raises(PoolUnavailable):
        pool.call(os.getpid)
    assert [r.levelname for r in caplog.records if "parser process" in r.message] == ["ERROR"]

    config = FeedSource(id="s", type="rss", url="http://example.org/feed.xml")
    response = XmlResponse(url=config.url, body=big_feed(30), headers={})
    collector = FeedCollector()
    pooled = collector.parse_with(pool, response, SourceRun(config, config.url), Fetch("s"))
    here = collector.parse(response, SourceRun(config, config.url), Fetch("s"))
    assert len(pooled.entries) == 30
    assert pooled.entries == here.entries
    assert pooled.normalized is None  # normalised later, by the crawl


def test_a_missing_interpreter_makes_the_pool_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    with pytest.raises(PoolUnavailable, match=r"cannot start a parser process: .*No such file"):
        ParsePool(1).call(os.getpid)


def test_an_exiting_process_does_not_wait_for_a_hung_parse() -> None:
    """The threads that wait for parsers do not hold the interpreter's exit; the parser is
    ended with it."""
    code = textwrap.dedent(
        """
        import os, sys, time
        from crawler.parse_pool import shared_pool
        pool = shared_pool(1)
        print(pool.call(os.getpid), flush=True)
        pool.threads.submit(pool.call, time.sleep, 600)
        time.sleep(1)
        """
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    wait_gone(int(done.stdout.split()[0]))


def test_an_article_page_that_crashes_the_extractor_loses_only_its_text(
    sqlite_db: Any, poller_factory: Any, server: NewsServer
) -> None:
    """Article pages are extracted in parser processes too: a page that kills one keeps its
    feed text and a note; the source's other work and other sources' pages are unharmed."""
    from crawler.models import Article

    url, sessions = sqlite_db
    ids, urls = server.feed_ids(), server.feed_urls()
    sources = [
        feed("pages", urls[0], fetch_article=True),
        feed("fine", urls[1], fetch_article=True),
    ]
    poller = poller_factory(url, setup="tests.crawler.parser_faults:install")
    crawl = {**FAST, "timeout": "30s", "parse_workers": 1}
    poller.poll(sources, crawl)  # the silent baseline fetches no article page
    text = "First paragraph of the ruling.\n\nSecond paragraph with the details."
    doomed = server.publish(ids[0], "Customs ruling on solar modules", "Short summary.", text)
    kept = server.publish(ids[1], "Patent office ruling on licences", "Short summary.", text)
    out = poller.poll(sources, crawl)
    assert (out["pages"]["status"], out["pages"]["new"]) == ("ok", 1)
    assert any("the parser process died (signal 9)" in w for w in out["pages"]["warnings"])
    assert (out["fine"]["status"], out["fine"]["new"]) == ("ok", 1)
    with sessions() as session:
        body = {a.url: a.body for a in session.query(Article).filter(Article.baseline.is_(False))}
    assert "Second paragraph with the details" in body[kept.url]
    assert "Second paragraph" not in body[doomed.url]


def test_a_module_in_the_working_directory_cannot_shadow_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon started in a directory holding a ``feedparser.py`` still parses with the real
    one: its parser processes do not put the working directory on their path."""
    import importlib.util

    (tmp_path / "feedparser.py").write_text("raise SystemExit('the wrong feedparser')\n")
    monkeypatch.chdir(tmp_path)
    pool = ParsePool(1, timeout=30)
    try:
        origin = pool.call(importlib.util.find_spec, "feedparser").origin
        assert not origin.startswith(str(tmp_path)), origin
        parts = pool.call(read_feed, big_feed(3), url="http://a/f", source_id="s")
        assert len(parts[0].entries) == 3
    finally:
        pool.close()
