"""Which articles a search must look at: a necessary condition on their index tokens.

Every term a watchlist can match needs tokens the matching text has (:func:`term_tokens`):
its word runs are whole runs of the text too (a term's Latin edge is a word boundary), and
the pairs inside a CJK run, or the character of a one-character run, occur in the text's
runs (``crawler.search_index``). So an expression gives a condition (:func:`index_condition`:
AND/OR of tokens; NOT, regex terms and NEAR distances narrow nothing) that every article it
matches meets; the database returns those articles (:func:`candidate_ids`, also every
article too large to index) and the matcher decides. The condition errs only towards more
candidates, never fewer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text

from alerts.query import And, Expr, Field, Group, Near, Not, Or, Phrase
from alerts.watchlists import RegexTerm, Watchlist
from crawler.folding import fold
from crawler.models import ArticleSearch
from crawler.search_index import FTS_TABLE, MAX_TOKEN_CHARS, runs

__all__ = ["Condition", "candidate_ids", "holds", "index_condition", "term_tokens"]


def term_tokens(term: str) -> frozenset[str]:
    """Tokens every text the matcher finds ``term`` in has (empty: none can be named)."""
    text_ = term.strip()
    if text_.startswith("="):
        text_ = text_[1:].strip()
    need: set[str] = set()
    for run, cjk in runs(fold(text_).text):
        if not cjk:
            need.add(run[:MAX_TOKEN_CHARS])
        elif len(run) == 1:
            need.add(run)
        else:
            need.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(need)


# ----- the condition of an expression -----------------------------------------------------------

# ("all", tokens) | ("and", parts) | ("or", parts); None: no condition (anything may match)
Condition = tuple[str, Any]


def _terms(terms: Iterable[str]) -> Condition | None:
    alts = [term_tokens(t) for t in terms]
    if not alts or any(not a for a in alts):
        return None
    if len(alts) == 1:
        return ("all", alts[0])
    return ("or", tuple(("all", a) for a in alts))


def index_condition(expr: Expr, wl: Watchlist) -> Condition | None:
    """What an article matching ``expr`` must contain, as tokens; None when nothing can be
    said (``NOT x``, regex terms, terms without a word or CJK character)."""
    match expr:
        case Group(name):
            terms = wl.groups[name]
            if any(isinstance(t, RegexTerm) for t in terms):
                return None
            return _terms(str(t) for t in terms)
        case Phrase(text_):
            return _terms([text_])
        case Not():
            return None
        case Field(_, item):
            return index_condition(item, wl)
        case Near(left, right, _):
            return index_condition(And((left, right)), wl)
        case And(items):
            parts = [p for p in (index_condition(i, wl) for i in items) if p is not None]
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else ("and", tuple(parts))
        case Or(items):
            alts = [index_condition(i, wl) for i in items]
            if any(a is None for a in alts):
                return None
            return ("or", tuple(a for a in alts if a is not None))
    raise TypeError(expr)


def holds(cond: Condition, key: str | None) -> bool:
    """Whether an article with ``key`` meets ``cond`` (what the database answers)."""
    if key is None:
        return True
    return _holds(cond, set(key.split()))


def _holds(cond: Condition, tokens: set[str]) -> bool:
    kind, value = cond
    if kind == "all":
        return value <= tokens
    results = (_holds(p, tokens) for p in value)
    return all(results) if kind == "and" else any(results)


def _fts5(cond: Condition) -> str:
    kind, value = cond
    if kind == "all":
        return " AND ".join(f'"{t}"' for t in sorted(value))
    return "(" + f" {kind.upper()} ".join(_fts5(p) for p in value) + ")"


def _tsquery(cond: Condition) -> str:
    kind, value = cond
    if kind == "all":
        return " & ".join(_lexeme(t) for t in sorted(value))
    return "(" + (" & " if kind == "and" else " | ").join(_tsquery(p) for p in value) + ")"


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _pg_vector() -> Any:
    # Spelled as in the index definition (a bound ' ' would not match the index expression).
    return func.array_to_tsvector(func.string_to_array(ArticleSearch.key, literal_column("' '")))


def candidate_ids(dialect: str, cond: Condition) -> Select[Any]:
    """A SELECT of the ids of the articles that meet ``cond`` (plus the unindexed ones)."""
    unindexed = select(ArticleSearch.article_id).where(ArticleSearch.key.is_(None))
    if dialect == "postgresql":
        query = text("CAST(:tsq AS tsquery)").bindparams(tsq=_tsquery(cond))
        return select(ArticleSearch.article_id).where(
            _pg_vector().op("@@")(query) | ArticleSearch.key.is_(None)
        )
    match = text(f"{FTS_TABLE} MATCH :fts").bindparams(fts=_fts5(cond))
    found = (
        select(literal_column("rowid").label("article_id"))
        .select_from(text(FTS_TABLE))
        .where(match)
    )
    return found.union_all(unindexed)  # type: ignore[return-value]
