"""One compiled matching engine for all watchlists.

How a document is matched:

1. Each field is folded (``crawler.folding``) and scanned once by a single Aho-Corasick
   automaton holding every literal term of every watchlist (group terms and quoted phrases).
2. Raw hits are kept only where the term's edges are whole words: an edge that is a Latin
   letter or digit must not touch another letter or digit of a space-separated script
   (``MOU`` never matches in "mountain", ``IP`` never in "ship"). CJK, kana, Hangul and Thai
   characters are not word characters for that check, so ``用MOU`` and ``與US簽署`` match,
   and CJK terms match as substrings. An apostrophe is a boundary: ``Taiwan`` matches
   "Taiwan's". There is no stemming: list ``MOUs`` if you want it.
3. Only watchlists whose ``match`` references a found term are evaluated (plus the rare ones
   whose ``match`` can be true without any literal, e.g. ``NOT x``), so the cost per article
   does not grow with watchlists that have nothing in it.

Terms:

* ``"=US"`` (a leading ``=``) is case-sensitive: found case-insensitively, then kept only if
  the original text, width- and script-folded but not casefolded, equals ``US``. Without it,
  ``US`` also matches the pronoun "us". Width and Chinese folding still apply.
* ``RegexTerm`` is RE2 syntax (``alerts.regex_terms``), run case-insensitively on folded text
  (its CJK characters are folded too), in time linear in the text. When the pattern has a
  literal run every match must contain (``US\\s*\\d{7}`` → ``us``), that run joins the
  automaton as a prefilter and the regex runs only if it is found. Regexes are evaluated
  lazily: AND/OR evaluate literal-only operands first, so a regex runs only when the boolean
  outcome still depends on it.

Bounds, so that no document can stall the matcher: each field is matched on its first
``MAX_FIELD_CHARS`` characters (what the crawler stores of a body); a regex keeps its first
``MAX_REGEX_HITS`` matches per field (finding one is linear in the text, so this bounds the
total; a report needs no more); NEAR compares each left position with the nearest right
ones only (sorted, bisected: never all pairs); a match reports at most
``MAX_HITS_PER_TERM`` occurrences of a term per field.

``exclude`` is evaluated like ``match``; when true the match is dropped. ``sources`` limits a
watchlist to documents whose ``source_id`` or one of whose ``source_tags`` is listed.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import ahocorasick

from alerts.query import (
    FIELDS,
    And,
    Expr,
    Field,
    Group,
    Near,
    Not,
    Or,
    Phrase,
    parse,
)
from alerts.regex_terms import compile_term, required_literal
from alerts.snippet import make_snippet
from alerts.watchlists import RegexTerm, Term, Watchlist
from crawler.folding import Folded, fold, fold_case_preserving
from crawler.unicode_scripts import WORD_UNITS, is_word_char

__all__ = ["Document", "Hit", "Matcher", "WatchlistMatch", "is_word_char"]

# What the crawler keeps of a body (crawler.normalize.MAX_BODY); longer text is cut here.
MAX_FIELD_CHARS = 500_000
MAX_REGEX_HITS = 100
MAX_HITS_PER_TERM = 20
_ALL_FIELDS = 0b111
_FIELD_BITS = {name: 1 << i for i, name in enumerate(FIELDS)}


@dataclass(frozen=True, slots=True)
class Document:
    """The text fields of an article and where it came from."""

    title: str
    summary: str
    body: str
    source_id: str = ""
    source_tags: Collection[str] = ()

    @classmethod
    def of(cls, article: _StoredText, tags: Mapping[str, Collection[str]]) -> Document:
        """The document of a stored article (NULL fields read as ""), with its source's tags."""
        return cls(
            article.title or "",
            article.summary or "",
            article.body or "",
            article.source_id,
            tags.get(article.source_id, ()),
        )


