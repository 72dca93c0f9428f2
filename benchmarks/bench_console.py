"""console: page latency of the web console over a large archive, SQLite and PostgreSQL.

The archive is generated and bulk-inserted (no dedupe, it is not what is measured):
1,000 sources (one in ten Chinese), articles spread evenly over the last 365 days, one in
twenty a second article of an earlier story; a few carry the Taiwan-US MOU story in English
or Chinese, and the stories the bundled ``taiwan-us-ip`` watchlist matches have a match and
two deliveries each, as the daemon would have written them. Sizes: ``--quick`` 20,000
articles, the default 200,000, ``--full`` 1,000,000.

Measured through a real ``scheduler.http.HttpServer`` on loopback (urllib, one request at a
time, after ANALYZE): the story list (first page, a page deep in the archive by cursor,
filtered by watchlist and by source, and a search, which reads at most 50,000 articles per
page), the story page of random stories, and the try-out of
the bundled watchlist over the last 30 days. p50 and p95 per kind. The baseline is the deep
page fetched by OFFSET instead of the cursor (what the cursor saves).
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, insert, select, text

from alerts.models import Delivery, Match
from benchmarks.bench_archive import migrated_postgres, migrated_sqlite, postgres_reachable
from benchmarks.registry import Result, RunOptions, register
from crawler.db import session_factory
from crawler.models import Article, Source, Story
from crawler.search_index import index_articles

REPO = Path(__file__).resolve().parents[1]
SOURCES = 1000
DAYS = 365
BATCH = 5000
EN_STORY = (
    "Taiwan's Ministry of Economic Affairs signed six memoranda of understanding with US "
    "firms including Microsoft and Boeing, among them patent licensing pacts."
)
ZH_STORY = "經濟部率團赴美，與美國微軟、波音等企業簽署6項合作備忘錄，內容涵蓋專利授權。"
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ten",
    "ra",
    "po",
    "su",
    "vel",
    "dor",
    "an",
    "ex",
    "tri",
    "mon",
    "sa",
    "qu",
    "lin",
    "ber",
    "go",
    "ni",
    "stra",
    "pel",
    "chi",
    "or",
]
_HANZI = "的一是不了人我在有他這中大來上國個到說們為子和你地出道也時年得就那要下以生會自著去之過家學對可她裡後小麼心多天而能好都然沒日於起還發成事只作當想看文無開手十用主行方又如前所本見經頭面公同三已老從動兩長知民樣現分將外但身些與高意進把法此實回二理美點月明其種聲全工己話兒者向情部正名定女問力機給等幾很業最間新什打便位因重被走電四第門相次東政海口使教西再平真聽世氣信北少關並內加化由卻代軍產入先山五太水萬市眼體別處總才場師書比住員九笑性通目華報立馬命張活難神數件安表原車白應路期叫死常提感金何更反合放做系計或司利受光王果親界及今京務制解各任至清物台特其"  # noqa: E501


@dataclass
class Archive:
    """What was seeded: sizes and ids to ask for."""

    articles: int
    stories: int
    story_ids: list[int]
    matched: list[int]
    seconds: float


def _texts(rng: random.Random) -> tuple[list[str], list[str]]:
    words = list(
        {"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(20000)}
    )
    latin = [" ".join(rng.choices(words, k=45)) for _ in range(3000)]
    hanzi = ["".join(rng.choices(_HANZI, k=120)) + "。" for _ in range(1000)]
    return latin, hanzi


def seed(engine: Engine, n: int, *, now: datetime, seed: int = 7, days: int = DAYS) -> Archive:
    """Bulk-insert ``n`` articles from ``SOURCES`` sources over ``DAYS`` days (see above)."""
    rng = random.Random(seed)
    latin, hanzi = _texts(rng)
    started = time.perf_counter()
    sessions = session_factory(engine)
    with sessions.begin() as s:
        s.execute(
            insert(Source),
            [
                {
                    "id": f"src-{i:04d}",
                    "type": "rss",
                    "url": f"http://127.0.0.1/{i}.rss",
                    "config_url": f"http://127.0.0.1/{i}.rss",
                    "state": "ok",
                    "last_success_at": now,
                    "next_poll_at": now + timedelta(minutes=30),
                }
                for i in range(SOURCES)
            ],
        )
    span = days * 86400
    story_ids: list[int] = []
    matched: list[int] = []
    stories: list[dict[str, Any]] = []
    articles: list[dict[str, Any]] = []
    story_id = 0

    def flush() -> None:
        with engine.begin() as conn:
            if stories:
                conn.execute(insert(Story), stories)
            conn.execute(insert(Article), articles)
            index_articles(conn, [SimpleNamespace(**a) for a in articles])  # as ingest does
        stories.clear()
        articles.clear()

    for i in range(1, n + 1):
        when = now - timedelta(seconds=span * (n - i) / n)
        src = i % SOURCES
        zh = src % 10 == 0
        pool = hanzi if zh else latin
        body = rng.choice(pool) + "\n\n" + rng.choice(pool)
        title = (rng.choice(pool)[:30] if zh else " ".join(rng.choice(latin).split()[:8])).strip()
        special = rng.random()
        if special < 0.004:
            body, title = (
                (ZH_STORY, "經濟部與美國企業簽署合作備忘錄")
                if zh
                else (EN_STORY, "Taiwan deepens high-tech cooperation with US")
            )
        if i % 20 == 0 and story_ids:
            sid = story_ids[-rng.randint(1, min(len(story_ids), 500))]
        else:
            story_id += 1
            sid = story_id
            story_ids.append(sid)
            stories.append(
                {
                    "id": sid,
                    "lead_article_id": i,
                    "title": title,
                    "article_count": 1,
                    "first_seen_at": when,
                    "updated_at": when,
                }
            )
            if special < 0.004:
                matched.append(sid)
        url = f"http://127.0.0.1/{src}/{i}.html"
        articles.append(
            {
                "id": i,
                "source_id": f"src-{src:04d}",
                "story_id": sid,
                "url": url,
                "canonical_url": url,
                "guid": url,
                "title": title,
                "summary": body[:160],
                "body": body,
                "language": "zh" if zh else "en",
                "tags": [],
                "published_at": when,
                "fetched_at": when,
                "content_hash": f"{i:x}",
                "baseline": False,
                "matched_at": when,
            }
        )
        if len(articles) >= BATCH:
            flush()
    if articles:
        flush()
    _matches(engine, matched, now)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('stories_id_seq', (SELECT max(id) FROM stories))"))
            conn.execute(text("SELECT setval('articles_id_seq', (SELECT max(id) FROM articles))"))
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return Archive(n, story_id, story_ids, matched, time.perf_counter() - started)


def _matches(engine: Engine, story_ids: list[int], now: datetime) -> None:
    with engine.begin() as conn:
        lead = dict(
            conn.execute(
                select(Story.id, Story.lead_article_id).where(Story.id.in_(story_ids))
            ).all()
        )
        for k, sid in enumerate(story_ids, 1):
            hits = [{"term": "MOU", "group": "mou", "field": "body", "start": 0, "end": 3}]
            conn.execute(
                insert(Match).values(
                    id=k,
                    story_id=sid,
                    article_id=lead[sid],
                    watchlist="taiwan-us-ip",
                    hits=hits,
                    snippet="…",
                    highlights=[],
                    created_at=now,
                )
            )
            for j, (channel, status) in enumerate((("mail", "sent"), ("slack", "dead"))):
                conn.execute(
                    insert(Delivery).values(
                        id=2 * k + j,
                        match_id=k,
                        story_id=sid,
                        watchlist="taiwan-us-ip",
                        channel=channel,
                        status=status,
                        attempts=1,
                        next_attempt_at=now,
                        sent_at=now if status == "sent" else None,
                        last_error=None if status == "sent" else "HTTP 500",
                    )
                )


# ----- the server and the timed requests -----------------------------------------------------


def write_config(root: Path) -> Path:
    """A config directory with the bundled watchlist and the benchmark's 1,000 sources."""
    (root / "watchlists").mkdir(parents=True, exist_ok=True)
    (root / "wirewatch.yaml").write_text("timezone: Asia/Taipei\nalerts: {admin_channel: null}\n")
    (root / "channels.yaml").write_text(
        "channels:\n  mail: {url: 'json://127.0.0.1:9/mail'}\n  slack: {url: 'json://127.0.0.1:9/s'}\n"
    )
    lines = ["sources:"]
    for i in range(SOURCES):
        lang = "zh" if i % 10 == 0 else "en"
        lines.append(
            f"  - {{id: src-{i:04d}, type: rss, url: 'http://127.0.0.1/{i}.rss', "
            f"language: {lang}, tags: [{'zh' if lang == 'zh' else 'en'}]}}"
        )
    (root / "sources.yaml").write_text("\n".join(lines) + "\n")
    wl = (REPO / "config" / "watchlists" / "taiwan-us-ip.yaml").read_text(encoding="utf-8")
    (root / "watchlists" / "taiwan-us-ip.yaml").write_text(
        wl.replace(
            "  - channel: console\n    mode: immediate\n",
            "  - channel: mail\n  - channel: slack\n",
        ),
        encoding="utf-8",
    )
    return root


