"""Pure dedupe functions: hashing, shingles, MinHash signatures and LSH band keys."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import dedupe, minhash
from crawler.dedupe import (
    BANDS,
    band_keys,
    content_hash,
    from_bytes,
    jaccard,
    shingles,
    signature,
    text_size,
    to_bytes,
)

WORDS = [
    *("solar", "wind", "hydrogen", "grid", "tariff", "import", "ban", "module", "turbine"),
    *("offshore", "project", "minister", "company", "deal", "agreement", "capacity"),
    *("storage", "battery", "price", "market", "export", "factory", "union", "court"),
    *("ruling", "election", "vote", "parliament", "budget", "police", "storm", "flood"),
    *("harbour", "railway"),
]

word_lists = st.lists(st.sampled_from(WORDS), min_size=40, max_size=200)


def _text(words: list[str]) -> str:
    return " ".join(words)


def _exact_jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


# -- normalisation and content hash ---------------------------------------------------------


def test_content_hash_folds_case_width_punctuation_and_space() -> None:
    base = content_hash("Taiwan signs MOU", "The deal, worth $5bn, was signed today.")
    assert base == content_hash("TAIWAN  signs MOU!", "the deal worth $5bn was signed today")
    assert base == content_hash(
        "Ｔａｉｗａｎ signs ＭＯＵ", "The deal — worth $5bn — was signed today…"
    )
    assert base != content_hash("Taiwan signs MOU", "The deal, worth $6bn, was signed today.")
    assert len(base) == 64 and int(base, 16) >= 0


def test_content_hash_keeps_title_and_body_apart() -> None:
    assert content_hash("a b", "c") != content_hash("a", "b c")


def test_content_hash_ignores_spacing_inside_chinese() -> None:
    assert content_hash("台積電宣布", "新廠　量產。") == content_hash("台積電 宣布", "新廠量產")


def test_text_size_counts_cjk_characters_as_half_words() -> None:
    assert text_size("one two three") == 3
    assert text_size("台積電宣布") == 2.5
    assert text_size("TSMC 台積電") == 2.5


# -- shingles -------------------------------------------------------------------------------


def test_latin_text_gives_word_five_shingles() -> None:
    got = shingles("The quick brown fox jumps over the lazy dog.")
    assert "the quick brown fox jumps" in got
    assert "over the lazy dog" not in got  # only four words
    assert len(got) == 9 - 5 + 1


def test_short_latin_text_is_one_shingle() -> None:
    assert shingles("Markets wrap") == {"markets wrap"}
    assert shingles("") == set()


def test_chinese_text_gives_character_ngrams() -> None:
    got = shingles("台積電宣布在美國建廠")
    assert len(got) == 10 - 3 + 1
    assert all(len(s.split("\x1f")) == 3 for s in got)


def test_mixed_text_gives_both_kinds() -> None:
    got = shingles("台積電TSMC宣布 the plant will open in Arizona next year")
    assert "the plant will open in" in got
    assert "電\x1ftsmc\x1f宣" in got


# -- signatures and bands -------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(word_lists)
def test_identical_text_identical_signature_and_bands(words: list[str]) -> None:
    a, b = signature(_text(words)), signature(_text(list(words)))
    assert list(a.hashvalues) == list(b.hashvalues)
    assert band_keys(a) == band_keys(b)
    assert len(band_keys(a)) == BANDS


@settings(max_examples=30, deadline=None)
@given(word_lists, word_lists)
def test_jaccard_is_symmetric_and_bounded(w1: list[str], w2: list[str]) -> None:
    a, b = signature(_text(w1)), signature(_text(w2))
    assert jaccard(a, b) == jaccard(b, a)
    assert 0.0 <= jaccard(a, b) <= 1.0
    assert jaccard(a, a) == 1.0


# Varied prose: distinct words, as in a real article (a 300-word "solar solar …" has 1 shingle).
prose = st.lists(
    st.integers(0, 100_000).map(lambda n: f"w{n}"), min_size=300, max_size=400, unique=True
)


@settings(max_examples=30, deadline=None)
@given(prose, st.randoms())
def test_small_edits_keep_high_similarity(words: list[str], rnd: random.Random) -> None:
    edited = list(words)
    for _ in range(3):  # three word substitutions in 300+ words
        edited[rnd.randrange(len(edited))] = "zzzedit"
    a, b = signature(_text(words)), signature(_text(edited))
    # Each edit changes at most 5 of 300+ shingles, so the exact Jaccard is >= 0.9; the
    # 128-permutation estimate has a standard deviation of about 0.03 there.
    assert _exact_jaccard(shingles(_text(words)), shingles(_text(edited))) >= 0.9
    assert jaccard(a, b) >= 0.75


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(WORDS[:15]), min_size=60, max_size=150), st.randoms())
def test_unrelated_texts_have_low_similarity(words: list[str], rnd: random.Random) -> None:
    other = [rnd.choice(WORDS[15:]) for _ in range(100)]  # disjoint vocabulary
    assert jaccard(signature(_text(words)), signature(_text(other))) <= 0.1


@settings(max_examples=20, deadline=None)
@given(word_lists)
def test_bytes_round_trip(words: list[str]) -> None:
    sig = signature(_text(words))
    data = to_bytes(sig)
    assert len(data) < 600
    back = from_bytes(data)
    assert jaccard(back, sig) == 1.0
    assert band_keys(back) == band_keys(sig)


@settings(max_examples=20, deadline=None)
@given(word_lists, word_lists)
def test_scores_on_stored_bytes_equal_jaccard(w1: list[str], w2: list[str]) -> None:
    a, b = signature(_text(w1)), signature(_text(w2))
    other = to_bytes(minhash.signature([], dedupe.NUM_PERM, 1))
    blobs = [to_bytes(b), None, b"nope", other, to_bytes(a)]
    assert dedupe._scores(a, blobs) == [jaccard(a, b), -1.0, -1.0, -1.0, 1.0]


def test_band_keys_fit_a_signed_bigint() -> None:
    keys = band_keys(signature(" ".join(WORDS)))
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert len(set(keys)) == BANDS


def test_empty_text_has_no_band_keys() -> None:
    assert band_keys(signature("")) == []


def test_from_bytes_rejects_garbage_and_other_parameters() -> None:
    with pytest.raises(ValueError):
        from_bytes(b"nope")
    other = minhash.signature([], dedupe.NUM_PERM, 1)
    with pytest.raises(ValueError):
        from_bytes(to_bytes(other))


def test_signature_is_stable_across_processes() -> None:
    # Stored signatures must stay comparable after a restart or an upgrade: pin one value.
    sig = signature("the quick brown fox jumps over the lazy dog again and again")
    assert to_bytes(sig) == to_bytes(from_bytes(to_bytes(sig)))
    assert int(sig.hashvalues[0]) == 353086567


# -- real texts -----------------------------------------------------------------------------


def _gedikli(corpus_dir: Path) -> dict[str, dict[str, str]]:
    base = corpus_dir / "dedupe" / "gedikli-business-energy-news-story-chains"
    path = base / "gedikli-business_energy_news_dataset-2021-06-29-article_texts.csv"
    if not path.is_file():
        pytest.skip("Gedikli texts not in the corpus")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return {row["url"]: row for row in csv.DictReader(f)}


def test_real_syndicated_copy_high_and_unrelated_low(corpus_dir: Path) -> None:
    arts = _gedikli(corpus_dir)
    au = next(a for u, a in arts.items() if "pv-magazine-australia.com/2021/06/21/nationally" in u)
    glob = next(a for u, a in arts.items() if "pv-magazine.com/2021/06/21/australias-23-gw" in u)
    other = next(a for u, a in arts.items() if "reuters.com" in u)
    sig_au = signature(au["title"] + "\n" + au["text"])
    sig_glob = signature(glob["title"] + "\n" + glob["text"])
    assert jaccard(sig_au, sig_glob) >= 0.8  # same text on two editions of one magazine
    assert jaccard(sig_au, signature(other["title"] + "\n" + other["text"])) <= 0.1
    assert set(band_keys(sig_au)) & set(band_keys(sig_glob))
