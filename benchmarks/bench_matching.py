"""matching: the compiled watchlist engine vs a per-term regex loop, on the same articles.

Input (deterministic): 5,000 terms (English words and phrases, Chinese words) spread over
500 watchlists of three groups each (``g0 AND (g1 OR g2)``), and 10,000 generated articles
of 2–4 KB, English, Chinese or mixed. ``quick`` uses a tenth of both sizes.

wirewatch: ``Matcher.match`` per article (fold, one Aho-Corasick pass, candidate evaluation,
snippets for matches). Baseline: what a straightforward implementation does — every term
compiled as its own regex (``\\b`` boundaries for Latin terms, none for Chinese), each
searched over the lowercased article in turn, then every watchlist evaluated on the
found terms. The baseline costs ~5,000 searches per article, so it is timed on the first
``baseline_articles`` articles only (the per-article cost does not depend on the sample);
both rates are articles per second.

Two more rows compare with stronger baselines, timed in alternating rounds with wirewatch
(the articles are split into five chunks; each chunk is matched by both sides, the side that
goes first alternating; each side's rate is its articles over its summed time):

* ``matching-combined-regex``: every term in one alternation regex (``\\b`` around Latin
  terms), run over the article folded exactly as wirewatch folds it (``crawler.folding.fold``);
  timed on a sample of each chunk (the per-article cost does not depend on the sample).
* ``matching-aho-plain``: a plain pyahocorasick automaton of the lowercased terms over the
  lowercased article, with the same word-boundary check, and no folding (no width, variant or
  full casefolding: it misses what folding finds, so it is a lower bound on the work).
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Callable, Sequence
from functools import cache

import ahocorasick

from alerts.matcher import Document, Matcher
from alerts.query import And, Expr, Field, Group, Near, Not, Or, Phrase, parse
from alerts.watchlists import Watchlist
from benchmarks.registry import Result, RunOptions, register
from crawler.folding import fold

_SYLLABLES = [
    "ta", "ri", "pa", "ten", "lo", "mi", "chip", "con", "ex", "port", "ver", "an", "sel",
    "dor", "ka", "tro", "ne", "vi", "sta", "gen", "mar", "qu", "lin", "so", "rep", "ul",
]  # fmt: skip
_CJK = (
    "的一是在不了有和人這中大為上個國我以要他時來用們生到作地於出就分對成會可主發年動"
    "同工也能下過子說產種面而方後多定行學法所民得經十三之進著等部度家電力裡如水化高自二"
    "理起小物現實加量都兩體制機當使點從業本去把性好應開它合還因由其些然前外天政四日那社義"
    "事平形相全表間樣與關各重新線內數正心反你明看原又麼利比或但質氣第向道命此變條只沒結解"
    "問意建月公無系軍很情者最立代想已通並提直題黨程展五果料象員革位入常文總次品式活設及管"
    "特件長求老頭基資邊流路級少圖山統接知較將組見計別她手角期根論運農指幾九區強放決西被幹"
    "做必戰先回則任取據處府研質專授權備忘錄臺灣美歐盟貿易關稅商標著作智慧財產"
)
_PUNCT_ZH = "，。、；"


def _words(rng: random.Random, count: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(seen)  # in generation order: the Zipf rank is random, not alphabetical


def _zh_word(rng: random.Random) -> str:
    return "".join(rng.choice(_CJK) for _ in range(rng.randint(2, 4)))


def make_watchlists(term_count: int, rng: random.Random, vocab: Sequence[str]) -> list[Watchlist]:
    """``term_count`` terms in watchlists of three groups, ~10 terms per watchlist."""
    lists = []
    for index in range(max(1, term_count // 10)):
        groups: dict[str, list[str]] = {}
        for g, size in (("g0", 4), ("g1", 3), ("g2", 3)):
            terms: set[str] = set()
            while len(terms) < size:
                kind = rng.random()
                if kind < 0.6:
                    terms.add(rng.choice(vocab[200:]).capitalize())
                elif kind < 0.8:
                    terms.add(f"{rng.choice(vocab)} {rng.choice(vocab)}")
                else:
                    terms.add(_zh_word(rng))
            groups[g] = sorted(terms)
        lists.append(Watchlist(name=f"w{index}", groups=groups, match="g0 AND (g1 OR g2)"))
    return lists


def _english(rng: random.Random, vocab: Sequence[str], words: int) -> str:
    chosen = rng.choices(vocab, cum_weights=_zipf(len(vocab)), k=words)
    sentences = []
    for start in range(0, words, 14):
        sentence = " ".join(chosen[start : start + 14])
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
    return " ".join(sentences)


@cache
def _zipf(size: int) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) for rank in range(size)))


def _chinese(rng: random.Random, chars: int) -> str:
    out = []
    for i in range(chars):
        out.append(rng.choice(_CJK))
        if i % 17 == 16:
            out.append(rng.choice(_PUNCT_ZH))
    return "".join(out)


def make_articles(count: int, rng: random.Random, vocab: Sequence[str]) -> list[Document]:
    """``count`` articles of 2–4 KB: 60 % English, 25 % Chinese, 15 % mixed."""
    docs = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.6:
            body = _english(rng, vocab, rng.randint(330, 660))
            title = _english(rng, vocab, 9)
        elif kind < 0.85:
            body = _chinese(rng, rng.randint(700, 1300))
            title = _chinese(rng, 16)
        else:
            body = _english(rng, vocab, 220) + "\n" + _chinese(rng, 500)
            title = _english(rng, vocab, 5) + _chinese(rng, 8)
        docs.append(Document(title=title, summary=body[:200], body=body))
    return docs


class RegexBaseline:
    """Each term its own regex, searched one after another; then every watchlist evaluated."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self.patterns: dict[str, re.Pattern[str]] = {}
        self.lists: list[tuple[str, Expr, dict[str, list[str]]]] = []
        for wl in watchlists:
            groups = {g: [str(t) for t in terms] for g, terms in wl.groups.items()}
            for terms in groups.values():
                for term in terms:
                    self.patterns.setdefault(term, self._compile(term))
            self.lists.append((wl.name, parse(wl.match, wl.groups), groups))

    @staticmethod
    def _compile(term: str) -> re.Pattern[str]:
        # Lowercase pattern on lowercased text: unlike re.IGNORECASE, this keeps re's fast
        # literal-prefix scan, so the baseline is as quick as a per-term loop gets.
        body = re.escape(term.lower())
        if term[:1].isascii():
            body = rf"\b{body}\b"
        return re.compile(body)

    def match(self, doc: Document) -> list[str]:
        text = f"{doc.title}\n{doc.summary}\n{doc.body}".lower()
        found = {term for term, rx in self.patterns.items() if rx.search(text)}
        return [name for name, expr, groups in self.lists if _eval(expr, groups, found)]


