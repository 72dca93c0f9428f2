"""archive: insert + dedupe rate while an archive grows, and search latency at its size.

Articles go through the real storage path in pages of ``PAGE`` (``crawler.store.store_many``:
one identity lookup, one multi-row insert, story assignment with MinHash bands by
``crawler.dedupe.attach_batch``, one transaction per page), as the crawler's item pipeline
stores the new entries of one response. The input is generated: unique articles over a
20,000-word vocabulary, 1 in 20 a lightly edited syndicated copy of a recent article from
another source (joins its story), 1 in 50 a re-post of a stored URL (an exact duplicate).

The rate is measured in windows of consecutive articles; the row compares the last window
against the first (the baseline), so a ratio near 1 means the rate stays flat. Growth stops
at the target size (1,000,000; ``quick`` 50,000) or when the time budget runs out
(``--full`` has none), and the notes give the size actually reached: nothing is
extrapolated. After growing, two reads are timed: ``wirewatch articles --search``
(``alerts.search.search_articles``: the full-text index's candidates verified by the
matcher, newest first, 50 rows) and a lookup by canonical URL. PostgreSQL is measured too
when a server answers on 127.0.0.1:5432 (user postgres), in a database created and dropped
here.
"""

from __future__ import annotations

import contextlib
import functools
import random
import statistics
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.registry import Result, RunOptions, register
from crawler.db import make_engine, session_factory
from crawler.items import Entry
from crawler.models import Article
from crawler.normalize import Normalized, normalize
from crawler.sources import FeedSource
from crawler.state import sync_sources
from crawler.store import store_many
from scheduler.migrate import upgrade

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SOURCES = 200
PAGE = 100  # articles per store_many call: the new entries of one feed page
_SYLLABLES = (
    "ka", "lo", "mi", "ten", "ra", "po", "su", "vel", "dor", "an", "ex", "tri", "mon", "sa",
    "qu", "lin", "ber", "go", "ni", "stra", "pel", "chi", "or", "ux", "van", "de", "rum",
)  # fmt: skip


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
def migrated_postgres(admin_url: str = PG_ADMIN_URL) -> Iterator[tuple[Engine, str]]:
    """A fresh migrated PostgreSQL database, dropped afterwards: (engine, url)."""
    name = f"wirewatch_bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
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


class ArticleStream:
    """Deterministic normalised articles: mostly unique, some syndicated, some re-posted.

    The vocabulary is the same for every seed; ``seed`` picks the texts and ``first`` the
    number after which article URLs are counted (streams with disjoint ranges never share a
    URL).
    """

    def __init__(self, seed: int = 0, vocabulary: int = 20_000, first: int = 0) -> None:
        self.words, self._cum = _vocabulary(vocabulary)
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
        item = normalize(
            Entry(
                source_id=raw.source, url=raw.url, title=raw.title, summary=raw.summary,
                body=raw.body, guid=raw.url,
            )
        )  # fmt: skip
        assert item is not None
        return item, raw.original

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


@functools.cache
def _vocabulary(size: int) -> tuple[list[str], list[float]]:
    """``size`` made-up words (the same for every stream) and their cumulative Zipf weights."""
    rng = random.Random(0)
    words: dict[str, None] = {}
    while len(words) < size:
        parts = rng.randint(2, 4)
        words["".join(rng.choice(_SYLLABLES) for _ in range(parts))] = None
    return list(words), list(_zipf_cum(size))


def _zipf_cum(n: int) -> Iterator[float]:
    total = 0.0
    for rank in range(1, n + 1):
        total += 1.0 / rank
        yield total


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


def search_latency(sessions: sessionmaker[Session], stream: ArticleStream) -> dict[str, float]:
    """Median milliseconds of the CLI search (a rare word, a missing word) and a URL lookup."""
    rare = stream.words[-1]  # the least frequent word of the Zipf vocabulary
    timings: dict[str, float] = {}
    for label, term in (("search_rare_ms", rare), ("search_missing_ms", "zzqqxnotaword")):
        timings[label] = _median_ms(lambda t=term: _search(sessions, t), 3)
    rng = random.Random(1)
    urls = [
        f"http://127.0.0.1/arc-{n % SOURCES:03d}/{n}.html"
        for n in (rng.randint(1, stream.count) for _ in range(200))
    ]
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


def _describe(g: Growth, window: int) -> str:
    if not g.windows:
        return f"{g.backend}: nothing measured"
    first = g.windows[0][1]
    last = g.windows[-1][1]
    s = g.search_ms
    stop = "time budget reached" if g.budget_hit else "target reached"
    return (
        f"{g.backend}: {g.size:,} articles in {g.seconds / 60:.1f} min ({stop}); "
        f"first {window:,}: {first:,.0f}/s, last {window:,}: {last:,.0f}/s "
        f"(min window {min(r for _, r in g.windows):,.0f}/s); "
        f"{g.stored:,} stored, {g.duplicates:,} exact dups; "
        f"search {s.get('search_rare_ms', 0):,.0f} ms (rare word), "
        f"{s.get('search_missing_ms', 0):,.0f} ms (no hit); "
        f"URL lookup {s.get('url_lookup_ms', 0):.2f} ms"
    )


@register("archive", "insert+dedupe rate: last window vs first while growing the archive")
def run(options: RunOptions) -> Result:
    target, window = (50_000, 5_000) if options.quick else (1_000_000, 10_000)
    sqlite_budget, pg_budget = (240.0, 120.0) if options.quick else (600.0, 300.0)
    if options.full:
        sqlite_budget = pg_budget = float("inf")
    with migrated_sqlite() as (engine, _):
        lite = grow(session_factory(engine), target, window, sqlite_budget, "SQLite")
    notes = [_describe(lite, window)]
    extra: dict[str, float | int | str] = {"sqlite_size": lite.size}
    if postgres_reachable():
        with migrated_postgres() as (engine, _):
            pg = grow(session_factory(engine), target, window, pg_budget, "PostgreSQL")
        notes.append(_describe(pg, window))
        extra |= {"pg_size": pg.size, "pg_first": pg.first or 0, "pg_last": pg.last or 0}
    else:
        notes.append("PostgreSQL: not reachable on 127.0.0.1:5432, not measured")
    if lite.budget_hit:
        notes.append(
            f"target {target:,} not reached within the time budget: measured up to the size "
            "reached, nothing extrapolated"
        )
    return Result(
        name="archive",
        wirewatch=lite.last,
        baseline=lite.first,
        unit="articles/s (SQLite)",
        target="flat: ≥ 0.90× (last/first window)",
        notes="; ".join(notes),
        extra=extra | {k: v for k, v in lite.search_ms.items()},
    )
