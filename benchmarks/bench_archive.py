"""archive: insert + dedupe rate of the real storage path on an empty archive and on a large
one (1,000,000 articles with ``--full``), and lookup and search latency at that size.

What is bulk-loaded (not timed): the large archive, by ``benchmarks.archive_seed``: the rows
``crawler.store.store_many`` writes for each article (``articles`` with content hash and
MinHash signature, ``stories``, ``story_bands`` band keys, ``article_search`` keys and, on
SQLite, the FTS5 index), computed by the functions the real path calls and checked row for
row against it (``tests/benchmarks/test_archive_seed.py``), spread over a year. Growing it
through ``store_many`` would take many hours on a small machine. PostgreSQL gets the same
rows by COPY from the SQLite seed. Sizes: ``--quick`` 10,000, default 50,000, ``--full``
1,000,000.

What is timed: ``store_many`` itself, in pages of ``PAGE`` (one identity lookup, one
multi-row insert, story assignment with MinHash bands by ``crawler.dedupe.attach_batch``,
one transaction per page, as the crawler stores the new entries of one response), on a
generated stream: unique articles over a 20,000-word Zipf vocabulary, 1 in 20 a lightly
edited syndicated copy of a recent article from another source (joins its story), 1 in 50
a re-post of a stored URL (an exact duplicate). The same window of items is stored on a
fresh empty archive and on the large one, in alternating rounds (the order flips every
round) so that load drift on a shared machine hits both sides alike; the row gives the
median rate of each side and their ratio (``wirewatch`` = large, ``baseline`` = empty).
After the rounds, on the large archive: ``wirewatch articles --search``
(``alerts.search.search_articles``, 50 rows, the rarest word and a word in no article) and a
lookup by canonical URL of 200 stored articles. A daemon that collected the archive over a
year holds band keys for its last 28 days only (``crawler.retention.prune_bands``, every 6 h):
the seed holds just those, and the retention runs once more before the rounds.
PostgreSQL is measured too when a server answers on 127.0.0.1:5432 (user postgres), in
databases created and dropped here.

``$WIREWATCH_ARCHIVE_SEED_DIR`` keeps the SQLite seed there and a PostgreSQL template
database (``wirewatch_archive_seed_<n>_v<version>``) for later runs; without it both are
built per run and removed. ``$WIREWATCH_ARCHIVE_BACKENDS`` (``sqlite`` or ``postgresql``)
measures one database only.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.registry import Result, RunOptions, register
from benchmarks.vocabulary import vocabulary as vocabulary_of
from crawler.db import make_engine, session_factory
from crawler.items import Entry
from crawler.models import Article
from crawler.normalize import Normalized, normalize
from crawler.sources import FeedSource
from crawler.state import sync_sources
from crawler.store import Stored, store_many
from scheduler.migrate import upgrade

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SOURCES = 200
PAGE = 100  # articles per store_many call: the new entries of one feed page
TIMED_SEED = 900  # streams of the timed windows (the seed's chunks use other seeds)
TIMED_FIRST = 1_000_000_000  # their URLs are counted from here, beyond any seed's
SEED_DIR_ENV = "WIREWATCH_ARCHIVE_SEED_DIR"
BACKENDS_ENV = "WIREWATCH_ARCHIVE_BACKENDS"  # "sqlite", "postgresql" or both (default)
ROUND_URLS = 1_000_000  # URL numbers per timed round (windows never share a URL)
PROFILED = 2 * PAGE  # items of the window timed by SQL statement


# -- databases --------------------------------------------------------------------------------


@contextlib.contextmanager
def migrated_sqlite(prefix: str = "wirewatch-bench-") -> Iterator[tuple[Engine, str]]:
    """A fresh migrated SQLite database in a temporary directory: (engine, url)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine, url
        finally:
            engine.dispose()


