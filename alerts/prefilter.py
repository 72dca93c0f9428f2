"""A cheap in-process test that every article a watchlist matches passes (the try-out).

Replaying a watchlist over 30 days reads tens of thousands of articles; running the full
matcher on each costs folding and an Aho-Corasick pass. The prefilter asks less: does the
folded text contain, as plain substrings, the literals the ``match`` expression needs (its
AND/OR structure; ``NOT``, regex terms and NEAR distances narrow nothing, and each literal
stands for its longest word, since whitespace folds)? Whatever the matcher accepts passes,
so replaying only what passes gives the same result. Fast paths keep folding out of the
loop: ASCII text only needs lower-casing (and cannot hold non-ASCII literals); NFKC-normal
text needs casefolding, with each Chinese literal spelled in all its variants instead of
folding the text. Anything else is folded as the matcher folds it.

The test reads one text: the article's title, summary and body joined by newlines, which the
database can hand over as one column. Field scopes (``title:``) widen to the whole text,
which keeps the test a superset.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from alerts.query import And, Expr, Field, Group, Near, Not, Or, Phrase, parse
from alerts.watchlists import RegexTerm, Watchlist
from crawler.folding import chinese_variants, fold

__all__ = ["SEPARATOR", "text_prefilter"]

SEPARATOR = "\n"  # between title, summary and body in the text a prefilter reads


def _literal(term: str) -> str:
    """The part of a term a folded text must contain: its longest word (whitespace folds)."""
    text = term.strip()
    if text.startswith("="):
        text = text[1:].strip()
    return max(fold(text).text.split(), key=len, default="")


def _needs(expr: Expr, wl: Watchlist) -> Any:
    """What a matching document must contain: ("lits", literals) nodes combined by
    ("and"|"or", parts); None when nothing can be said (NOT, regex terms)."""
    match expr:
        case Group(name):
            terms = wl.groups[name]
            if any(isinstance(t, RegexTerm) for t in terms):
                return None
            return ("lits", _fewest(_literal(str(t)) for t in terms))
        case Phrase(text):
            return ("lits", (_literal(text),))
        case Not():
            return None
        case Field(_, item):
            return _needs(item, wl)
        case And(items):
            parts: list[Any] = []
            for item in items:
                part = _needs(item, wl)
                if part is not None:
                    parts += part[1] if part[0] == "and" else [part]  # flat: a AND (b AND c)
            return ("and", tuple(parts)) if parts else None
        case Near(left, right, _):
            return _needs(And((left, right)), wl)
        case Or(items):
            alts = [_needs(i, wl) for i in items]
            if any(a is None for a in alts):
                return None
            if all(a[0] == "lits" for a in alts):
                return ("lits", _fewest(lit for a in alts for lit in a[1]))
            return ("or", tuple(alts))
    raise TypeError(expr)


def _fewest(literals: Iterable[str]) -> tuple[str, ...]:
    """The literals without those containing another one (``taiwanese`` needs ``taiwan``)."""
    kept: list[str] = []
    for lit in sorted(set(literals), key=len):
        if not any(k in lit for k in kept):
            kept.append(lit)
    return tuple(kept)


def _for_ascii(need: Any) -> Any:
    """``need`` for an ASCII text: non-ASCII literals cannot occur in it."""
    kind = need[0]
    if kind == "lits":
        kept = tuple(lit for lit in need[1] if lit.isascii())
        return ("lits", kept) if kept else ("false",)
    if kind == "false":
        return need
    parts = [_for_ascii(p) for p in need[1]]
    if kind == "and":
        return ("false",) if any(p[0] == "false" for p in parts) else ("and", tuple(parts))
    alive = tuple(p for p in parts if p[0] != "false")
    return ("or", alive) if alive else ("false",)


@cache
def _variant_members() -> dict[str, tuple[str, ...]]:
    """Folded Chinese character → every character that folds to it."""
    members: dict[str, set[str]] = {}
    for ch in chinese_variants():
        members.setdefault(fold(ch).text, {fold(ch).text}).add(ch)
    return {rep: tuple(sorted(chars)) for rep, chars in members.items()}


def _raw_variants(literal: str, cap: int = 64) -> tuple[str, ...] | None:
    """Every spelling of a folded literal before Chinese folding (None: more than ``cap``)."""
    members = _variant_members()
    options = [members.get(ch, (ch,)) for ch in literal]
    if math.prod(len(o) for o in options) > cap:
        return None
    return tuple("".join(chars) for chars in itertools.product(*options))


def _for_casefolded(need: Any) -> Any:
    """``need`` for casefolded, NFKC-normalised text that is not Chinese-folded: each literal
    in all its spellings. None when a literal has too many."""
    kind = need[0]
    if kind == "lits":
        spelled = [_raw_variants(lit) for lit in need[1]]
        if any(v is None for v in spelled):
            return None
        return ("lits", _fewest(v for vs in spelled for v in vs or ()))
    parts = [_for_casefolded(p) for p in need[1]]
    return None if any(p is None for p in parts) else (kind, tuple(parts))


def _compile(need: Any) -> Callable[[str], bool]:
    kind = need[0]
    if kind == "false":
        return lambda text: False
    if kind == "lits":
        return _all_of((need[1],))
    parts = sorted(need[1], key=_cost)  # cheapest first
    if kind == "and" and all(p[0] == "lits" for p in parts):
        return _all_of(tuple(p[1] for p in parts))
    tests = [_compile(p) for p in parts]
    if kind == "and":
        return lambda text: all(test(text) for test in tests)
    return lambda text: any(test(text) for test in tests)


def _all_of(groups: tuple[tuple[str, ...], ...]) -> Callable[[str], bool]:
    """One literal of every group in the text (the usual ``a AND (b OR c) AND d``)."""

    def all_groups(text: str) -> bool:
        for group in groups:
            for lit in group:
                if lit in text:
                    break
            else:
                return False
        return True

    return all_groups


def _cost(need: Any) -> int:
    if need[0] == "false":
        return 0
    return len(need[1]) if need[0] == "lits" else sum(_cost(p) for p in need[1])


def text_prefilter(wl: Watchlist) -> Callable[[str], bool] | None:
    """A cheap test that every article ``wl`` matches passes, on its title, summary and body
    joined by ``SEPARATOR``: each literal's longest word as a plain substring of the folded
    text (no word edges, NEAR distances, fields or case: the matcher checks those). None:
    the expression needs no literal, so nothing can be skipped."""
    need = _needs(parse(wl.match, wl.groups), wl)
    if need is None:
        return None
    holds, holds_ascii = _compile(need), _compile(_for_ascii(need))
    spelled = _for_casefolded(need)
    holds_spelled = _compile(spelled) if spelled is not None else None

    def test(text: str) -> bool:
        if text.isascii():  # folding is lower-casing
            return holds_ascii(text.lower())
        if holds_spelled is not None and unicodedata.is_normalized("NFKC", text):
            # folding is casefolding plus Chinese variants, which the spellings cover
            return holds_spelled(text.casefold())
        return holds(fold(text).text)

    return test
