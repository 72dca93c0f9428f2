"""The full-text index behind search: folded word and character tokens per article.

Every article has a row in ``article_search``: its *key*, the distinct tokens of its folded
title, summary and body (``crawler.folding``, as the matcher folds), space-separated. Stored
text stays as published; the key is only for finding candidates. A token is

* a run of word characters (``crawler.unicode_scripts.is_word_char``: letters and digits of
  space-separated scripts), exactly the runs that bound a Latin term for the matcher;
* each character of a run of non-spaced script (CJK, kana, Hangul, Thai…), and each pair of
  neighbours in such a run (``台湾`` gives 台, 湾 and 台湾).

Searching uses the key as a candidate filter (``alerts.search_candidates``); the matcher
decides. Short terms (``US``, ``台北``) and CJK words need no trigram: the tokens are the
matcher's own words and character pairs.

Storage: SQLite keeps an FTS5 table (``ascii`` tokenizer: tokens stay as written; no
positions) over ``article_search`` as external content, kept current by triggers on it;
PostgreSQL a GIN index over ``array_to_tsvector`` of the key (no parser, no positions). A
key too large for a tsvector (``MAX_KEY_BYTES``) is stored as NULL: such an article is
always a candidate. Rows go with their article (foreign key cascade; the SQLite triggers
take them out of FTS5).

Writers: :func:`index_articles` in the transaction that inserts or changes an article's
text (``crawler.pipelines``, ``crawler.textfill``); :func:`reindex` fills rows that are
missing or rebuilds them all (migration ``0006_search_index``, ``wirewatch db reindex``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from crawler.folding import fold
from crawler.models import Article, ArticleSearch
from crawler.unicode_scripts import NON_SPACED

__all__ = [
    "AUTOMERGE",
    "FTS5_DEFAULT_AUTOMERGE",
    "FTS_TABLE",
    "INDEX_OBJECTS",
    "MAX_KEY_BYTES",
    "MAX_TOKEN_CHARS",
    "PG_INDEX",
    "article_key",
    "create_index",
    "drop_index",
    "index_articles",
    "reindex",
    "reindex_batch",
    "runs",
    "tune_index",
]

FTS_TABLE = "article_search_fts"
PG_INDEX = "ix_article_search_tokens"
# Database objects the models do not declare (virtual table, its shadow tables, GIN index).
INDEX_OBJECTS = (FTS_TABLE, PG_INDEX)
MAX_TOKEN_CHARS = 64  # longer runs are cut, the same way in keys and in terms
MAX_KEY_BYTES = 600_000  # a tsvector holds at most 1 MB: lexemes plus 4 bytes each

_ALNUM = re.compile(r"[^\W_]+")  # letters and digits (str.isalnum)
_NS = NON_SPACED.pattern[1:-1]  # the character class body
_SCRIPTS = re.compile(f"[{_NS}]+|[^{_NS}]+")  # within a letter run: non-spaced or not


def runs(folded: str) -> Iterator[tuple[str, bool]]:
    """(run, is_non_spaced) for each run of word or non-spaced letters and digits."""
    for word in _ALNUM.findall(folded):
        if word.isascii() or NON_SPACED.search(word) is None:
            yield word, False
        else:
            yield from _split(word)


def _text_tokens(folded: str, out: set[str]) -> None:
    words = _ALNUM.findall(folded)
    if folded.isascii():
        out.update(words)
        return
    for word in words:
        if word.isascii() or NON_SPACED.search(word) is None:
            out.add(word)
            continue
        for run, cjk in _split(word):
            if cjk:
                out.update(run)
                out.update([run[i : i + 2] for i in range(len(run) - 1)])
            else:
                out.add(run)


def _split(word: str) -> Iterator[tuple[str, bool]]:
    for run in _SCRIPTS.findall(word):
        yield run, NON_SPACED.match(run) is not None


def article_key(title: str | None, summary: str | None, body: str | None) -> str | None:
    """The key of an article: its distinct tokens, sorted, space-separated; None when too
    large to index (the article is then always a candidate)."""
    tokens: set[str] = set()
    for part in (title, summary, body):
        if part:
            _text_tokens(fold(part).text, tokens)
    if max(map(len, tokens), default=0) > MAX_TOKEN_CHARS:
        tokens = {t[:MAX_TOKEN_CHARS] for t in tokens}
    key = " ".join(sorted(tokens))
    if len(key.encode()) + 4 * len(tokens) > MAX_KEY_BYTES:
        return None
    return key


# ----- writing -------------------------------------------------------------------------------


def index_articles(conn: Connection, articles: Sequence[Any]) -> None:
    """Write (or rewrite) the keys of ``articles`` (objects with id, title, summary, body)."""
    rows = [{"article_id": a.id, "key": article_key(a.title, a.summary, a.body)} for a in articles]
    if not rows:
        return
    dialect = conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ArticleSearch)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["article_id"], set_={"key": stmt.excluded.key}),
        rows,
    )


def reindex(conn: Connection, *, everything: bool = False, batch: int = 2000) -> int:
    """Index the articles that have no key yet (``everything``: rebuild every key), in one
    transaction; returns how many were written. The caller commits."""
    done, last = 0, 0
    while True:
        count, last = reindex_batch(conn, last, everything=everything, batch=batch)
        if not count:
            return done
        done += count


def reindex_batch(
    conn: Connection, after: int, *, everything: bool = False, batch: int = 2000
) -> tuple[int, int]:
    """Index up to ``batch`` articles with ids above ``after`` (see :func:`reindex`);
    returns (how many, the last id) so a caller can commit between batches."""
    query = (
        select(Article.id, Article.title, Article.summary, Article.body)
        .where(Article.id > after)
        .order_by(Article.id)
        .limit(batch)
    )
    if not everything:
        indexed = select(ArticleSearch.article_id).where(ArticleSearch.article_id == Article.id)
        query = query.where(~indexed.exists())
    rows = conn.execute(query).all()
    if not rows:
        return 0, after
    index_articles(conn, rows)
    return len(rows), rows[-1].id


# ----- schema ----------------------------------------------------------------------------------

# FTS5 merges a level's segments once ``automerge`` of them pile up (default 4). Every page of
# new articles is one transaction, so one small segment, and the merge work per transaction
# grows with the number of levels: at 1,000,000 articles the search-key inserts took the
# largest share of a page's storage time. With 8, levels are fewer; the storage path ran
# 1.2x as fast at 1,000,000 articles (benchmarks/RESULTS.md), and a query reads a few
# more segments.
AUTOMERGE = 8
FTS5_DEFAULT_AUTOMERGE = 4


def _automerge_sql(value: int) -> str:
    return f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('automerge', {value})"


_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(key, content='article_search', "
    "content_rowid='article_id', tokenize='ascii', detail=none, columnsize=0)",
    _automerge_sql(AUTOMERGE),
    f"CREATE TRIGGER article_search_ai AFTER INSERT ON article_search BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, key) VALUES (new.article_id, new.key); END",
    f"CREATE TRIGGER article_search_ad AFTER DELETE ON article_search BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, key) "
    "VALUES ('delete', old.article_id, old.key); END",
    f"CREATE TRIGGER article_search_au AFTER UPDATE ON article_search BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, key) "
    "VALUES ('delete', old.article_id, old.key); "
    f"INSERT INTO {FTS_TABLE}(rowid, key) VALUES (new.article_id, new.key); END",
)
_PG_DDL = (
    f"CREATE INDEX {PG_INDEX} ON article_search "
    "USING gin (array_to_tsvector(string_to_array(key, ' ')))",
)


def create_index(conn: Connection) -> None:
    """Create the database's full-text structure over ``article_search``."""
    for ddl in _PG_DDL if conn.dialect.name == "postgresql" else _SQLITE_DDL:
        conn.exec_driver_sql(ddl)


def tune_index(conn: Connection, automerge: int = AUTOMERGE) -> None:
    """Set the FTS5 merge setting of an existing SQLite index (PostgreSQL: nothing)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_automerge_sql(automerge))


def drop_index(conn: Connection) -> None:
    """Drop what :func:`create_index` created."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
        return
    for trigger in ("article_search_ai", "article_search_ad", "article_search_au"):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
