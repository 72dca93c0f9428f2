"""Bulk-load a large archive with exactly the rows the real storage path writes.

``crawler.store.store_many`` stores an article as: an ``articles`` row (its normalised fields,
content hash, MinHash signature, story), a ``stories`` row when it starts a story (or a
count/updated bump of the story it joins), its LSH band keys in ``story_bands`` and its
full-text key in ``article_search``. Growing an archive of a million articles that way takes
hours on a small machine, most of it the per-article text work, so this module produces the
same rows in bulk: the text work (``crawler.normalize.normalize``, ``crawler.dedupe.prepare``,
``crawler.search_index.article_key``, the very functions the real path calls) runs in worker
processes, and the rows are written with multi-row inserts, secondary indexes dropped and
rebuilt afterwards. Story assignment is taken from the generator, which knows which article a
syndicated copy copies (the real path finds the same story: a copy differs from its original
in three words and a title suffix, estimated Jaccard far above the threshold); re-posts of a
stored URL are exact duplicates and are not stored, as the real path skips them.
``tests/benchmarks/test_archive_seed.py`` checks that a bulk-loaded archive equals one grown
through ``store_many`` from the same stream, row for row (timestamps aside).

The articles are ``CHUNK``-item streams of :class:`benchmarks.bench_archive.ArticleStream`
(one seed per chunk, so chunks are generated in parallel; syndicated copies and re-posts refer
to the chunk's own recent articles), spread evenly over ``days`` days ending at ``now``, as a
deployment fills its archive over a year.

The seed goes into SQLite (:func:`seed_sqlite`); PostgreSQL is filled from that file by COPY
(:func:`copy_to_postgres`), so both databases hold the same archive.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from crawler.models import Article, ArticleSearch, Story, StoryBand
from crawler.search_index import FTS_TABLE

CHUNK = 2_000  # stream items per worker task (one ArticleStream each)
SEED_BASE = 10_000  # chunk k uses ArticleStream(seed=SEED_BASE + k)
TABLES = ("articles", "stories", "story_bands", "article_search")


@dataclass(slots=True)
class SeedRow:
    """One stored article of a chunk, with everything the storage path writes for it."""

    fields: dict[str, Any]  # the articles columns _insert_articles sets from the item
    digest: str
    blob: bytes | None
    keys: list[int]
    search_key: str | None
    story: int  # index (within the chunk's stored rows) of the article that leads its story


def chunk_rows(k: int, items: int = CHUNK, check: int = 0) -> list[SeedRow]:
    """The stored articles of chunk ``k`` (a worker task): text work done, story known.

    The text work is :func:`fast_text`, exact for the generator's texts; every ``check``-th
    stored article (0: none) is also run through the real functions and must agree.
    """
    from benchmarks.bench_archive import ArticleStream

    stream = ArticleStream(seed=SEED_BASE + k, first=k * items)
    raws = []
    seen: set[str] = set()
    for _ in range(items):
        raw = stream.next_raw()
        if raw.url not in seen:  # else a re-post: the real path skips it as a duplicate
            seen.add(raw.url)
            raws.append(raw)
    rows: list[SeedRow] = []
    lead_of: dict[str, int] = {}  # URL of a stored article → index of its story's lead
    for index, (raw, (digest, blob, keys, search_key)) in enumerate(
        zip(raws, fast_text(raws), strict=True)
    ):
        story = lead_of[raw.original] if raw.original is not None else index
        lead_of[raw.url] = story
        row = SeedRow(
            fields={
                "source_id": raw.source,
                "url": raw.url,
                "canonical_url": raw.url,
                "guid": raw.url,
                "title": raw.title,
                "summary": raw.summary,
                "body": raw.body,
                "author": None,
                "publisher": None,
                "language": None,
                "tags": [],
                "published_at": None,
                "date_rule": None,
            },
            digest=digest,
            blob=blob,
            keys=keys,
            search_key=search_key,
            story=story,
        )
        if check and index % check == 0:
            _check(raw, row)
        rows.append(row)
    return rows


def _check(raw: Any, row: SeedRow) -> None:
    """The real path's functions give ``row`` for ``raw`` (AssertionError otherwise)."""
    from crawler.dedupe import prepare
    from crawler.search_index import article_key

    item = raw.normalized()
    p = prepare(item.title, item.body or item.summary, item.content_hash)
    fields = {k: getattr(item, k) for k in row.fields}
    assert fields == row.fields, (fields, row.fields)
    assert (p.digest, p.blob, p.keys) == (row.digest, row.blob, row.keys), raw.url
    assert article_key(item.title, item.summary, item.body) == row.search_key, raw.url