class _ListsBaseline:
    """The watchlists evaluated on the set of terms a baseline found."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self.lists = [
            (
                wl.name,
                parse(wl.match, wl.groups),
                {g: [str(t) for t in terms] for g, terms in wl.groups.items()},
            )
            for wl in watchlists
        ]
        self.terms = sorted(
            {t for _, _, groups in self.lists for ts in groups.values() for t in ts}
        )

    def evaluate(self, found: set[str]) -> list[str]:
        return [name for name, expr, groups in self.lists if _eval(expr, groups, found)]


def _text(doc: Document) -> str:
    return f"{doc.title}\n{doc.summary}\n{doc.body}"


class CombinedRegexBaseline(_ListsBaseline):
    """All terms in one regex alternation, over text folded as wirewatch folds it."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        super().__init__(watchlists)
        self.by_folded: dict[str, list[str]] = {}
        for term in self.terms:
            self.by_folded.setdefault(fold(term).text, []).append(term)
        # Longest first, so a phrase wins over a word it starts with; one \\b pair around
        # all Latin terms, none around Chinese ones.
        ordered = sorted(self.by_folded, key=len, reverse=True)
        latin = "|".join(re.escape(t) for t in ordered if t[:1].isascii())
        other = "|".join(re.escape(t) for t in ordered if not t[:1].isascii())
        body = "|".join(part for part in (rf"\b(?:{latin})\b" if latin else "", other) if part)
        self.rx = re.compile(body)

    def match(self, doc: Document) -> list[str]:
        text = fold(_text(doc)).text
        found = {t for m in self.rx.finditer(text) for t in self.by_folded[m.group()]}
        return self.evaluate(found)