def postgres_reachable(admin_url: str = PG_ADMIN_URL) -> bool:
    """True when a PostgreSQL server accepts the admin URL (loopback, user postgres)."""
    try:
        engine = make_engine(admin_url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def migrated_postgres(
    admin_url: str = PG_ADMIN_URL, template: str | None = None
) -> Iterator[tuple[Engine, str]]:
    """A fresh migrated PostgreSQL database (or a copy of ``template``), dropped afterwards:
    (engine, url)."""
    name = f"wirewatch_bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        clone = f' TEMPLATE "{template}" STRATEGY = FILE_COPY' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{clone}'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        if template is None:
            upgrade(engine)
        yield engine, url
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_sources(sessions: sessionmaker[Session], ids: list[str], base: str) -> None:
    """Create source rows (articles reference them) for ``ids``, feeds under ``base``."""
    configs = [FeedSource(id=sid, type="rss", url=f"{base}/{sid}.rss") for sid in ids]
    with sessions() as session, session.begin():
        sync_sources(session, configs, disable_missing=False)


# -- generated articles ---------------------------------------------------------------------


class Raw(NamedTuple):
    """A generated feed entry; ``original`` is the URL a syndicated copy copies."""

    source: str
    url: str
    title: str
    summary: str
    body: str
    original: str | None

    def normalized(self) -> Normalized:
        """This entry through ``crawler.normalize``, as the crawler stores it."""
        item = normalize(
            Entry(
                source_id=self.source, url=self.url, title=self.title, summary=self.summary,
                body=self.body, guid=self.url,
            )
        )  # fmt: skip
        assert item is not None
        return item


class ArticleStream:
    """Deterministic normalised articles: mostly unique, some syndicated, some re-posted.

    The vocabulary is the same for every seed; ``seed`` picks the texts and ``first`` the
    number after which article URLs are counted (streams with disjoint ranges never share a
    URL).
    """

    def __init__(self, seed: int = 0, vocabulary: int = 20_000, first: int = 0) -> None:
        self.words, self._cum = vocabulary_of(vocabulary)
        self._rng = random.Random(seed)
        self._recent: deque[Raw] = deque(maxlen=200)
        self.first = first
        self.count = first

    def _say(self, k: int) -> str:
        return " ".join(self._rng.choices(self.words, cum_weights=self._cum, k=k))

    def next(self) -> Normalized:
        """The next article to store."""
        return self.next_with_origin()[0]

    def next_with_origin(self) -> tuple[Normalized, str | None]:
        """The next article, and for a syndicated copy the URL of its original."""
        raw = self.next_raw()
        return raw.normalized(), raw.original

    def next_raw(self) -> Raw:
        """The next article as the feed gives it (before ``crawler.normalize``)."""
        self.count += 1
        n = self.count
        if n % 50 == 0 and self._recent:
            return self._rng.choice(self._recent)._replace(original=None)  # re-posted
        source = f"arc-{n % SOURCES:03d}"
        url = self.url(n)
        original: str | None = None
        if n % 20 == 0 and self._recent:
            orig = self._rng.choice(self._recent)
            original = orig.url
            words = orig.body.split()
            for _ in range(3):
                words[self._rng.randrange(len(words))] = self._rng.choice(self.words)
            title, summary, body = orig.title + " (wire)", orig.summary, " ".join(words)
        else:
            title = self._say(self._rng.randint(6, 12)).capitalize()
            summary = self._say(30)
            body = summary + "\n\n" + self._say(self._rng.randint(80, 160))
        raw = Raw(source, url, title, summary, body, original)
        self._recent.append(raw)
        return raw

    def url(self, n: int) -> str:
        """The URL of the ``n``-th article counted by any stream."""
        return f"http://127.0.0.1/arc-{n % SOURCES:03d}/{n}.html"


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Growth:
    """What growing one archive measured."""

    backend: str
    windows: list[tuple[int, float]] = field(default_factory=list)  # (size after, items/s)
    size: int = 0
    stored: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    budget_hit: bool = False
    search_ms: dict[str, float] = field(default_factory=dict)

    @property
    def first(self) -> float | None:
        return self.windows[0][1] if self.windows else None

    @property
    def last(self) -> float | None:
        return self.windows[-1][1] if len(self.windows) > 1 else None


def grow(
    sessions: sessionmaker[Session],
    target: int,
    window: int,
    budget: float,
    backend: str = "sqlite",
    on_window: Callable[[int, float], None] | None = None,
) -> Growth:
    """Store generated articles until ``target`` or ``budget`` seconds; rate per window.

    Only whole windows count, so the last window is always ``window`` consecutive articles.
    """
    stream = ArticleStream()
    add_sources(sessions, [f"arc-{i:03d}" for i in range(SOURCES)], "http://127.0.0.1")
    growth = Growth(backend)
    started = time.perf_counter()
    windows = max(1, target // window)
    for _ in range(windows):
        window_start = time.perf_counter()
        for start in range(0, window, PAGE):
            page = [stream.next() for _ in range(min(PAGE, window - start))]
            for result in store_many(sessions, page, baseline=True):
                if result.article_id is None:
                    growth.duplicates += 1
                else:
                    growth.stored += 1
        elapsed = time.perf_counter() - window_start
        growth.size = stream.count
        growth.windows.append((stream.count, window / elapsed if elapsed > 0 else 0.0))
        if on_window is not None:
            on_window(*growth.windows[-1])
        if time.perf_counter() - started + elapsed > budget and growth.size < target:
            growth.budget_hit = True
            break
    growth.seconds = time.perf_counter() - started
    growth.search_ms = search_latency(sessions, stream)
    return growth


def search_latency(
    sessions: sessionmaker[Session], stream: ArticleStream, urls: list[str] | None = None
) -> dict[str, float]:
    """Median milliseconds of the CLI search (a rare word, a missing word) and the mean of
    200 lookups by canonical URL (``urls``, or URLs the stream counted)."""
    rare = stream.words[-1]  # the least frequent word of the Zipf vocabulary
    timings: dict[str, float] = {}
    for label, term in (("search_rare_ms", rare), ("search_missing_ms", "zzqqxnotaword")):
        _search(sessions, term)  # warm
        timings[label] = _median_ms(lambda t=term: _search(sessions, t), 5)
    if urls is None:
        rng = random.Random(1)
        urls = [stream.url(rng.randint(1, stream.count)) for _ in range(200)]
    with sessions() as session:
        started = time.perf_counter()
        for url in urls:
            session.scalar(select(Article.id).where(Article.canonical_url == url))
        timings["url_lookup_ms"] = (time.perf_counter() - started) * 1000 / len(urls)
    return timings


def _search(sessions: sessionmaker[Session], term: str, limit: int = 50) -> int:
    """The ``wirewatch articles --search`` query."""
    from alerts.search import search_articles

    with sessions() as session:
        return len(search_articles(session, term, limit=limit).hits)


def _median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# -- the archive at size: real-path windows, empty vs bulk-loaded ---------------------------


@dataclass
class Leg:
    """One database: rates of the real storage path on an empty and on the large archive."""

    backend: str
    size: int  # articles in the large archive before the timed windows
    load_s: float  # seconds to bulk-load (or copy) it
    empty: list[float] = field(default_factory=list)  # articles/s per round
    large: list[float] = field(default_factory=list)
    # articles per CPU second of this process (SQLite works in-process; PostgreSQL's server
    # work is not counted): less sensitive to the share of the machine the process gets
    empty_cpu: list[float] = field(default_factory=list)
    large_cpu: list[float] = field(default_factory=list)
    stored: int = 0  # per side, over all rounds
    joined: int = 0  # of them, syndicated copies that joined a story
    duplicates: int = 0
    search_ms: dict[str, float] = field(default_factory=dict)
    pruned: int = 0  # band keys the daemon's retention removed before the rounds
    prune_s: float = 0.0
    # (total s, s by statement) of one profiled window: empty, large
    profile: tuple[tuple[float, dict[str, float]], ...] = ()

    @property
    def ratio(self) -> float:
        return statistics.median(self.large) / statistics.median(self.empty)

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.large_cpu) / statistics.median(self.empty_cpu)


def time_window(
    sessions: sessionmaker[Session], items: list[Normalized]
) -> tuple[float, float, list[Stored]]:
    """Store ``items`` through ``store_many`` in pages of ``PAGE``; (articles/s, articles per
    CPU second of this process, results)."""
    results: list[Stored] = []
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(items), PAGE):
        results.extend(store_many(sessions, items[start : start + PAGE], baseline=True))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(items) / wall, len(items) / max(cpu, 1e-9), results


