"""ingest: feed bytes to stored, deduplicated, matched articles vs feedparser alone.

wirewatch: for each feed of the batch, ``crawler.parse.parse_feed`` → ``normalize`` →
``store_many`` (exact dedupe, one multi-row insert, story assignment with MinHash for the
whole batch; one transaction per feed, as the crawler's item pipeline does for the entries
of one response) →
``alerts.matching.match_pending`` over what was stored
(watchlist matching, match and delivery rows), into a fresh migrated SQLite database.
Baseline (the ceiling): ``feedparser.parse`` alone on the same bytes. Both rates divide the
same item count (feedparser's entries) by each side's time, so the ratio is a time ratio.
The two sides are timed in alternating rounds (parse-only, ingest, parse-only, …); each
side's best round counts.

The batch is the captured real feeds (when the corpus is present) plus generated ones. A
cProfile run of one more ingest pass tells where the time goes (in the notes).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import Channel
from alerts.matcher import Matcher
from alerts.matching import match_pending
from alerts.models import Match
from alerts.watchlists import Route, Watchlist
from benchmarks.bench_archive import add_sources, migrated_sqlite
from benchmarks.bench_feedparse import count_items, feed_batch, parse_only_rate
from benchmarks.bench_matching import make_watchlists
from benchmarks.corpus import real_feeds
from benchmarks.registry import Result, RunOptions, register
from crawler.db import session_factory
from crawler.normalize import normalize
from crawler.parse import FeedError, parse_feed
from crawler.store import store_many

_BASE = "http://127.0.0.1:8080/feed"
_MATCH_ROUNDS = 1_000  # bound on match_pending calls (500 articles each)

# (label, cProfile function key suffix) for the profile summary.
_STAGES = (
    ("feedparser.parse", ("feedparser/api.py", "parse")),
    ("decode/sanitize", ("crawler/parse.py", "decode_xml")),
    ("normalize", ("crawler/normalize.py", "normalize")),
    ("exact-dup lookup", ("crawler/store.py", "load")),
    ("text work", ("crawler/dedupe.py", "prepare")),
    ("attach_batch", ("crawler/dedupe.py", "attach_batch")),
    ("commit", ("sqlalchemy/orm/session.py", "commit")),
    ("match_pending", ("alerts/matching.py", "match_pending")),
)


@dataclass
class IngestRun:
    """One ingest pass: seconds, entries parsed, articles stored, matches recorded."""

    seconds: float
    entries: int
    stored: int
    matches: int


def pipeline_config(source_ids: Sequence[str], watchlists: Sequence[Watchlist]) -> object:
    """The parts of the loaded config that ``match_pending`` reads."""
    return SimpleNamespace(
        channels={"console": Channel(url="console")},
        watchlists=list(watchlists),
        sources=SimpleNamespace(sources=[SimpleNamespace(id=s, tags=[]) for s in source_ids]),
    )


def bench_watchlists() -> list[Watchlist]:
    """50 random watchlists (rarely match) plus five on the generated news topics."""
    import random

    from benchmarks.bench_matching import _words

    rng = random.Random(7)
    lists = make_watchlists(500, rng, _words(rng, 3_000))
    route = [Route(channel="console")]
    topical = [
        ("patents", {"a": ["patent", "專利"], "b": ["licensing", "ruling", "授權"]}, "a AND b"),
        ("chips", {"a": ["TSMC", "semiconductor", "台積電", "半導體"]}, "a"),
        ("mou", {"a": ["MOU", "memorandum of understanding", "備忘錄"]}, "a"),
        ("trade", {"a": ["trade talks", "export controls", "經貿"]}, "a"),
        ("world", {"a": ["election", "president", "minister"]}, "a"),
    ]
    lists += [Watchlist(name=n, groups=g, match=m, notify=route) for n, g, m in topical]
    return lists


def ingest(
    batch: Sequence[bytes],
    sessions: sessionmaker[Session],
    engine: Matcher,
    config: object,
) -> IngestRun:
    """Parse, normalise, store (dedupe + stories) and match every feed of ``batch``."""
    started = time.perf_counter()
    entries = stored = 0
    for index, data in enumerate(batch):
        try:
            result = parse_feed(data, url=f"{_BASE}/{index}.xml", source_id=f"feed-{index}")
        except FeedError:
            continue
        entries += len(result.entries)
        items = [n for n in map(normalize, result.entries) if n is not None]
        stored += sum(r.article_id is not None for r in store_many(sessions, items, baseline=False))
    for _ in range(_MATCH_ROUNDS):
        with sessions() as session:
            if not match_pending(session, engine, config):  # type: ignore[arg-type]
                break
    seconds = time.perf_counter() - started
    with sessions() as session:
        matches = session.scalar(select(func.count()).select_from(Match)) or 0
    return IngestRun(seconds, entries, stored, matches)


def _fresh_run(batch: Sequence[bytes], profile: cProfile.Profile | None = None) -> IngestRun:
    ids = [f"feed-{i}" for i in range(len(batch))]
    watchlists = bench_watchlists()
    engine = Matcher.compile(watchlists)
    config = pipeline_config(ids, watchlists)
    with migrated_sqlite() as (db, _):
        sessions = session_factory(db)
        add_sources(sessions, ids, _BASE)
        if profile is None:
            return ingest(batch, sessions, engine, config)
        profile.enable()
        try:
            return ingest(batch, sessions, engine, config)
        finally:
            profile.disable()


def profile_summary(profile: cProfile.Profile, top: int = 4) -> str:
    """Share of the profiled time per pipeline stage, then the top self-time functions."""
    stats = pstats.Stats(profile)
    table = stats.stats  # type: ignore[attr-defined]
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    parts = []
    for label, (path, name) in _STAGES:
        cum = max(
            (v[3] for k, v in table.items() if k[0].endswith(path) and k[2] == name),
            default=0.0,
        )
        parts.append(f"{label} {cum / total:.0%}")
    selfs = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    hot = ", ".join(f"{k[0].rsplit('/', 1)[-1]}:{k[2]} {v[2] / total:.0%}" for k, v in selfs)
    return f"profile (cumulative share): {', '.join(parts)}; top self time: {hot}"


@register("ingest", "parse → normalise → dedupe → store → match into SQLite vs feedparser alone")
def run(options: RunOptions) -> Result:
    batch = feed_batch(options.quick, options.corpus)
    rounds = 1 if options.quick else 2
    items = count_items(batch)  # warms imports and caches for both sides
    ceilings, runs = [], []
    for _ in range(rounds):
        ceilings.append(parse_only_rate(batch, 1))
        runs.append(_fresh_run(batch))
    ceiling = max(ceilings)
    best = min(runs, key=lambda r: r.seconds)
    profile = cProfile.Profile()
    _fresh_run(batch, profile)
    real = len(real_feeds(options.corpus, limit=6 if options.quick else None))
    rate = items / best.seconds if best.seconds > 0 else None
    return Result(
        name="ingest",
        wirewatch=rate,
        baseline=ceiling,
        unit="items/s",
        target="≥ 0.50× (of parse-only)",
        notes=f"{len(batch)} feeds ({real} real, {len(batch) - real} generated), {items} items, "
        f"{sum(map(len, batch)) / 1e6:.1f} MB; {best.entries} entries parsed, {best.stored} "
        f"stored (rest exact dups), {best.matches} matches; best of {rounds}; "
        + profile_summary(profile),
        extra={"feeds": len(batch), "items": items, "stored": best.stored},
    )