class PlainAhoBaseline(_ListsBaseline):
    """pyahocorasick over lowercased text, no folding; Latin terms need word boundaries."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        super().__init__(watchlists)
        self.automaton = ahocorasick.Automaton()
        keys: dict[str, list[str]] = {}
        for term in self.terms:
            keys.setdefault(term.lower(), []).append(term)
        for key, terms in keys.items():
            self.automaton.add_word(key, (len(key), key[:1].isascii(), terms))
        self.automaton.make_automaton()

    def match(self, doc: Document) -> list[str]:
        text = _text(doc).lower()
        found: set[str] = set()
        for end, (length, latin, terms) in self.automaton.iter(text):
            start = end - length + 1
            if latin and (
                (start > 0 and text[start - 1].isalnum())
                or (end + 1 < len(text) and text[end + 1].isalnum())
            ):
                continue
            found.update(terms)
        return self.evaluate(found)


def alternating(
    ours: Callable[[Sequence[Document]], object],
    theirs: Callable[[Sequence[Document]], object],
    docs: Sequence[Document],
    sample: int,
    chunks: int = 5,
) -> tuple[float, float, int]:
    """Rates (articles/s) of both sides over ``docs`` in alternating chunks.

    wirewatch matches every article of a chunk; the baseline the first ``sample // chunks``
    of it. Returns (ours, theirs, articles the baseline matched).
    """
    size = -(-len(docs) // chunks)
    per_chunk = max(1, sample // chunks)
    ours_s = theirs_s = 0.0
    theirs_n = 0
    for index in range(chunks):
        chunk = docs[index * size : (index + 1) * size]
        if not chunk:
            continue
        part = chunk[:per_chunk]
        for side in ("ours", "theirs")[:: 1 if index % 2 == 0 else -1]:
            started = time.perf_counter()
            if side == "ours":
                ours(chunk)
                ours_s += time.perf_counter() - started
            else:
                theirs(part)
                theirs_s += time.perf_counter() - started
        theirs_n += len(part)
    return len(docs) / ours_s, theirs_n / theirs_s, theirs_n


def _eval(expr: Expr, groups: dict[str, list[str]], found: set[str]) -> bool:
    match expr:
        case Group(name):
            return any(t in found for t in groups[name])
        case Phrase(text):
            return text in found
        case Not(item):
            return not _eval(item, groups, found)
        case And(items):
            return all(_eval(i, groups, found) for i in items)
        case Or(items):
            return any(_eval(i, groups, found) for i in items)
        case Field(_, item) | Near(item, _, _):  # not used by this benchmark's watchlists
            return _eval(item, groups, found)
    raise TypeError(expr)


def bench(quick: bool = False) -> dict[str, object]:
    """Run the benchmark; returns the result row as a dict."""
    scale = 10 if quick else 1
    term_count, article_count = 5000 // scale, 10_000 // scale
    baseline_articles = 300 // scale
    rng = random.Random(20240611)
    vocab = _words(rng, 20_000)
    watchlists = make_watchlists(term_count, rng, vocab)
    docs = make_articles(article_count, rng, vocab)
    text_mb = sum(len(d.title) + len(d.summary) + len(d.body) for d in docs) / 1e6

    started = time.perf_counter()
    engine = Matcher.compile(watchlists)
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = [[m.watchlist for m in engine.match(doc)] for doc in docs]
    ours_s = time.perf_counter() - started

    baseline = RegexBaseline(watchlists)
    sample = docs[:baseline_articles]
    started = time.perf_counter()
    theirs = [baseline.match(doc) for doc in sample]
    theirs_s = time.perf_counter() - started

    agree = sum(a == b for a, b in zip(ours, theirs, strict=False))
    ours_rate = article_count / ours_s
    theirs_rate = len(sample) / theirs_s
    matches = sum(len(m) for m in ours)
    return {
        "name": "matching",
        "wirewatch": ours_rate,
        "baseline": theirs_rate,
        "unit": "articles/s",
        "ratio": ours_rate / theirs_rate,
        "target": ">= 30x",
        "notes": (
            f"{sum(len(t) for w in watchlists for t in w.groups.values())} terms in "
            f"{len(watchlists)} watchlists, {article_count} articles ({text_mb:.1f} MB); "
            f"compile {compile_s:.2f}s; {matches} matches; baseline timed on "
            f"{len(sample)} articles, same watchlist set on {agree}/{len(sample)}"
        ),
    }


@register("matching", "watchlist engine vs a per-term regex loop")
def run(options: RunOptions) -> Result:
    """Registry entry point: the same measurement as :func:`bench`."""
    row = bench(quick=options.quick)
    return Result(
        name="matching",
        wirewatch=float(row["wirewatch"]),  # type: ignore[arg-type]
        baseline=float(row["baseline"]),  # type: ignore[arg-type]
        unit="articles/s",
        target=str(row["target"]),
        notes=str(row["notes"]),
    )


@cache
def _inputs(quick: bool) -> tuple[list[Watchlist], list[Document]]:
    scale = 10 if quick else 1
    rng = random.Random(20240611)
    vocab = _words(rng, 20_000)
    return make_watchlists(5000 // scale, rng, vocab), make_articles(10_000 // scale, rng, vocab)


def _versus(
    quick: bool, name: str, make: Callable[[Sequence[Watchlist]], _ListsBaseline], sample: int
) -> Result:
    watchlists, docs = _inputs(quick)
    engine = Matcher.compile(watchlists)
    baseline = make(watchlists)
    match_ours = [[m.watchlist for m in engine.match(d)] for d in docs[:50]]
    match_theirs = [baseline.match(d) for d in docs[:50]]  # type: ignore[attr-defined]
    agree = sum(a == b for a, b in zip(match_ours, match_theirs, strict=True))
    ours, theirs, n = alternating(
        lambda chunk: [engine.match(d) for d in chunk],
        lambda chunk: [baseline.match(d) for d in chunk],  # type: ignore[attr-defined]
        docs,
        sample if not quick else max(5, sample // 10),
    )
    terms = sum(len(t) for w in watchlists for t in w.groups.values())
    return Result(
        name=name,
        wirewatch=ours,
        baseline=theirs,
        unit="articles/s",
        target="≥ 5×" if name == "matching-combined-regex" else "",
        notes=(
            f"{terms} terms in {len(watchlists)} watchlists, {len(docs)} articles; baseline "
            f"timed on {n}; 5 alternating chunks; same watchlist set on {agree}/50 articles"
        ),
    )


@register("matching-combined-regex", "watchlist engine vs one combined regex, same folding")
def run_combined(options: RunOptions) -> Result:
    return _versus(options.quick, "matching-combined-regex", CombinedRegexBaseline, 100)


@register("matching-aho-plain", "watchlist engine vs plain pyahocorasick, no folding")
def run_aho(options: RunOptions) -> Result:
    return _versus(options.quick, "matching-aho-plain", PlainAhoBaseline, 10_000)


if __name__ == "__main__":
    print(bench(quick=False))