def _window_items(round_: int, window: int) -> list[Normalized]:
    """The timed stream of a round: the same for both archives, URLs beyond the seed's."""
    stream = ArticleStream(seed=TIMED_SEED + round_, first=TIMED_FIRST + round_ * ROUND_URLS)
    return [stream.next() for _ in range(window)]


def measure_leg(
    backend: str,
    large: Engine,
    empty: Callable[[], contextlib.AbstractContextManager[tuple[Engine, str]]],
    size: int,
    load_s: float,
    window: int,
    rounds: int,
    log: Callable[[str], None] = lambda _: None,
) -> Leg:
    """Alternate real-path windows on a fresh empty archive and on ``large`` (see above)."""
    leg = Leg(backend, size, load_s)
    large_sessions = session_factory(large)
    leg.pruned, leg.prune_s = keep_as_the_daemon_does(large_sessions)
    log(f"{backend}: retention removed {leg.pruned:,} band keys in {leg.prune_s:.0f} s")
    sources = [f"arc-{i:03d}" for i in range(SOURCES)]

    def on_empty(items: list[Normalized]) -> tuple[float, float, list[Stored]]:
        with empty() as (engine, _):
            sessions = session_factory(engine)
            add_sources(sessions, sources, "http://127.0.0.1")
            return time_window(sessions, items)

    warm = _window_items(-1, PAGE)  # one untimed page each: imports, statement caches
    on_empty(warm)
    time_window(large_sessions, warm)
    for r in range(rounds):
        items = _window_items(r, window)
        sides = [("empty", on_empty), ("large", lambda i: time_window(large_sessions, i))]
        for side, store in sides if r % 2 == 0 else sides[::-1]:
            rate, cpu_rate, results = store(items)
            (leg.empty if side == "empty" else leg.large).append(rate)
            (leg.empty_cpu if side == "empty" else leg.large_cpu).append(cpu_rate)
            if side == "large":
                leg.stored += sum(1 for x in results if x.article_id is not None)
                leg.joined += sum(1 for x in results if x.joined_story)
                leg.duplicates += sum(1 for x in results if x.duplicate_of)
            log(f"{backend} round {r + 1}/{rounds} {side}: {rate:,.1f}/s, {cpu_rate:,.1f}/CPU s")
    items = _window_items(rounds, PROFILED)  # a profiled window: where the time goes
    with empty() as (engine, _):
        add_sources(session_factory(engine), sources, "http://127.0.0.1")
        small = profile_window(engine, items)
    big = profile_window(large, items)
    leg.profile = (small, big)
    with large.connect() as conn:
        rng = random.Random(2)
        ids = [rng.randint(1, size) for _ in range(200)]
        urls = list(conn.scalars(select(Article.canonical_url).where(Article.id.in_(ids))))
    leg.search_ms = search_latency(large_sessions, ArticleStream(), urls)
    return leg


