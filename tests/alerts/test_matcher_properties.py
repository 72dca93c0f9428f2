"""Property tests: the engine against a slow reference evaluator, and invariances."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.matcher import Document, Matcher
from alerts.query import FIELDS, And, Expr, Field, Group, Near, Not, Or, Phrase, parse
from alerts.watchlists import Watchlist
from crawler.folding import fold, fold_case_preserving

TERMS = [
    "MOU", "=US", "US", "U.S.", "Taiwan", "ip", "patent licensing", "台灣", "台湾", "臺灣",
    "合作備忘錄", "备忘录", "美國", "美方", "授權", "licensing pact", "=IP", "Tai",
]  # fmt: skip
WORDS = [
    *[t.lstrip("=") for t in TERMS],
    "mountain", "ship", "users", "Taiwanese", "us", "Us", "amour", "bus", "patent",
    "licensing", "pact", "與", "簽署", "的", "用", "，", "。", "Taiwan's", "ＭＯＵ", "ｕｓ",
    "臺", "灣", "IPs", "U.S", "2024", "年", "'",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", "", "\n", ", ", "-", "  ", "'s "]
GROUPS = ["g0", "g1", "g2", "g3"]
FIELD_BITS = {name: 1 << i for i, name in enumerate(FIELDS)}

texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=14).map(
    lambda parts: "".join(w + s for w, s in parts)
)
documents = st.builds(Document, title=texts, summary=texts, body=texts)
group_terms = st.lists(st.sampled_from(TERMS), min_size=1, max_size=3, unique=True)


def _expressions() -> st.SearchStrategy[Expr]:
    groups = st.sampled_from(GROUPS).map(Group)
    phrases = st.sampled_from(["US", "台灣", "patent", "=MOU"]).map(Phrase)
    leaves = st.one_of(groups, groups, phrases)
    positional = st.one_of(
        leaves,
        st.lists(leaves, min_size=2, max_size=3).map(lambda i: Or(tuple(i))),
    )
    scoped_pos = st.one_of(positional, st.builds(Field, st.sampled_from(FIELDS), leaves))
    near = st.builds(Near, scoped_pos, scoped_pos, st.integers(0, 4))

    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(Not, inner),
            st.lists(inner, min_size=2, max_size=3).map(lambda i: And(tuple(i))),
            st.lists(inner, min_size=2, max_size=3).map(lambda i: Or(tuple(i))),
        )

    base = st.one_of(leaves, near, st.builds(Field, st.sampled_from(FIELDS), leaves))
    return st.recursive(base, extend, max_leaves=6)


expressions = _expressions()


@st.composite
def watchlists(draw: st.DrawFn, name: str) -> Watchlist:
    groups = {g: draw(group_terms) for g in GROUPS}
    match = str(draw(expressions))
    exclude = draw(st.one_of(st.none(), expressions.map(str)))
    sources = draw(st.sampled_from([[], [], ["a"], ["t1", "b"]]))
    return Watchlist(name=name, groups=groups, match=match, exclude=exclude, sources=sources)


# --- the reference: folds and scans with str.find, evaluates the AST directly ----------


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _latin(ch: str) -> bool:
    return ch.isalnum() and not _cjk(ch)


def _occurrences(term: str, original: str) -> list[tuple[int, int]]:
    exact = term.startswith("=")
    core = term[1:] if exact else term
    needle = fold(core).text.strip()
    folded = fold(original)
    hay = folded.text
    found = []
    start = hay.find(needle)
    while start != -1:
        end = start + len(needle)
        ok = not (_latin(needle[0]) and start > 0 and _latin(hay[start - 1]))
        ok = ok and not (_latin(needle[-1]) and end < len(hay) and _latin(hay[end]))
        if ok and exact:
            a, b = folded.span(start, end)
            ok = fold_case_preserving(original[a:b]).text == fold_case_preserving(core).text
        if ok:
            found.append((start, end))
        start = hay.find(needle, start + 1)
    return found


def _units(hay: str, lo: int, hi: int) -> int:
    total, i = 0, 0
    while i < len(hay):
        if _cjk(hay[i]):
            total += lo <= i < hi
            i += 1
        elif hay[i].isalnum():
            j = i
            while j < len(hay) and hay[j].isalnum() and not _cjk(hay[j]):
                j += 1
            total += 2 * (lo <= i < hi)
            i = j
        else:
            i += 1
    return total


class Reference:
    def __init__(self, wl: Watchlist, doc: Document) -> None:
        self.wl = wl
        self.doc = doc

    def positions(self, expr: Expr, fields: tuple[str, ...]) -> list[tuple[str, int, int]]:
        match expr:
            case Group(name):
                terms = self.wl.groups[name]
            case Phrase(text):
                terms = [text]
            case Field(name, item):
                return self.positions(item, (name,))
            case Or(items):
                return [p for i in items for p in self.positions(i, fields)]
            case _:
                raise AssertionError(expr)
        return [
            (f, s, e)
            for f in fields
            for t in terms
            for s, e in _occurrences(str(t), getattr(self.doc, f))
        ]

    def eval(self, expr: Expr, fields: tuple[str, ...] = FIELDS) -> bool:
        match expr:
            case Group() | Phrase():
                return bool(self.positions(expr, fields))
            case Field(name, item):
                return self.eval(item, (name,))
            case Not(item):
                return not self.eval(item, fields)
            case And(items):
                return all(self.eval(i, fields) for i in items)
            case Or(items):
                return any(self.eval(i, fields) for i in items)
            case Near(left, right, n):
                for fa, sa, ea in self.positions(left, fields):
                    for fb, sb, eb in self.positions(right, fields):
                        if fa != fb:
                            continue
                        (_, e1), (s2, _) = sorted([(sa, ea), (sb, eb)])
                        hay = fold(getattr(self.doc, fa)).text
                        if s2 < e1 or _units(hay, e1, s2) <= 2 * n:
                            return True
                return False
        raise AssertionError(expr)


def reference(lists: list[Watchlist], doc: Document) -> list[str]:
    out = []
    tags = {doc.source_id, *doc.source_tags}
    for wl in lists:
        if wl.sources and not set(wl.sources) & tags:
            continue
        ref = Reference(wl, doc)
        if not ref.eval(parse(wl.match, wl.groups)):
            continue
        if wl.exclude and ref.eval(parse(wl.exclude, wl.groups)):
            continue
        out.append(wl.name)
    return out


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True).flatmap(
        lambda ids: st.tuples(*(watchlists(f"w{i}") for i in ids))
    ),
    documents,
    st.sampled_from(["", "a", "b"]),
    st.sampled_from([(), ("t1",)]),
)
def test_engine_equals_reference(
    lists: tuple[Watchlist, ...], doc: Document, source: str, tags: tuple[str, ...]
) -> None:
    doc = Document(doc.title, doc.summary, doc.body, source_id=source, source_tags=tags)
    engine = Matcher.compile(list(lists))
    assert [m.watchlist for m in engine.match(doc)] == reference(list(lists), doc)


def _summary(matches: list[Any]) -> list[Any]:
    return [(m.watchlist, m.hits, m.snippet, m.highlights) for m in matches]


@SETTINGS
@given(
    watchlists("mine"),
    st.lists(watchlists("other"), max_size=4),
    st.integers(0, 4),
    documents,
)
def test_other_watchlists_never_change_results(
    mine: Watchlist, others: list[Watchlist], at: int, doc: Document
) -> None:
    others = [o.model_copy(update={"name": f"other{i}"}) for i, o in enumerate(others)]
    alone = Matcher.compile([mine]).match(doc)
    mixed = [*others[:at], mine, *others[at:]]
    together = [m for m in Matcher.compile(mixed).match(doc) if m.watchlist == "mine"]
    assert _summary(together) == _summary(alone)


FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits}


@st.composite
def case_width_variant(draw: st.DrawFn, text: str) -> str:
    out = []
    for ch in text:
        choice = draw(st.integers(0, 3))
        if choice == 1:
            ch = ch.swapcase()
        elif choice == 2:
            ch = FULL_WIDTH.get(ch, ch)
        out.append(ch)
    return "".join(out)


@SETTINGS
@given(st.data(), watchlists("w"), documents)
def test_case_and_width_do_not_matter(data: st.DataObject, wl: Watchlist, doc: Document) -> None:
    groups = {g: [str(t).lstrip("=") for t in terms] for g, terms in wl.groups.items()}
    match, exclude = (e.replace('"=', '"') if e else e for e in (wl.match, wl.exclude))
    wl = wl.model_copy(update={"groups": groups, "match": match, "exclude": exclude})
    engine = Matcher.compile([wl])
    variant = Document(
        *(data.draw(case_width_variant(getattr(doc, f))) for f in FIELDS),
        source_id=doc.source_id,
    )
    assert [m.watchlist for m in engine.match(variant)] == [m.watchlist for m in engine.match(doc)]


latin_words = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)


@SETTINGS
@given(
    latin_words,
    st.text(alphabet=string.ascii_letters + string.digits, max_size=4),
    st.text(alphabet=string.ascii_letters + string.digits, max_size=4),
)
def test_term_inside_a_longer_latin_word_never_matches(term: str, before: str, after: str) -> None:
    if not (before or after):
        after = "x"
    engine = Matcher.compile([Watchlist(name="w", groups={"a": [term]}, match="a")])
    assert engine.match(Document(title=before + term + after, summary="", body="")) == []
    assert engine.match(Document(title=f"用{term}與", summary="", body="")) != []


@SETTINGS
@given(st.text(max_size=40))
def test_folded_spans_map_back_into_the_original(text: str) -> None:
    from crawler.folding import _FOLD, _fold_mapped

    folded = fold(text)
    assert folded.text == _fold_mapped(text, _FOLD).text
    previous = 0
    for i in range(len(folded.text)):
        a, b = folded.span(i, i + 1)
        assert previous <= a < b <= len(text)
        previous = a
    assert folded.span(0, len(folded.text)) == ((0, len(text)) if text else (0, 0))