class _StoredText(Protocol):
    title: str | None
    summary: str | None
    body: str | None
    source_id: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One term occurrence; ``start``/``end`` index the original field text."""

    term: str
    group: str | None
    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class WatchlistMatch:
    """A watchlist that matched, its hits and an excerpt with highlight offsets into it."""

    watchlist: str
    hits: list[Hit]
    snippet: str
    highlights: list[tuple[int, int]]


# --- compiled structures ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Literal:
    folded: str
    exact: str | None  # case-preserving form for '=' terms


@dataclass(frozen=True, slots=True)
class _Regex:
    pattern: str
    regex: Any  # a compiled RE2 regex (google-re2 has no type stubs)
    prefilter: str | None


@dataclass(frozen=True, slots=True)
class _Operand:
    label: str  # group name, or the phrase text
    group: str | None
    literals: tuple[tuple[str, int], ...]  # (term as written, literal id)
    regexes: tuple[tuple[str, int], ...]  # (pattern, regex id)


@dataclass(frozen=True, slots=True)
class _Ref:
    operand: int


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # "and", "or", "not", "near", "field"
    items: tuple[Any, ...]
    value: int = 0  # NEAR distance or field bit


@dataclass(slots=True)
class _Entry:
    length: int
    left: bool
    right: bool
    literals: list[int] = field(default_factory=list)
    exact: list[tuple[int, str]] = field(default_factory=list)
    prefilters: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Watch:
    name: str
    sources: frozenset[str]
    match: Any
    exclude: Any
    positives: tuple[tuple[int, int], ...]  # (operand id, field mask) not under NOT


def _parse_term(term: str) -> tuple[str, str | None]:
    text = term.strip()
    exact = text.startswith("=")
    if exact:
        text = text[1:].strip()
    folded = fold(text).text.strip()
    if not folded:
        raise ValueError(f"empty term {term!r}")
    return folded, fold_case_preserving(text).text.strip() if exact else None


class _Compiler:
    def __init__(self) -> None:
        self.literals: list[_Literal] = []
        self.literal_ids: dict[tuple[str, str | None], int] = {}
        self.regexes: list[_Regex] = []
        self.regex_ids: dict[str, int] = {}
        self.operands: list[_Operand] = []

    def literal(self, term: str) -> int:
        folded, exact = _parse_term(term)
        key = (folded, exact)
        if key not in self.literal_ids:
            self.literal_ids[key] = len(self.literals)
            self.literals.append(_Literal(folded, exact))
        return self.literal_ids[key]

    def regex(self, pattern: str) -> int:
        if pattern not in self.regex_ids:
            compiled = compile_term(pattern)
            self.regex_ids[pattern] = len(self.regexes)
            self.regexes.append(_Regex(pattern, compiled, required_literal(compiled.pattern)))
        return self.regex_ids[pattern]

    def operand(self, label: str, group: str | None, terms: Sequence[Term]) -> int:
        lits: list[tuple[str, int]] = []
        rxs: list[tuple[str, int]] = []
        for term in terms:
            if isinstance(term, RegexTerm):
                rxs.append((term.regex, self.regex(term.regex)))
            else:
                lits.append((term, self.literal(term)))
        self.operands.append(_Operand(label, group, tuple(lits), tuple(rxs)))
        return len(self.operands) - 1

    def expr(self, expr: Expr, wl: Watchlist, cache: dict[str, int]) -> Any:
        match expr:
            case Group(name):
                if name not in cache:
                    cache[name] = self.operand(name, name, wl.groups[name])
                return _Ref(cache[name])
            case Phrase(text):
                key = '"' + text
                if key not in cache:
                    cache[key] = self.operand(text, None, [text])
                return _Ref(cache[key])
            case Not(item):
                return _Node("not", (self.expr(item, wl, cache),))
            case Field(name, item):
                return _Node("field", (self.expr(item, wl, cache),), _FIELD_BITS[name])
            case Near(left, right, distance):
                items = (self.expr(left, wl, cache), self.expr(right, wl, cache))
                return _Node("near", items, distance)
            case And(items) | Or(items):
                nodes = [self.expr(i, wl, cache) for i in items]
                # Literal-only operands first, so short-circuiting skips regexes.
                nodes.sort(key=lambda n: self.has_regex(n))
                return _Node("and" if isinstance(expr, And) else "or", tuple(nodes))
        raise TypeError(expr)

    def has_regex(self, node: Any) -> bool:
        if isinstance(node, _Ref):
            return bool(self.operands[node.operand].regexes)
        return any(self.has_regex(i) for i in node.items)


def _refs(node: Any) -> set[int]:
    if isinstance(node, _Ref):
        return {node.operand}
    if node is None:
        return set()
    return set().union(*(_refs(i) for i in node.items))


def _positives(node: Any, mask: int, out: set[tuple[int, int]]) -> None:
    if isinstance(node, _Ref):
        out.add((node.operand, mask))
    elif node.kind == "field":
        _positives(node.items[0], node.value, out)
    elif node.kind != "not":
        for item in node.items:
            _positives(item, mask, out)


def _maybe_without_literals(node: Any, operands: list[_Operand], regexes: list[_Regex]) -> Any:
    """Three-valued value (True/False/None=unknown) when no literal and no prefilter is found."""
    if isinstance(node, _Ref):
        op = operands[node.operand]
        return None if any(regexes[r].prefilter is None for _, r in op.regexes) else False
    values = [_maybe_without_literals(i, operands, regexes) for i in node.items]
    if node.kind == "not":
        return None if values[0] is None else not values[0]
    if node.kind == "field":
        return values[0]
    if node.kind == "or":
        return True if True in values else (None if None in values else False)
    # "and" and "near"
    return False if False in values else (None if None in values else True)


# --- per-document evaluation -----------------------------------------------------------


class _Doc:
    """Per-document state: folded fields, literal hits, lazily run regexes and tokens."""

    def __init__(
        self,
        engine: Matcher,
        fields: list[Folded],
        hits: dict[int, list[Any]],
        prefiltered: set[int],
    ) -> None:
        self.engine = engine
        self.fields = fields
        self.hits = hits
        self.prefiltered = prefiltered
        self.regex_hits: dict[int, list[tuple[int, int, int]]] = {}
        self.tokens: dict[int, tuple[list[int], list[int]]] = {}

    def regex(self, rid: int) -> list[tuple[int, int, int]]:
        if rid not in self.regex_hits:
            rx = self.engine._regexes[rid]
            found: list[tuple[int, int, int]] = []
            if rx.prefilter is None or rid in self.prefiltered:
                for fi in range(len(self.fields)):
                    spans = (
                        (fi, m.start(), m.end())
                        for m in rx.regex.finditer(self.regex_text(fi))
                        if m.end() > m.start()
                    )
                    found.extend(itertools.islice(spans, MAX_REGEX_HITS))
            self.regex_hits[rid] = found
        return self.regex_hits[rid]

    def regex_text(self, fi: int) -> str:
        """The folded field as RE2 can take it: lone surrogates (not UTF-8) become '?'."""
        text = self.fields[fi].text
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return text.encode("utf-8", "replace").decode("utf-8")  # one '?' per surrogate
        return text

    def present(self, oid: int, mask: int) -> bool:
        op = self.engine._operands[oid]
        for _, lid in op.literals:
            for h in self.hits.get(lid, ()):
                if mask >> h[0] & 1:
                    return True
        return any(mask >> h[0] & 1 for _, rid in op.regexes for h in self.regex(rid))

    def positions(self, node: Any, mask: int) -> list[tuple[int, int, int]]:
        if isinstance(node, _Ref):
            op = self.engine._operands[node.operand]
            out = [h for _, lid in op.literals for h in self.hits.get(lid, ())]
            out += [h for _, rid in op.regexes for h in self.regex(rid)]
            return [h for h in out if mask >> h[0] & 1]
        if node.kind == "field":
            return self.positions(node.items[0], node.value)
        return [h for item in node.items for h in self.positions(item, mask)]

    def units(self, fi: int) -> tuple[list[int], list[int]]:
        if fi not in self.tokens:
            starts: list[int] = []
            cumulative = [0]
            for m in WORD_UNITS.finditer(self.fields[fi].text):
                starts.append(m.start())
                cumulative.append(cumulative[-1] + (1 if m.group(1) else 2))
            self.tokens[fi] = (starts, cumulative)
        return self.tokens[fi]

    def near(self, node: _Node, mask: int) -> bool:
        left = self.positions(node.items[0], mask)
        if not left:
            return False
        # Per field: right positions by start, and the largest end among the first k of them.
        right: dict[int, tuple[list[int], list[int], list[tuple[int, int, int]]]] = {}
        for hit in sorted(self.positions(node.items[1], mask)):
            starts, max_ends, hits = right.setdefault(hit[0], ([], [], []))
            starts.append(hit[1])
            max_ends.append(max(hit[2], max_ends[-1]) if max_ends else hit[2])
            hits.append(hit)
        limit = 2 * node.value
        for a in left:
            if a[0] not in right:
                continue
            starts, max_ends, hits = right[a[0]]
            k = bisect.bisect_left(starts, a[1])
            # The nearest right hit starting at or after ``a``, and among those starting
            # before it the one ending last: no other pair can be closer.
            if k < len(hits) and self.close(a, hits[k], limit):
                return True
            if k > 0 and self.close((a[0], starts[k - 1], max_ends[k - 1]), a, limit):
                return True
        return False

    def close(self, first: tuple[int, int, int], second: tuple[int, int, int], limit: int) -> bool:
        """Whether ``second`` (starting no earlier than ``first``) is within ``limit`` units."""
        if second[1] < first[2]:
            return True  # overlapping
        starts, cumulative = self.units(first[0])
        i = bisect.bisect_left(starts, first[2])
        j = bisect.bisect_left(starts, second[1])
        return cumulative[j] - cumulative[i] <= limit

    def eval(self, node: Any, mask: int = _ALL_FIELDS) -> bool:
        if isinstance(node, _Ref):
            return self.present(node.operand, mask)
        kind = node.kind
        if kind == "and":
            return all(self.eval(i, mask) for i in node.items)
        if kind == "or":
            return any(self.eval(i, mask) for i in node.items)
        if kind == "not":
            return not self.eval(node.items[0], mask)
        if kind == "field":
            return self.eval(node.items[0], node.value)
        return self.near(node, mask)


# --- the engine ------------------------------------------------------------------------


class Matcher:
    """All enabled watchlists compiled into one automaton; see the module docstring."""

    def __init__(self, watches: list[_Watch], compiler: _Compiler) -> None:
        self._watches = watches
        self._operands = compiler.operands
        self._regexes = compiler.regexes
        self._literals = compiler.literals
        self._automaton: Any = None
        self._entries: list[_Entry] = []
        self._literal_watches: dict[int, set[int]] = {}
        self._prefilter_watches: dict[int, set[int]] = {}
        self._always: list[int] = []
        self._build()

    @classmethod
    def compile(cls, watchlists: Sequence[Watchlist]) -> Matcher:
        """Compile the enabled watchlists; raises ``QuerySyntaxError``/``ValueError``."""
        compiler = _Compiler()
        watches: list[_Watch] = []
        for wl in watchlists:
            if not wl.enabled:
                continue
            cache: dict[str, int] = {}
            nodes = []
            for attr in ("match", "exclude"):
                text = getattr(wl, attr)
                if text is None:
                    nodes.append(None)
                    continue
                try:
                    expr = parse(text, wl.groups)
                except ValueError as exc:
                    exc.add_note(f"in watchlist {wl.name!r}, {attr}: {text}")
                    raise
                try:
                    nodes.append(compiler.expr(expr, wl, cache))
                except ValueError as exc:
                    raise ValueError(f"watchlist {wl.name!r}: {exc}") from exc
            positives: set[tuple[int, int]] = set()
            _positives(nodes[0], _ALL_FIELDS, positives)
            watches.append(
                _Watch(wl.name, frozenset(wl.sources), nodes[0], nodes[1], tuple(sorted(positives)))
            )
        return cls(watches, compiler)

    @classmethod
    def compile_one(cls, watchlist: Watchlist) -> Matcher:
        """Compile a single watchlist, disabled or not (checks, backtests, catch-ups)."""
        return cls.compile([watchlist.model_copy(update={"enabled": True})])

    def _build(self) -> None:
        entries: dict[str, _Entry] = {}

        def entry(key: str) -> _Entry:
            if key not in entries:
                entries[key] = _Entry(len(key), is_word_char(key[0]), is_word_char(key[-1]))
            return entries[key]

        for lid, lit in enumerate(self._literals):
            e = entry(lit.folded)
            if lit.exact is None:
                e.literals.append(lid)
            else:
                e.exact.append((lid, lit.exact))
        for rid, rx in enumerate(self._regexes):
            if rx.prefilter is not None:
                entry(rx.prefilter).prefilters.append(rid)
        for wi, watch in enumerate(self._watches):
            for oid in _refs(watch.match):
                op = self._operands[oid]
                for _, lid in op.literals:
                    self._literal_watches.setdefault(lid, set()).add(wi)
                for _, rid in op.regexes:
                    self._prefilter_watches.setdefault(rid, set()).add(wi)
            if _maybe_without_literals(watch.match, self._operands, self._regexes) is not False:
                self._always.append(wi)
        self._entries = list(entries.values())
        if entries:
            automaton = ahocorasick.Automaton()
            for index, key in enumerate(entries):
                automaton.add_word(key, index)
            automaton.make_automaton()
            self._automaton = automaton

    @property
    def watchlists(self) -> list[str]:
        """Names of the compiled (enabled) watchlists, in order."""
        return [w.name for w in self._watches]

    def match(self, doc: Document) -> list[WatchlistMatch]:
        """All watchlists that match ``doc``, in compile order."""
        originals = (
            doc.title[:MAX_FIELD_CHARS],
            doc.summary[:MAX_FIELD_CHARS],
            doc.body[:MAX_FIELD_CHARS],
        )
        fields = [fold(text) for text in originals]
        hits, prefiltered = self._scan(fields, originals)
        candidates = set(self._always)
        for lid in hits:
            candidates.update(self._literal_watches.get(lid, ()))
        for rid in prefiltered:
            candidates.update(self._prefilter_watches.get(rid, ()))
        if not candidates:
            return []
        state = _Doc(self, fields, hits, prefiltered)
        tags = {doc.source_id, *doc.source_tags}
        results = []
        for wi in sorted(candidates):
            watch = self._watches[wi]
            if watch.sources and not watch.sources & tags:
                continue
            if not state.eval(watch.match):
                continue
            if watch.exclude is not None and state.eval(watch.exclude):
                continue
            results.append(self._report(watch, state, originals))
        return results

    def _scan(
        self, fields: list[Folded], originals: tuple[str, ...]
    ) -> tuple[dict[int, list[tuple[int, int, int]]], set[int]]:
        hits: dict[int, list[tuple[int, int, int]]] = {}
        prefiltered: set[int] = set()
        if self._automaton is None:
            return hits, prefiltered
        entries = self._entries
        for fi, folded in enumerate(fields):
            text = folded.text
            n = len(text)
            for last, index in self._automaton.iter(text):
                e = entries[index]
                end = last + 1
                start = end - e.length
                if e.prefilters:
                    prefiltered.update(e.prefilters)
                if e.left and start > 0 and is_word_char(text[start - 1]):
                    continue
                if e.right and end < n and is_word_char(text[end]):
                    continue
                for lid in e.literals:
                    hits.setdefault(lid, []).append((fi, start, end))
                if e.exact:
                    a, b = folded.span(start, end)
                    actual = fold_case_preserving(originals[fi][a:b]).text
                    for lid, exact in e.exact:
                        if actual == exact:
                            hits.setdefault(lid, []).append((fi, start, end))
        return hits, prefiltered

    def _report(self, watch: _Watch, state: _Doc, originals: tuple[str, ...]) -> WatchlistMatch:
        # Terms that fold alike (台灣/臺灣) hit the same span: keep one Hit per span and
        # group, preferring the term spelled exactly as in the text.
        found: dict[tuple[str | None, int, int, int], Hit] = {}
        for oid, mask in watch.positives:
            op = self._operands[oid]
            sources = [(term, state.hits.get(lid, ())) for term, lid in op.literals]
            sources += [(pattern, state.regex(rid)) for pattern, rid in op.regexes]
            for term, positions in sources:
                per_field = [0] * len(FIELDS)
                for fi, start, end in positions:
                    if not mask >> fi & 1 or per_field[fi] >= MAX_HITS_PER_TERM:
                        continue
                    per_field[fi] += 1
                    a, b = state.fields[fi].span(start, end)
                    key = (op.group, fi, a, b)
                    if key not in found or originals[fi][a:b] == term:
                        found[key] = Hit(term, op.group, FIELDS[fi], a, b)
        order = {name: i for i, name in enumerate(FIELDS)}
        hits = sorted(found.values(), key=lambda h: (order[h.field], h.start, h.end, h.term))
        snippet, highlights = make_snippet(originals, hits)
        return WatchlistMatch(watch.name, hits, snippet, highlights)