def fast_text(raws: list[Any]) -> list[tuple[str, bytes, list[int], str]]:
    """(content hash, signature bytes, band keys, search key) of generated texts.

    The same values as ``crawler.dedupe.prepare`` and ``crawler.search_index.article_key``
    for texts of lower-case ASCII words, a capitalised title, "(wire)" suffixes and
    paragraph breaks (the generator's): folding is then lower-casing and dropping the
    parentheses. The signature is ``crawler.dedupe.signature`` of the 5-word shingles.
    """
    from hashlib import sha256

    from crawler.dedupe import band_keys, signature, to_bytes
    from crawler.shingles import WORD_SHINGLE

    fold = str.maketrans("()", "  ")
    out = []
    for raw in raws:
        title = raw.title.lower().translate(fold).split()
        body = (raw.body or raw.summary).lower().translate(fold).split()
        words = title + body
        shingles = {
            " ".join(words[i : i + WORD_SHINGLE]) for i in range(len(words) - WORD_SHINGLE + 1)
        }
        sig = signature(shingles)
        digest = sha256(f"{' '.join(title)}\n{' '.join(body)}".encode()).hexdigest()
        summary = raw.summary.lower().translate(fold).split()
        key = " ".join(sorted({*title, *summary, *body}))
        out.append((digest, to_bytes(sig), list(dict.fromkeys(band_keys(sig))), key))
    return out


_ARTICLE_COLS = (
    "id", "source_id", "story_id", "url", "canonical_url", "guid", "title", "summary", "body",
    "author", "publisher", "language", "tags", "published_at", "date_rule", "fetched_at",
    "content_hash", "minhash", "baseline", "matched_at", "text_attempts",
)  # fmt: skip
_STORY_COLS = ("id", "lead_article_id", "title", "article_count", "first_seen_at", "updated_at")


