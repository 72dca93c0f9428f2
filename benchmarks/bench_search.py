"""search: latency of a search over a large archive with the full-text index, both databases.

The archive is the console benchmark's (``bench_console.seed``: bulk-inserted, indexed as
ingest indexes, one source in ten Chinese, a Taiwan-US MOU story in 0.4% of articles), plus
a rare term: one article in 50,000 gets "Quasar Holdings" appended to its body (re-indexed).
Sizes: ``--quick`` 20,000 articles, the default 200,000, ``--full`` 1,000,000.

Timed through a reader session, as the CLI and the console run them, after ANALYZE:

* ``wirewatch articles --search`` (``alerts.search.search_articles``, 50 articles) and the
  console's story search (``alerts.search.search``, one page of 50 stories), for a rare
  term, a Chinese term (``專利授權``, matched in Simplified as ``专利授权``), a Latin phrase
  of the MOU story, a common term (``中``: every Chinese article, over the candidate cap,
  so read in order) and a word that occurs nowhere;
* the baseline: the LIKE scan ``articles --search`` ran before the index (lower(column)
  LIKE over title, summary and body, newest first, 50 rows), for the rare term, timed in
  rounds alternating with the indexed search of the same term.

p50 and p95 per query; the row's figure is the worst p50 of the rare-term CLI search over
the databases measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, func, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.search import search, search_articles
from benchmarks.bench_archive import migrated_postgres, migrated_sqlite, postgres_reachable
from benchmarks.bench_console import seed, summarize
from benchmarks.registry import Result, RunOptions, register
from crawler.db import make_reader, session_factory
from crawler.models import Article
from crawler.search_index import index_articles

RARE = "Quasar Holdings"
RARE_EVERY = 50_000
QUERIES = {
    "rare": f'"{RARE}"',
    "chinese": "专利授权",
    "phrase": '"memoranda of understanding"',
    "common": "中",
    "missing": "zzqqxnotaword",
}


def plant_rare(engine: Engine) -> int:
    """Append ``RARE`` to one article body in ``RARE_EVERY`` and re-index them; how many."""
    with engine.begin() as conn:
        ids = conn.execute(
            select(Article.id).where(Article.id % RARE_EVERY == RARE_EVERY // 2)
        ).scalars()
        ids = list(ids)
        conn.execute(
            update(Article).where(Article.id.in_(ids)).values(body=Article.body + " " + RARE)
        )
        rows = conn.execute(
            select(Article.id, Article.title, Article.summary, Article.body).where(
                Article.id.in_(ids)
            )
        ).all()
        index_articles(conn, rows)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return len(ids)


def like_scan(session: Session, term: str, limit: int = 50) -> int:
    """The ``articles --search`` query before the index: a LIKE scan."""
    pattern = f"%{term.lower()}%"
    cols = (Article.title, Article.summary, Article.body)
    query = (
        select(Article.id)
        .where(or_(*(func.lower(c).like(pattern) for c in cols)))
        .order_by(func.coalesce(Article.published_at, Article.fetched_at).desc(), Article.id.desc())
        .limit(limit)
    )
    return len(session.scalars(query).all())


def _ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def measure(sessions: sessionmaker[Session], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per kind of query; see the module docstring."""
    times: dict[str, list[float]] = {}
    with sessions() as s:
        kinds: dict[str, Callable[[], object]] = {}
        for label, q in QUERIES.items():
            kinds[f"cli-{label}"] = lambda q=q: search_articles(s, q)
            kinds[f"stories-{label}"] = lambda q=q: search(s, q)
        for run in kinds.values():  # warm the caches once
            run()
        for _ in range(rounds):
            for name, run in kinds.items():
                times.setdefault(name, []).append(_ms(run))
        like_rounds = max(3, rounds // 3)
        for _ in range(like_rounds):  # baseline and indexed search alternate
            times.setdefault("like-rare", []).append(_ms(lambda: like_scan(s, RARE)))
            times.setdefault("cli-rare-alt", []).append(
                _ms(lambda: search_articles(s, QUERIES["rare"]))
            )
    return times


def hit_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """How many articles each query finds (at most a page): the figures are about real work."""
    with sessions() as s:
        return {label: len(search_articles(s, q).hits) for label, q in QUERIES.items()}


@register("search", "search p50: rare, Chinese, phrase, common term over the indexed archive")
def run(options: RunOptions) -> Result:
    """Seed, index, time; see the module docstring."""
    n = 20_000 if options.quick else 1_000_000 if options.full else 200_000
    rounds = 5 if options.quick else 15
    now = datetime.now(UTC)
    legs: dict[str, dict[str, tuple[float, float]]] = {}
    notes = []
    backends = [("SQLite", migrated_sqlite)]
    if postgres_reachable():
        backends.append(("PostgreSQL", migrated_postgres))
    else:
        notes.append("PostgreSQL: not reachable on 127.0.0.1:5432, not measured")
    for label, migrated in backends:
        with migrated() as (engine, _):  # type: ignore[operator]
            archive = seed(engine, n, now=now)
            planted = plant_rare(engine)
            reader = make_reader(engine)
            sessions = session_factory(reader)
            found = hit_counts(sessions)
            times = measure(sessions, rounds)
            if reader is not engine:
                reader.dispose()
        legs[label] = summarize(times)
        parts = ", ".join(f"{k} {p50:.1f}/{p95:.1f}" for k, (p50, p95) in legs[label].items())
        notes.append(
            f"{label} ({n:,} articles seeded and indexed in {archive.seconds:.0f} s; "
            f"rare term in {planted} articles; hits per query {found}), "
            f"p50/p95 ms: {parts}"
        )
    worst = max(leg["cli-rare"][0] for leg in legs.values())
    baseline = max(leg["like-rare"][0] for leg in legs.values())
    return Result(
        "search",
        worst,
        baseline,
        "ms p50, rare term, articles --search (worst database)",
        higher_is_better=False,
        target="rare term p50 < 50 ms at 1,000,000 articles, SQLite and PostgreSQL",
        notes=f"{n:,} articles; " + "; ".join(notes) + "; baseline: the LIKE scan, rare term",
        extra={"legs": json.dumps(legs), "articles": n},
    )