def keep_as_the_daemon_does(sessions: sessionmaker[Session]) -> tuple[int, float]:
    """Run the daemon's retention of band keys (``crawler.retention.prune_bands``, every 6 h
    in the daemon) on a bulk-loaded archive: a daemon that collected it over a year holds band
    keys for the last two story windows only. Returns (rows removed, seconds)."""
    from crawler.dedupe import WINDOW
    from crawler.retention import prune_bands

    started = time.perf_counter()
    with sessions.begin() as session:
        removed = prune_bands(session, datetime.now(UTC) - 2 * WINDOW)
    return removed, time.perf_counter() - started


class StatementTimes:
    """Seconds spent in each kind of SQL statement on an engine, while attached."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seconds: dict[str, float] = {}
        self._started: list[float] = []

    def __enter__(self) -> StatementTimes:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, *_: object) -> None:
        self._started.append(time.perf_counter())

    def _after(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        key = _statement_kind(statement)
        self.seconds[key] = self.seconds.get(key, 0.0) + elapsed


def _statement_kind(statement: str) -> str:
    """A short name for a statement: its verb and main table, and what it filters on."""
    words = " ".join(statement.split())
    lowered = words.lower()
    for marker, name in (
        ("row_number() over", "band candidates (story_bands window)"),
        ("story_bands", "story_bands insert" if lowered.startswith("insert") else "story_bands"),
        ("article_search", "search keys"),
        ("articles.canonical_url in", "identity: URLs"),
        ("articles.guid in", "identity: guids"),
        ("articles.content_hash in", "identity/exact: content hashes"),
        ("articles.minhash", "candidate signatures"),
        ("substr(", "candidate shapes"),
        ("insert into articles", "articles insert"),
        ("update articles", "articles story update"),
        ("stories", "stories write" if not lowered.startswith("select") else "stories read"),
    ):
        if marker in lowered:
            return name
    return words[:40]


def profile_window(engine: Engine, items: list[Normalized]) -> tuple[float, dict[str, float]]:
    """Store ``items`` with per-statement timing: (total seconds, seconds by statement)."""
    with StatementTimes(engine) as times:
        started = time.perf_counter()
        time_window(session_factory(engine), items)
        total = time.perf_counter() - started
    return total, times.seconds


def _describe(leg: Leg, window: int) -> str:
    s = leg.search_ms
    rounds = ", ".join(f"{a:,.0f}/{b:,.0f}" for a, b in zip(leg.empty, leg.large, strict=True))
    return (
        f"{leg.backend}: {leg.size:,} articles bulk-loaded"
        + (f" in {leg.load_s / 60:.1f} min; " if leg.load_s > 60 else "; ")
        + f"the daemon's band-key retention then removed {leg.pruned:,} keys older than two "
        f"story windows ({leg.prune_s:.0f} s, untimed); "
        + f"real-path windows of {window:,} (empty/large, articles/s by round): {rounds}; "
        f"median {statistics.median(leg.empty):,.0f}/s empty vs "
        f"{statistics.median(leg.large):,.0f}/s at {leg.size:,} = {leg.ratio:.2f}×; "
        f"per CPU second of the benchmark process {statistics.median(leg.empty_cpu):,.0f} vs "
        f"{statistics.median(leg.large_cpu):,.0f} = {leg.cpu_ratio:.2f}×; "
        f"large side stored {leg.stored:,} ({leg.joined:,} joined a story), "
        f"{leg.duplicates:,} exact dups; at {leg.size:,}: search "
        f"{s.get('search_rare_ms', 0):,.1f} ms (rare word), "
        f"{s.get('search_missing_ms', 0):,.1f} ms (no hit), "
        f"URL lookup {s.get('url_lookup_ms', 0):.2f} ms" + _describe_profile(leg)
    )


def _describe_profile(leg: Leg) -> str:
    """The statements whose time grew most from the empty to the large archive."""
    if not leg.profile:
        return ""
    (small_total, small), (big_total, big) = leg.profile
    grown = sorted(big, key=lambda k: big[k] - small.get(k, 0.0), reverse=True)[:4]
    parts = ", ".join(f"{k} {small.get(k, 0.0):.1f}→{big[k]:.1f} s" for k in grown)
    sql = sum(big.values()), sum(small.values())
    return (
        f"; profiled window of {PROFILED} (empty→large): {small_total:.1f}→{big_total:.1f} s "
        f"in all, SQL {sql[1]:.1f}→{sql[0]:.1f} s; most grown: {parts}"
    )


@contextlib.contextmanager
def _seed_dir() -> Iterator[Path]:
    """Where seeds are kept: ``$WIREWATCH_ARCHIVE_SEED_DIR`` (reused across runs) or a
    temporary directory."""
    keep = os.environ.get(SEED_DIR_ENV)
    if keep:
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix="wirewatch-archive-seed-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def _copied_sqlite(seed: Path) -> Iterator[Engine]:
    """A private copy of the seed archive (the timed windows write to it)."""
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-", dir=seed.parent) as tmp:
        path = Path(tmp) / "archive.db"
        shutil.copyfile(seed, path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            upgrade(engine)  # a seed kept from an older schema gets the later migrations
            yield engine
        finally:
            engine.dispose()


def _log(message: str) -> None:
    print(f"  archive {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


@register("archive", "insert+dedupe rate of the real path: empty archive vs 1M bulk-loaded")
def run(options: RunOptions) -> Result:
    """See the module docstring."""
    from benchmarks.archive_seed import copy_to_postgres, pg_template, seed_file

    n, window, rounds = (
        (10_000, 200, 2) if options.quick else (1_000_000, 500, 3) if options.full
        else (50_000, 500, 3)
    )  # fmt: skip
    rounds = options.rounds or rounds
    backends = os.environ.get(BACKENDS_ENV, "sqlite,postgresql").lower().split(",")
    legs: list[Leg] = []
    with _seed_dir() as directory:
        started = time.perf_counter()
        seed = seed_file(n, directory, log=_log)
        built = time.perf_counter() - started
        if "sqlite" in backends:
            with _copied_sqlite(seed) as engine:
                legs.append(
                    measure_leg("SQLite", engine, migrated_sqlite, n, built, window, rounds, _log)
                )
        if "postgresql" in backends and postgres_reachable():
            started = time.perf_counter()
            if os.environ.get(SEED_DIR_ENV):  # kept: a template database, cloned per run
                template = pg_template(seed, n, PG_ADMIN_URL, log=_log)
                database = migrated_postgres(template=template)
            else:
                database = migrated_postgres()
            with database as (engine, _):
                if not os.environ.get(SEED_DIR_ENV):
                    sources = [f"arc-{i:03d}" for i in range(SOURCES)]
                    add_sources(session_factory(engine), sources, "http://127.0.0.1")
                    copy_to_postgres(str(seed), engine, log=_log)
                copied = time.perf_counter() - started
                legs.append(
                    measure_leg(
                        "PostgreSQL", engine, migrated_postgres, n, copied, window, rounds, _log
                    )
                )
    notes = [_describe(leg, window) for leg in legs]
    if not any(leg.backend == "PostgreSQL" for leg in legs) and "postgresql" in backends:
        notes.append("PostgreSQL: not reachable on 127.0.0.1:5432, not measured")
    notes.append(
        "bulk-loaded (not timed): the archive's articles, stories, signatures, band keys and "
        "search keys, the rows store_many writes (benchmarks/archive_seed.py), spread over a "
        "year; timed: store_many in pages of 100 on a generated stream (1 in 20 a syndicated "
        "copy joining a story, 1 in 50 an exact re-post), the same items on a fresh empty "
        f"archive and on the large one, alternating, {rounds} rounds"
        + (f"; seed built in {built / 60:.1f} min" if built > 60 else "; seed reused")
    )
    extra: dict[str, float | int | str] = {"size": n, "window": window, "rounds": rounds}
    for leg in legs:
        prefix = "sqlite" if leg.backend == "SQLite" else "pg"
        extra |= {
            f"{prefix}_empty": statistics.median(leg.empty),
            f"{prefix}_large": statistics.median(leg.large),
            f"{prefix}_ratio": round(leg.ratio, 3),
            f"{prefix}_cpu_ratio": round(leg.cpu_ratio, 3),
        } | {f"{prefix}_{k}": v for k, v in leg.search_ms.items()}
    main = legs[0]
    return Result(
        name="archive",
        wirewatch=statistics.median(main.large),
        baseline=statistics.median(main.empty),
        unit=f"articles/s ({main.backend}, at {n:,} vs empty)",
        target="≥ 0.80× (rate at 1,000,000 vs empty archive)",
        notes="; ".join(notes),
        extra=extra,
    )