class Client:
    """urllib with a cookie jar against one server; ``fetch`` returns milliseconds."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def fetch(self, path: str, data: dict[str, str] | None = None) -> float:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        started = time.perf_counter()
        with self.opener.open(self.base + path, data=body, timeout=120) as resp:
            resp.read()
            assert resp.status == 200, (path, resp.status)
        return (time.perf_counter() - started) * 1000

    def cookie(self, name: str) -> str:
        return next(c.value or "" for c in self.jar if c.name == name)


@contextmanager
def serving(url: str, config_dir: Path) -> Iterator[Client]:
    """A real console on loopback over ``url``; yields a client for it."""
    import asyncio

    from crawler.db import make_engine
    from scheduler.config import load_config
    from scheduler.http import HttpServer

    cfg = load_config(config_dir)
    engine = make_engine(url)
    server = HttpServer("127.0.0.1:0", lambda: cfg, session_factory(engine), daemon=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> None:
        server.start()

    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield Client(server.url)
    finally:
        asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        server.stop()
        engine.dispose()


def measure(url: str, archive: Archive, config_dir: Path, rounds: int) -> dict[str, list[float]]:
    """Timings (ms) per kind of request."""
    from alerts.search import Cursor

    rng = random.Random(1)
    times: dict[str, list[float]] = {}
    yaml_text = (config_dir / "watchlists" / "taiwan-us-ip.yaml").read_text(encoding="utf-8")
    from crawler.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        depth = archive.stories // 2
        row = conn.execute(
            select(Story.first_seen_at, Story.id)
            .order_by(Story.first_seen_at.desc(), Story.id.desc())
            .offset(depth)
            .limit(1)
        ).one()
    engine.dispose()
    deep = Cursor(row[0], row[1]).encode()
    with serving(url, config_dir) as client:
        fetch = client.fetch
        kinds: dict[str, Callable[[], float]] = {
            "list": lambda: fetch("/stories"),
            "list-deep": lambda: fetch(f"/stories?after={deep}"),
            "list-watchlist": lambda: fetch("/stories?watchlist=taiwan-us-ip"),
            "list-source": lambda: fetch(f"/stories?source=src-{rng.randrange(SOURCES):04d}"),
            "search": lambda: fetch("/stories?q=%22memoranda%20of%20understanding%22"),
            "story": lambda: fetch(f"/stories/{rng.choice(archive.story_ids)}"),
            "story-matched": lambda: fetch(f"/stories/{rng.choice(archive.matched)}"),
        }
        for _ in range(2):  # warm the caches once
            for run in kinds.values():
                run()
        for _ in range(rounds):
            for name, run in kinds.items():
                times.setdefault(name, []).append(run())
        csrf = client.cookie("wirewatch_csrf")
        for _ in range(max(3, rounds // 4)):
            form = {"csrf": csrf, "yaml": yaml_text, "days": "30"}
            times.setdefault("tryout", []).append(fetch("/watchlists/taiwan-us-ip/try", form))
    times["offset-deep"] = _offset_times(url, depth, rounds)
    return times


def _offset_times(url: str, depth: int, rounds: int) -> list[float]:
    """The baseline: the same deep page by OFFSET, same columns, through SQLAlchemy."""
    from crawler.db import make_engine, make_reader

    engine = make_engine(url)
    reader = make_reader(engine)
    out = []
    with reader.connect() as conn:
        for _ in range(rounds):
            started = time.perf_counter()
            conn.execute(
                select(Story.id, Story.title, Story.first_seen_at, Story.article_count)
                .order_by(Story.first_seen_at.desc(), Story.id.desc())
                .offset(depth)
                .limit(51)
            ).all()
            out.append((time.perf_counter() - started) * 1000)
    if reader is not engine:
        reader.dispose()
    engine.dispose()
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(times: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """(p50, p95) in ms per kind."""
    return {k: (statistics.median(v), _pct(v, 0.95)) for k, v in times.items()}


@register("console", "web console p50/p95: story list, story page, try-out (SQLite, PostgreSQL)")
def run(options: RunOptions) -> Result:
    """Seed, serve, time; see the module docstring."""
    import tempfile

    n = 20_000 if options.quick else 1_000_000 if options.full else 200_000
    rounds = 10 if options.quick else 40
    now = datetime.now(UTC)
    legs: dict[str, dict[str, tuple[float, float]]] = {}
    seeded: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wirewatch-console-bench-") as tmp:
        config_dir = write_config(Path(tmp) / "config")
        backends = [("SQLite", migrated_sqlite)]
        if postgres_reachable():
            backends.append(("PostgreSQL", migrated_postgres))
        for label, migrated in backends:
            with migrated() as (engine, url):  # type: ignore[operator]
                archive = seed(engine, n, now=now)
                seeded[label] = archive.seconds
                legs[label] = summarize(measure(url, archive, config_dir, rounds))
    worst = max(legs[b][k][0] for b in legs for k in ("list", "list-deep", "story"))
    deep = max(legs[b]["list-deep"][0] for b in legs)
    offset = max(legs[b]["offset-deep"][0] for b in legs)
    notes = [f"{n:,} articles, {SOURCES} sources over {DAYS} days"]
    for label, figures in legs.items():
        parts = ", ".join(f"{k} {p50:.0f}/{p95:.0f}" for k, (p50, p95) in figures.items())
        notes.append(f"{label} (seeded in {seeded[label]:.0f} s), p50/p95 ms: {parts}")
    return Result(
        "console",
        worst,
        offset,
        "ms p50 (worst of list, deep list, story)",
        higher_is_better=False,
        target="list and story p50 < 200 ms; try-out (30 days) < 1 s",
        notes="; ".join(notes) + f"; baseline: the deep page by OFFSET ({deep:.0f} ms by cursor)",
        extra={"legs": json.dumps(legs)},
    )


def replay_ms(engine: Engine, config_dir: Path, now: datetime, *, indexed: bool) -> float:
    """Milliseconds of the try-out's replay of the bundled watchlist over the last 30 days."""
    from alerts.backtest import replay
    from alerts.matcher import Matcher
    from alerts.prefilter import text_prefilter
    from crawler.db import make_reader
    from scheduler.config import load_config

    cfg = load_config(config_dir)
    wl = cfg.watchlist("taiwan-us-ip")
    tags = {s.id: s.tags for s in cfg.sources.sources}
    reader = make_reader(engine)
    started = time.perf_counter()
    with session_factory(reader)() as session:
        hits = list(
            replay(
                session,
                Matcher.compile_one(wl),
                now - timedelta(days=30),
                tags,
                prefilter=text_prefilter(wl),
                indexed=wl if indexed else None,
            )
        )
    assert hits, "the seeded MOU stories must be found"
    return (time.perf_counter() - started) * 1000


