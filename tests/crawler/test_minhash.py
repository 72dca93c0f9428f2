"""crawler.minhash: bit-equal to datasketch's affine32 MinHash, and byte-equal when stored.

The comparisons with datasketch run when it is installed (extra ``test``) and skip otherwise;
the pinned digests below were written by datasketch 2.0 and hold without it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import dedupe, minhash
from crawler.minhash import EMPTY, MinHash

HAVE_DATASKETCH = importlib.util.find_spec("datasketch") is not None
needs_datasketch = pytest.mark.skipif(not HAVE_DATASKETCH, reason="datasketch not installed")

# (text, sha256 of its stored signature, hashvalues[5]) as datasketch 2.0 made them.
PINNED = [
    (
        "the quick brown fox jumps over the lazy dog again and again",
        "2fc7407facf31fd658726690d1bb49ae599177be9e4f74085b02a35a206cb568",
        399793281,
    ),
    (
        "台積電宣布在美國亞利桑那州興建第二座晶圓廠，投資金額達四百億美元",
        "707ba16c8f271b0a924591c792f7395d57e09ffb2b7cc6511ca378a28fa32922",
        65573767,
    ),
    ("", "05a880a17080887ff5e4ea71bd2dd86b51c63164afc145a0ff73284fbebf1be0", EMPTY),
]


def _theirs(items: Iterable[str], num_perm: int = dedupe.NUM_PERM, seed: int = dedupe.SEED):  # type: ignore[no-untyped-def]
    """datasketch's LeanMinHash of ``items``, made as crawler.dedupe made it before."""
    from datasketch import LeanMinHash
    from datasketch import MinHash as DMinHash

    m = DMinHash(num_perm=num_perm, seed=seed, hashfunc=minhash.hash32, scheme="affine32")
    m.update_batch(items)
    return LeanMinHash(m)


def _their_bytes(lean) -> bytes:  # type: ignore[no-untyped-def]
    buf = bytearray(lean.bytesize(byteorder="<"))
    lean.serialize(buf, byteorder="<")
    return bytes(buf)


def _assert_same(items: set[str], num_perm: int = dedupe.NUM_PERM, seed: int = dedupe.SEED) -> None:
    theirs = _theirs(items, num_perm, seed)
    ours = minhash.signature(items, num_perm, seed)
    assert ours.hashvalues.dtype == np.uint32
    assert np.array_equal(ours.hashvalues, theirs.hashvalues)
    stored = _their_bytes(theirs)
    assert ours.to_bytes() == stored
    assert MinHash.from_bytes(stored) == ours


# -- against datasketch ---------------------------------------------------------------------


@needs_datasketch
@pytest.mark.parametrize(
    ("num_perm", "seed"), [(dedupe.NUM_PERM, dedupe.SEED), (128, 1), (7, 0), (256, 2**32 - 1)]
)
def test_permutations_are_datasketchs(num_perm: int, seed: int) -> None:
    from datasketch import MinHash as DMinHash

    a, b = minhash.permutations(num_perm, seed)
    their_a, their_b = DMinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    assert np.array_equal(a, their_a) and np.array_equal(b, their_b)
    assert a.dtype == b.dtype == np.uint32


@needs_datasketch
@settings(max_examples=150, deadline=None)
@given(st.sets(st.text(min_size=0, max_size=40), max_size=300))
def test_random_sets_sign_and_store_as_datasketch(items: set[str]) -> None:
    _assert_same(items)


@needs_datasketch
@pytest.mark.parametrize("size", [0, 1, 2, 2_047, 2_048, 2_049, 9_000])
def test_set_sizes_around_the_block_size(size: int) -> None:
    rnd = random.Random(size)
    _assert_same({f"w{rnd.getrandbits(40)} {i}" for i in range(size)})


@needs_datasketch
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (16, 99), (200, 12345)])
def test_other_parameters_match_too(num_perm: int, seed: int) -> None:
    rnd = random.Random(seed)
    for n in (0, 3, 500):
        _assert_same({str(rnd.random()) for _ in range(n)}, num_perm, seed)


def _corpus_texts(corpus_dir: Path) -> Iterator[str]:
    wikiref = corpus_dir / "dedupe" / "wikiref220-news-clustering" / "WikiRef220"
    chinese = corpus_dir / "articles" / "immortal-autumn-chinese-web-content-extraction"
    for path in sorted(wikiref.glob("*.txt"))[:80] + sorted((chinese / "cleaned").glob("*.txt")):
        yield path.read_text(encoding="utf-8", errors="replace")
    pairs = corpus_dir / "dedupe" / "feed-syndication-candidates-UNLABELED"
    for path in pairs.glob("*.tsv"):
        for line in path.read_text(encoding="utf-8").splitlines()[1:400]:
            yield line.split("\t")[2] if line.count("\t") >= 2 else line


@needs_datasketch
def test_corpus_texts_sign_and_store_as_datasketch(corpus_dir: Path) -> None:
    texts = list(_corpus_texts(corpus_dir))
    assert len(texts) > 100, "corpus texts not found"
    for text in texts:
        _assert_same(dedupe.shingles(text))
        ours = dedupe.signature(text)
        assert dedupe.band_keys(ours) == dedupe.band_keys(dedupe.from_bytes(ours.to_bytes()))