def chunk_sql_rows(
    k: int,
    items: int,
    check: int,
    n: int,
    now: datetime,
    days: int,
    bands_for: timedelta | None = None,
) -> tuple[list[tuple[Any, ...]], ...] | None:
    """Chunk ``k`` as SQLite parameter rows (stories, articles, bands, search keys) with
    global ids, or None when the chunk lies beyond ``n`` articles (a worker task).

    ``bands_for``: band keys only for articles fetched within that span of ``now``, the keys
    the daemon's retention (``crawler.retention.prune_bands``) keeps; None: all of them.

    Ids follow from the stream's fixed pattern: per ``items`` (a multiple of 100) stream
    items, ``items / 50`` are re-posts and ``items / 20 - items / 100`` syndicated copies.
    Values are bound as SQLAlchemy binds them for SQLite (timestamps, JSON, booleans).
    """
    from sqlalchemy.dialects.sqlite import pysqlite

    assert items % 100 == 0
    per_chunk = items - items // 50
    story_per_chunk = per_chunk - (items // 20 - items // 100)
    first_article = k * per_chunk
    if first_article >= n:
        return None
    rows = chunk_rows(k, items, check)
    assert len(rows) == per_chunk
    assert sum(1 for i, r in enumerate(rows) if r.story == i) == story_per_chunk
    rows = rows[: n - first_article]
    dialect = pysqlite.dialect()
    stamp = Article.__table__.c.fetched_at.type.bind_processor(dialect)
    tags = Article.__table__.c.tags.type.bind_processor(dialect)
    span = timedelta(days=days)
    banded_from = n - n * (bands_for / span) if bands_for is not None else 0
    stories: dict[int, list[Any]] = {}
    articles, bands, search = [], [], []
    story_id = k * story_per_chunk
    for i, row in enumerate(rows):
        a_id = first_article + i + 1
        when = stamp(now - span * (n - a_id) / n)
        if row.story == i:
            story_id += 1
            stories[i] = [story_id, a_id, row.fields["title"], 0, when, when]
        story = stories[row.story]
        story[3] += 1
        story[5] = when
        f = row.fields
        articles.append(
            (
                a_id, f["source_id"], story[0], f["url"], f["canonical_url"], f["guid"],
                f["title"], f["summary"], f["body"], f["author"], f["publisher"],
                f["language"], tags(f["tags"]), f["published_at"], f["date_rule"], when,
                row.digest, row.blob, 1, when, 0,
            )
        )  # fmt: skip
        if a_id >= banded_from:
            bands.extend((a_id, key, story[0], when) for key in row.keys)
        search.append((a_id, row.search_key))
    return [tuple(s) for s in stories.values()], articles, bands, search


@dataclass
class Seeded:
    """What a bulk load wrote."""

    articles: int
    stories: int
    bands: int
    seconds: float
    now: datetime


def seed_sqlite(
    engine: Engine,
    n: int,
    *,
    now: datetime | None = None,
    days: int = 365,
    workers: int = 2,
    items: int = CHUNK,
    check: int = 500,
    bands_for: timedelta | None = None,
    log: Any = None,
) -> Seeded:
    """Bulk-load ``n`` articles into a migrated SQLite database (sources ``arc-000``… exist).

    Workers build the rows (:func:`chunk_sql_rows`); this process only inserts them.
    ``bands_for`` limits band keys to the recent span the daemon's retention keeps.
    """
    started = time.perf_counter()
    per_chunk = items - items // 50
    chunks = -(-n // per_chunk)
    ctx = multiprocessing.get_context("fork")
    with engine.connect() as conn:
        # An interrupted load resumes after its last whole chunk (each is one transaction),
        # with the time base it started with (the first story's first_seen_at).
        articles, stories, bands = (
            conn.scalar(text(f"SELECT count(*) FROM {t}"))
            for t in ("articles", "stories", "story_bands")
        )
        if articles:
            assert articles % per_chunk == 0, "resume only after whole chunks"
            first = conn.execute(text("SELECT min(first_seen_at) FROM stories")).scalar_one()
            now = _resumed_now(first, n, days)
        conn.commit()
    now = now or datetime.now(UTC)
    first_chunk = articles // per_chunk
    tasks = [(k, items, check, n, now, days, bands_for) for k in range(first_chunk, chunks)]
    with ctx.Pool(workers) as pool, engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for pragma in ("synchronous=OFF", "cache_size=-500000", "foreign_keys=OFF"):
            raw.execute(f"PRAGMA {pragma}")  # this connection only; rows are consistent
        with _without_indexes(conn, ("articles", "story_bands", "article_search")):
            for chunk in pool.imap(_chunk_task, tasks):
                if chunk is None:
                    break
                story_rows, article_rows, band_rows, search_rows = chunk
                raw.execute("BEGIN")
                raw.executemany(_insert_sql("stories", _STORY_COLS), story_rows)
                raw.executemany(_insert_sql("articles", _ARTICLE_COLS), article_rows)
                raw.executemany(
                    _insert_sql("story_bands", ("article_id", "band", "story_id", "created_at")),
                    band_rows,
                )
                raw.executemany(_insert_sql("article_search", ("article_id", "key")), search_rows)
                raw.execute("COMMIT")
                articles += len(article_rows)
                stories += len(story_rows)
                bands += len(band_rows)
                if log is not None:
                    log(f"seeded {articles:,}/{n:,} ({time.perf_counter() - started:.0f} s)")
            if log is not None:
                log("rebuilding indexes")
        for pragma in ("synchronous=NORMAL", "cache_size=-2000", "foreign_keys=ON"):
            raw.execute(f"PRAGMA {pragma}")  # as crawler.db sets them (the pool reuses it)
    # No ANALYZE: the daemon never runs one on SQLite, so neither does a grown archive.
    return Seeded(articles, stories, bands, time.perf_counter() - started, now)


def _resumed_now(first_seen: Any, n: int, days: int) -> datetime:
    """The ``now`` a load started with, from article 1's timestamp (as SQLite stores it)."""
    first = datetime.fromisoformat(str(first_seen)).replace(tzinfo=UTC)
    return first + timedelta(days=days) * (n - 1) / n


def _insert_sql(table: str, cols: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


def _chunk_task(args: tuple[Any, ...]) -> tuple[list[tuple[Any, ...]], ...] | None:
    return chunk_sql_rows(*args)


@contextlib.contextmanager
def _without_indexes(conn: Connection, tables: tuple[str, ...]) -> Iterator[None]:
    """Drop the tables' secondary indexes (not constraints), recreate them on the way out:
    one sort per index instead of millions of random B-tree inserts."""
    if conn.dialect.name == "sqlite":
        # From the migrations (also right after an interrupt). The full-text triggers go
        # too: the FTS5 index is rebuilt from article_search in one pass at the end.
        ddl = _sqlite_index_ddl(tables)
        triggers = [(name, sql) for kind, name, sql in ddl if kind == "trigger"]
        indexes = [(name, sql) for kind, name, sql in ddl if kind == "index"]
        for name, _ in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{name}"')
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{name}"')
        conn.commit()
        yield
        for _, sql in indexes:
            conn.exec_driver_sql(sql)
        if triggers:
            conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        for _, sql in triggers:
            conn.exec_driver_sql(sql)
        conn.commit()
        return
    pg_ddl = [
        (name, sql)
        for name, sql in conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN :t "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            ).bindparams(bindparam("t", expanding=True)),
            {"t": list(tables)},
        )
    ]
    for name, _ in pg_ddl:
        conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{name}"')
    conn.commit()
    yield
    conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
    for _, sql in pg_ddl:
        conn.exec_driver_sql(sql)
    conn.commit()


def _sqlite_index_ddl(tables: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(kind, name, CREATE …) of the tables' secondary indexes and triggers in a freshly
    migrated SQLite database."""
    import tempfile

    from crawler.db import make_engine
    from scheduler.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="wirewatch-ddl-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/ddl.db")
        try:
            upgrade(engine)
            with engine.connect() as conn:
                marks = ",".join("?" * len(tables))
                return [
                    (kind, name, sql)
                    for kind, name, sql in conn.exec_driver_sql(
                        "SELECT type, name, sql FROM sqlite_master WHERE type IN "
                        f"('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN ({marks})",
                        tables,
                    )
                ]
        finally:
            engine.dispose()


def copy_to_postgres(
    sqlite_path: str | Callable[[], str],
    engine: Engine,
    log: Any = None,
    growing: Callable[[], bool] | None = None,
) -> float:
    """Fill a migrated PostgreSQL database (sources already there) with the SQLite seed's
    archive tables, by COPY; sequences set, indexes rebuilt, VACUUM ANALYZE. Seconds taken.

    ``growing`` (with ``sqlite_path`` a callable naming the file): while it answers True the
    seed is still being written; rows committed so far are copied in passes (the seed commits
    whole chunks), so the copy overlaps the seeding.
    """
    started = time.perf_counter()
    path = sqlite_path if callable(sqlite_path) else (lambda: str(sqlite_path))
    last = dict.fromkeys(TABLES, 0)
    with engine.connect() as conn, _without_indexes(conn, TABLES):
        conn.exec_driver_sql("SET session_replication_role = replica")  # no FK triggers
        conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        conn.commit()
        raw = conn.connection.dbapi_connection
        assert raw is not None
        while True:
            more = growing() if growing is not None else False
            src = sqlite3.connect(path())
            for table in TABLES:
                last[table] = _copy_table(src, raw, table, last[table])
            src.close()
            if log is not None:
                log(f"copied {last} ({time.perf_counter() - started:.0f} s)")
            if not more:
                break
            time.sleep(20)
        conn.exec_driver_sql("SET session_replication_role = DEFAULT")
        for seq, table in (("stories_id_seq", "stories"), ("articles_id_seq", "articles")):
            conn.exec_driver_sql(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))")
        conn.commit()
    if log is not None:
        log(f"indexes rebuilt ({time.perf_counter() - started:.0f} s)")
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


def _copy_table(src: sqlite3.Connection, raw: Any, table: str, after: int) -> int:
    """COPY the rows of ``table`` with rowid above ``after``; returns the last rowid."""
    columns = list(_table(table).columns)
    cols = [c.name for c in columns]
    bools = {c.name for c in columns if c.type.python_type is bool}
    select_cols = ", ".join(
        f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN 't' ELSE 'f' END" if c in bools else c
        for c in cols
    )
    rows = src.execute(
        f"SELECT rowid, {select_cols} FROM {table} WHERE rowid > ? ORDER BY rowid", (after,)
    )
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        if table == "story_bands":  # integers and a timestamp: no escaping needed, fast path
            while block := rows.fetchmany(50_000):
                after = block[-1][0]
                cp.write("".join(f"{a}\t{b}\t{s}\t{c}\n" for _, a, b, s, c in block))
        else:
            for row in rows:
                after = row[0]
                cp.write_row(row[1:])
    raw.commit()
    return after


def _table(name: str) -> Any:
    return {
        "articles": Article.__table__,
        "stories": Story.__table__,
        "story_bands": StoryBand.__table__,
        "article_search": ArticleSearch.__table__,
    }[name]


VERSION = 2  # of the seed's contents: bump when the stream or the rows change


def seed_file(n: int, directory: Path, log: Any = None, workers: int = 2) -> Path:
    """A migrated SQLite archive of ``n`` bulk-loaded articles in ``directory``, built unless a
    finished one is there (the seed is deterministic, so a rerun may reuse it).

    It holds band keys for the last two story windows only, as a daemon that collected the
    archive does after its band-key retention (loading them all and pruning them again took
    half an hour at 1,000,000).
    """
    from benchmarks.bench_archive import SOURCES, add_sources
    from crawler.db import make_engine, session_factory
    from crawler.dedupe import WINDOW
    from scheduler.migrate import upgrade

    path = directory / f"archive-{n}-v{VERSION}.db"
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    resume = partial.exists()  # an interrupted load: seed_sqlite carries on
    engine = make_engine(f"sqlite:///{partial}")
    try:
        if not resume:
            upgrade(engine)
            sessions = session_factory(engine)
            add_sources(sessions, [f"arc-{i:03d}" for i in range(SOURCES)], "http://127.0.0.1")
        seeded = seed_sqlite(engine, n, workers=workers, bands_for=2 * WINDOW, log=log)
    finally:
        engine.dispose()
    if log is not None:
        log(f"seed done: {seeded}")
    partial.rename(path)
    return path


def pg_template(
    seed: Path,
    n: int,
    admin_url: str,
    log: Any = None,
    wait: float = 3600,
    follow: bool = False,
) -> str:
    """A PostgreSQL database holding the seed's archive, to clone with ``CREATE DATABASE …
    TEMPLATE``: built from ``seed`` unless it exists; while another process builds it
    (its ``_partial`` database exists), wait for that one. Kept after the run. ``follow``:
    start while ``seed`` is still being built, copying its committed rows as they come."""
    from benchmarks.bench_archive import SOURCES, add_sources
    from crawler.db import make_engine, session_factory
    from scheduler.migrate import upgrade

    name = f"wirewatch_archive_seed_{n}_v{VERSION}"
    partial = f"{name}_partial"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")

    def exists(db: str) -> bool:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": db})
            return found.first() is not None

    try:
        deadline = time.monotonic() + wait
        while exists(partial) and not exists(name) and time.monotonic() < deadline:
            if log is not None:
                log(f"waiting for {partial} (built by another process)")
            time.sleep(15)
        if exists(name):
            return name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{partial}"'))
        engine = make_engine(admin_url.rsplit("/", 1)[0] + f"/{partial}")
        try:
            upgrade(engine)
            sessions = session_factory(engine)
            add_sources(sessions, [f"arc-{i:03d}" for i in range(SOURCES)], "http://127.0.0.1")
            if follow:  # the seed is still being written (seed_file in another process)
                partial_seed = seed.with_suffix(".partial")

                def current() -> str:
                    return str(seed if seed.exists() else partial_seed)

                seconds = copy_to_postgres(
                    current, engine, log=log, growing=lambda: not seed.exists()
                )
            else:
                seconds = copy_to_postgres(str(seed), engine, log=log)
        finally:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{partial}" RENAME TO "{name}"'))
        if log is not None:
            log(f"{name} built in {seconds:.0f} s")
        return name
    finally:
        admin.dispose()