@register("tryout", "console try-out replay over 30 days of 1,000 sources: index vs full scan")
def run_tryout(options: RunOptions) -> Result:
    """The last 30 days of the ``--full`` console archive (1,000,000 articles a year: 82,192
    in 30 days; ``--quick`` a tenth), replayed for the bundled watchlist through the search
    index's candidates vs reading every article's text through the prefilter (before), in
    alternating rounds on SQLite and PostgreSQL."""
    import tempfile

    n = 8_219 if options.quick else 82_192
    rounds = 3 if options.quick else 10
    now = datetime.now(UTC)
    figures: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="wirewatch-tryout-bench-") as tmp:
        config_dir = write_config(Path(tmp) / "config")
        backends = [("SQLite", migrated_sqlite)]
        if postgres_reachable():
            backends.append(("PostgreSQL", migrated_postgres))
        for label, migrated in backends:
            with migrated() as (engine, _url):  # type: ignore[operator]
                seed(engine, n, now=now, days=30)
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
                fast: list[float] = []
                slow: list[float] = []
                for _ in range(rounds):
                    fast.append(replay_ms(engine, config_dir, now, indexed=True))
                    slow.append(replay_ms(engine, config_dir, now, indexed=False))
                figures[label] = (statistics.median(fast), statistics.median(slow))
    worst = max(f for f, _ in figures.values())
    base = max(s for _, s in figures.values())
    notes = "; ".join(
        f"{label}: {f:.0f} ms vs {s:.0f} ms (p50 of {rounds})" for label, (f, s) in figures.items()
    )
    return Result(
        "tryout",
        worst,
        base,
        "ms p50 (worst database)",
        higher_is_better=False,
        target="< 1,000 ms over 30 days of 1,000 sources",
        notes=f"{n:,} articles over 30 days, {SOURCES} sources; {notes}",
    )