@needs_datasketch
@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([f"w{i}" for i in range(60)]), max_size=80), st.randoms())
def test_jaccard_equals_datasketchs(words: list[str], rnd: random.Random) -> None:
    a = set(words)
    b = {w for w in a if rnd.random() < 0.7} | {f"x{rnd.randrange(30)}" for _ in range(10)}
    ours = minhash.signature(a, dedupe.NUM_PERM, dedupe.SEED)
    other = minhash.signature(b, dedupe.NUM_PERM, dedupe.SEED)
    assert ours.jaccard(other) == _theirs(a).jaccard(_theirs(b))


@needs_datasketch
def test_datasketch_bytes_of_other_kinds_are_refused_as_before() -> None:
    from datasketch import LeanMinHash
    from datasketch import MinHash as DMinHash

    legacy = LeanMinHash(DMinHash(num_perm=dedupe.NUM_PERM, seed=dedupe.SEED, scheme="legacy"))
    wide = LeanMinHash(DMinHash(num_perm=dedupe.NUM_PERM, seed=dedupe.SEED, scheme="affine64"))
    other_seed = _theirs(["a b c d e"], seed=7)
    for lean in (legacy, wide, other_seed, _theirs(["a"], num_perm=64)):
        with pytest.raises(ValueError):
            dedupe.from_bytes(_their_bytes(lean))
    # Like datasketch, bytes after the values are ignored.
    stored = _their_bytes(_theirs(["a b c d e"]))
    assert LeanMinHash.deserialize(stored + b"\0", byteorder="<") == _theirs(["a b c d e"])
    assert dedupe.from_bytes(stored + b"\0") == dedupe.from_bytes(stored)


# -- without datasketch ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_perm", "seed"),
    [(dedupe.NUM_PERM, dedupe.SEED), (128, 1), (1, 0), (700, 2**32 - 1), (1_000, 12345)],
)
def test_permutations_are_numpy_randomstates_draws(num_perm: int, seed: int) -> None:
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    ours_a, ours_b = minhash.permutations(num_perm, seed)
    assert np.array_equal(ours_a, a) and np.array_equal(ours_b, b)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seeds_outside_randomstates_range_are_refused(seed: int) -> None:
    with pytest.raises(ValueError):
        minhash.permutations(4, seed)


@pytest.mark.parametrize(("text", "digest", "value"), PINNED)
def test_stored_signatures_written_by_datasketch_still_read_and_match(
    text: str, digest: str, value: int
) -> None:
    sig = dedupe.signature(text)
    stored = dedupe.to_bytes(sig)
    assert hashlib.sha256(stored).hexdigest() == digest
    assert len(stored) == 525
    assert int(sig.hashvalues[5]) == value
    back = dedupe.from_bytes(stored)
    assert back == sig and dedupe.to_bytes(back) == stored
    assert dedupe.band_keys(back) == dedupe.band_keys(sig)


def test_layout_is_seed_negated_count_scheme_code_then_values() -> None:
    sig = minhash.signature(["one", "two"], 4, 20)
    data = sig.to_bytes()
    assert len(data) == minhash.HEADER_SIZE + 16
    assert struct.unpack("<qiB4I", data) == (20, -4, 1, *map(int, sig.hashvalues))


def test_no_items_is_all_empty_and_duplicates_do_not_count() -> None:
    empty = minhash.signature([], 8, 1)
    assert empty.is_empty() and set(empty.hashvalues.tolist()) == {EMPTY}
    assert not minhash.signature(["x"], 8, 1).is_empty()
    assert minhash.signature(["a", "b", "a"], 8, 1) == minhash.signature(iter(["b", "a"]), 8, 1)


def test_jaccard_refuses_signatures_of_other_parameters() -> None:
    a = minhash.signature(["a"], 8, 1)
    with pytest.raises(ValueError):
        a.jaccard(minhash.signature(["a"], 8, 2))
    with pytest.raises(ValueError):
        a.jaccard(minhash.signature(["a"], 16, 1))
    assert a.jaccard(minhash.signature(["a"], 8, 1)) == 1.0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"nope",
        struct.pack("<qiB", dedupe.SEED, -128, 1) + b"\0" * 511,  # one byte short
        struct.pack("<qiB", dedupe.SEED, -128, 2) + b"\0" * 1024,  # affine64
        struct.pack("<qiB", dedupe.SEED, -128, 9) + b"\0" * 512,  # unknown scheme
        struct.pack("<qi", dedupe.SEED, 128) + b"\0" * 512,  # pre-2.0 (legacy) layout
        struct.pack("<qiB", dedupe.SEED, -64, 1) + b"\0" * 256,  # 64 permutations
        struct.pack("<qiB", 1, -128, 1) + b"\0" * 512,  # another seed
    ],
)
def test_from_bytes_refuses_what_is_not_ours(data: bytes) -> None:
    with pytest.raises(ValueError):
        dedupe.from_bytes(data)


def test_signatures_are_read_only() -> None:
    sig = dedupe.signature("solar wind hydrogen grid tariff import ban module turbine")
    with pytest.raises(ValueError):
        sig.hashvalues[0] = 1
