"""Text work done once per article gives what doing it separately gave.

Ingest shares its text work: the content hash and story assignment read one tokenisation
(``crawler.dedupe.KeyText``), folding works in bulk, shingles and sizes skip per-token script
checks on text without CJK, and band rows go to SQLite without per-row processing. Each test
compares the shared or bulk path with the plain one-at-a-time definition, on real feed items
and Chinese pages from the corpus plus hand-made edge cases; search-index keys and the
matcher's documents fold through the same function, so its equivalence covers them too.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.corpus import real_feeds
from crawler import dedupe, folding, search_index, shingles, story_text
from crawler import text as cleanup
from crawler.dedupe import KeyText, content_hash, prepare
from crawler.folding import Folded, fold, fold_case_preserving
from crawler.items import Entry
from crawler.models import Story, StoryBand
from crawler.normalize import normalize
from crawler.parse import FeedError, parse_feed
from crawler.search_index import article_key
from crawler.store import store_many
from tests.factories import add_source

NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)  # no microseconds: formats differ there
CHINESE = Path("articles") / "immortal-autumn-chinese-web-content-extraction" / "cleaned"

# Length-changing folds, combining marks (leading, stacked, decomposed, reordered), Hangul
# jamo, Indic and Arabic marks, a lone surrogate, CJK variants, emoji, full-width forms.
EDGE_CASES = [
    "ﬁnal Straße… ½ ™ ㎞",
    "e\u0301te\u0301 cafe\u0301 ＭＯＵ",
    "\u0301\u0302leading marks…",
    "a\u0323\u0307 a\u0307\u0323 q\u0307\u0323",
    "\u1100\u1161\u11a8 \uac00\u11a8 한국어",
    "हिन्दी क़ ﬀ",
    "مُحَمَّد ﷺ",
    "bad \ud800 surrogate ﬁ",
    "臺灣 台灣 台湾 體育 …",
    "emoji 🎉 ﬂag 🇹🇼 ok…",
    "Å Ω K ǅ ß ẞ İ",
    "\u0344\u0f73\u0f75 …",
    "…",
    "ß",
]
_ALPHABET = st.sampled_from(
    list("aeß…ﬁ½ 臺台湾\u0301\u0323\u0307\u1100\u1161\u11a8한\u093f\u094dक\u064e\u200b\t\nÅΩ")
)


def _texts(corpus: Path) -> list[str]:
    out: list[str] = []
    for index, data in enumerate(real_feeds(corpus)):
        try:
            result = parse_feed(data, url=f"https://f{index}.example/", source_id="s")
        except FeedError:
            continue
        for e in result.entries:
            out += [e.title, e.summary, e.body]
    for path in sorted((corpus / CHINESE).glob("*.txt"))[:40]:
        out.append(path.read_text(encoding="utf-8", errors="replace"))
    return [t for t in out if t] + EDGE_CASES


@pytest.fixture(scope="module")
def texts(corpus_dir: Path) -> list[str]:
    return _texts(corpus_dir)


# ----- folding: bulk map == per-character definition -----------------------------------------


def _fold_reference(value: str, table: folding._Table) -> Folded:
    """The per-character definition: each character with its combining marks (NFC-composed
    when more than one), folded; every folded character maps to that whole segment."""
    if value.isascii() or unicodedata.is_normalized("NFC", value):
        out = value.translate(table)
        if len(out) == len(value):
            return Folded(out, len(value))
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(value)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(value[j]):
            j += 1
        segment = value[i:j]
        if j - i > 1:
            segment = unicodedata.normalize("NFC", segment)
        out = segment.translate(table)
        parts.append(out)
        starts.extend([i] * len(out))
        ends.extend([j] * len(out))
        i = j
    return Folded("".join(parts), n, tuple(starts), tuple(ends))


def _assert_fold_like_reference(value: str) -> None:
    assert fold(value) == _fold_reference(value, folding._FOLD), repr(value)
    assert fold_case_preserving(value) == _fold_reference(value, folding._FOLD_CASE)


def test_fold_maps_like_the_per_character_definition(texts: list[str]) -> None:
    mapped = 0
    for value in texts:
        _assert_fold_like_reference(value)
        mapped += fold(value).starts is not None
    assert mapped >= len(EDGE_CASES) - 1  # the bulk path really ran ("…" alone and more)


@pytest.mark.parametrize("value", EDGE_CASES)
def test_fold_edge_cases_map_back_to_their_source(value: str) -> None:
    _assert_fold_like_reference(value)
    folded = fold(value)
    assert folded.starts is not None and len(folded.starts) == len(folded.text)
    assert folded.span(0, len(folded.text)) == (0, len(value))


@given(st.text(_ALPHABET, max_size=40))
def test_fold_of_mixed_marks_and_expansions(value: str) -> None:
    _assert_fold_like_reference(value)


# ----- dedupe tokens: shared == separate -----------------------------------------------------


def _content_hash_reference(title: str, body: str) -> str:
    data = f"{' '.join(shingles.tokens(title))}\n{' '.join(shingles.tokens(body))}"
    return hashlib.sha256(data.encode()).hexdigest()


def _size_reference(units: list[str]) -> float:
    nospace = sum(1 for t in units if shingles.is_nospace(t))
    return (len(units) - nospace) + nospace / 2


def _shingles_reference(units: list[str]) -> set[str]:
    flags = [shingles.is_nospace(t) for t in units]
    words = [t for t, ns in zip(units, flags, strict=True) if not ns]
    out: set[str] = set()
    if len(words) >= 5:
        out.update(" ".join(words[i : i + 5]) for i in range(len(words) - 4))
    elif words and not any(flags):
        out.add(" ".join(words))
    if any(flags):
        if len(units) < 3:
            out.add("".join(units))
        else:
            for i in range(len(units) - 2):
                if any(flags[i : i + 3]):
                    out.add("\x1f".join(units[i : i + 3]))
    return out


def test_key_text_reads_like_tokenising_title_and_text_together(texts: list[str]) -> None:
    pairs = list(zip(texts, texts[1:] + texts[:1], strict=True))
    for title, body in pairs:
        key = KeyText.of(title, body)
        units = shingles.tokens(f"{title}\n{body}")
        assert key.units() == units
        assert key.digest() == content_hash(title, body) == _content_hash_reference(title, body)
        assert shingles.size(units) == _size_reference(units)
        assert shingles.shingles_of(units) == _shingles_reference(units)


def test_size_and_shingles_of_units_not_made_by_tokens() -> None:
    units = ["台積電", "tsmc", "宣", "布", "a", "b", "c", "d", "e"]
    assert shingles.size(units) == _size_reference(units) == 8.0
    assert shingles.shingles_of(units) == _shingles_reference(units)
    only_runs = ["台積電", "宣布", "新廠"]  # no single no-space unit: words only
    assert shingles.shingles_of(only_runs) == _shingles_reference(only_runs)


def _same_prepared(a: object, b: object) -> bool:
    fields = ("title", "digest", "size", "keys", "blob", "lead")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def test_normalized_items_carry_the_tokens_prepare_would_make(corpus_dir: Path) -> None:
    checked = 0
    for index, data in enumerate(real_feeds(corpus_dir, limit=8)):
        result = parse_feed(data, url=f"https://f{index}.example/", source_id="s")
        for item in filter(None, map(normalize, result.entries)):
            body = item.body or item.summary
            assert item.key_text is not None and item.key_text.reads(item.title, body)
            assert item.content_hash == _content_hash_reference(item.title, body)
            shared = prepare(item.title, body, item.content_hash, item.key_text)
            assert _same_prepared(shared, prepare(item.title, body))
            checked += 1
    assert checked > 50


def test_prepare_ignores_a_key_made_of_other_text() -> None:
    stale = KeyText.of("Old title", "old text " * 20)
    title, body = "Ship runs aground", "The container ship ran aground at dawn, " * 5
    assert _same_prepared(prepare(title, body, None, stale), prepare(title, body))


# ----- search index: unchanged keys ----------------------------------------------------------


def test_search_keys_are_those_of_the_per_character_fold(texts: list[str]) -> None:
    triples = list(zip(texts, texts[1:] + texts[:1], texts[2:] + texts[:2], strict=True))
    keys = [article_key(*triple) for triple in triples]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_index, "fold", lambda value: _fold_reference(value, folding._FOLD))
        assert keys == [article_key(*triple) for triple in triples]


# ----- band rows: written as SQLAlchemy writes timestamps ------------------------------------


def test_band_rows_store_the_timestamp_as_other_columns_do(
    db: tuple[object, sessionmaker[Session]],
) -> None:
    _, sessions = db
    title = "Ship runs aground, blocks port channel"
    body = "The container ship ran aground on Tuesday and blocked the channel. " * 3
    with sessions.begin() as s:
        add_source(s, "s")
    item = normalize(Entry("s", "https://s.example/1", title, body))
    assert item is not None
    [stored] = store_many(sessions, [item], baseline=False, now=NOW)
    assert stored.story_id is not None
    with sessions() as s:
        raw = s.execute(
            text(
                "SELECT b.created_at, s.first_seen_at FROM story_bands b "
                "JOIN stories s ON s.id = b.story_id"
            )
        ).all()
        assert len(raw) == 32 and all(band == story for band, story in raw)
        created = s.scalars(select(StoryBand.created_at)).all()
        assert set(created) == {NOW}
        assert s.scalar(select(Story.first_seen_at)) == NOW


# ----- text cleanup: one character class == the deletion table -------------------------------


def test_cleanup_deletes_exactly_what_the_table_deletes(texts: list[str]) -> None:
    removable = "".join(chr(cp) for cp in sorted(cleanup._DELETE_TABLE))
    samples = [*texts, removable, "a\x00b\u200bc\ufeff\u202ad\x7fe\x9f\t\n\r\x0b\x0c\u200d"]
    for value in samples:
        assert cleanup._DELETE.sub("", value) == value.translate(cleanup._DELETE_TABLE)
    assert cleanup.normalize_text("a\x00b\u200b c\u200d") == "ab c\u200d"


# ----- story planning: cached title numbers, precomputed band windows ------------------------


def _titles_agree_reference(a: str, b: str) -> bool:
    ta, tb = frozenset(shingles.tokens(a)), frozenset(shingles.tokens(b))
    if not ta or not tb:
        return False

    def numbers(words: frozenset[str]) -> set[str]:
        return {w for w in words if any(c.isdigit() for c in w)}

    if numbers(ta - tb) and numbers(tb - ta):
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= story_text.TITLE_AGREEMENT


def test_titles_agree_like_comparing_their_numbers_each_time(corpus_dir: Path) -> None:
    titles = [
        "Tariff ruling part 1",
        "Tariff ruling part 2",
        "UPDATE 2: Tariff ruling part 1",
        "Exports rose 5% in May",
        "Exports rose 7% in June",
        "Exports rose 5% in May, 2026",
        "台積電 2 奈米 量產",
        "台積電 3 奈米 量產",
        "",
    ]
    for index, data in enumerate(real_feeds(corpus_dir, limit=4)):
        result = parse_feed(data, url=f"https://f{index}.example/", source_id="s")
        titles += [e.title for e in result.entries[:40]]
    disagree = 0
    for a in titles:
        for b in titles:
            assert dedupe.titles_agree(a, b) == _titles_agree_reference(a, b), (a, b)
            disagree += a != b and not dedupe.titles_agree(a, b)
    assert not dedupe.titles_agree("Tariff ruling part 1", "Tariff ruling part 2")
    assert dedupe.titles_agree("Tariff ruling part 1", "UPDATE 2: Tariff ruling part 1")
    assert disagree > 0


def test_band_windows_keep_each_keys_first_rows_in_the_window() -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    old, new = since - timedelta(days=1), since + timedelta(hours=1)
    seen = {1: new, 2: old, 3: new, 4: since}
    rows = {
        10: [(9, 1), (8, 2), (7, 3), (6, 2), (5, 4)],  # some stories out of the window
        11: [(9, 1), (7, 3)],  # all in it
        12: [(8, 2)],  # none in it
    }
    story_of = {a: s for key_rows in rows.values() for a, s in key_rows}
    articles = {key: [a for a, _ in key_rows] for key, key_rows in rows.items()}
    bands = dedupe._Bands(articles, story_of, seen, since)
    for key, key_rows in rows.items():
        for room in range(7):
            expected = [a for a, s in key_rows[:room] if seen[s] >= since]
            assert bands.in_window(key, room) == expected, (key, room)
    assert bands.in_window(99, 5) == []
