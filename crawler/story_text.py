"""The text side of story dedupe: keys, sizes, MinHash signatures and band keys.

Pure functions of an article's title and text, without a database: the storing process
reads and writes them (:mod:`crawler.dedupe`), and a parser process makes them for new
items beside it (:mod:`crawler.feed_job`) without loading SQLAlchemy. The rules and the
parameters are described in :mod:`crawler.dedupe`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from crawler import shingles as _sh
from crawler.shingles import shingles

if TYPE_CHECKING:
    from crawler.minhash import MinHash

NUM_PERM = 128
SEED = 20_240_601
BANDS = 32
ROWS = 4
THRESHOLD = 0.5
MIN_SIZE = 15.0  # word-equivalents (a CJK character counts 1/2)
TITLE_CHECK_SIZE = 60.0  # below this, titles must agree too
TITLE_AGREEMENT = 0.7  # share of the shorter title's words found in the other title
MIN_EXACT_SIZE = 8.0
LEAD_CHARS = 2_000  # enough text to tell a feed item from an article

_BAND_PERSON = b"wirewatch-band1"  # versions the band-key derivation

assert BANDS * ROWS <= NUM_PERM


def normalize(text_: str) -> str:
    """NFKC, casefold, punctuation/symbols/whitespace folded to single spaces.

    Each character of a script written without spaces is its own unit, so spacing
    differences inside Chinese text disappear too.
    """
    return " ".join(_sh.tokens(text_))


@dataclass(frozen=True, slots=True)
class KeyText:
    """An article's title and text as its dedupe keys read them (:func:`normalize` of each).

    Made once per article (:func:`crawler.normalize.normalize`) and read by both its content
    hash and :func:`prepare`, so the text is tokenised once.
    """

    title: str
    body: str
    title_key: str
    body_key: str

    @classmethod
    def of(cls, title: str, body: str) -> KeyText:
        return cls(title, body, normalize(title), normalize(body))

    def digest(self) -> str:
        """:func:`content_hash` of the title and text."""
        return hashlib.sha256(f"{self.title_key}\n{self.body_key}".encode()).hexdigest()

    def units(self) -> list[str]:
        """``shingles.tokens(f"{title}\\n{body}")``: the two token lists one after the other
        (the newline is a stable boundary: NFKC, casefolding and the fold work per side)."""
        return _split(self.title_key) + _split(self.body_key)

    def reads(self, title: str, body: str) -> bool:
        """Whether this was made from exactly ``title`` and ``body``."""
        return self.title == title and self.body == body


def _split(key: str) -> list[str]:
    return key.split(" ") if key else []  # tokens hold no spaces and are never empty


def content_hash(title: str, body: str) -> str:
    """Stable sha256 hex of the normalised title and body."""
    return KeyText.of(title or "", body or "").digest()


def text_size(text_: str) -> float:
    """Length of ``text_`` in word-equivalents (a CJK character counts 1/2)."""
    return _sh.size(_sh.tokens(text_))


def titles_agree(a: str, b: str) -> bool:
    """Whether most words of the shorter title (≥ ``TITLE_AGREEMENT``) are in the other one,
    and the two don't each carry a number the other lacks.

    Words are folded like every dedupe key (NFKC, casefold, punctuation dropped; a CJK
    character is a word). An empty title agrees with nothing. A copy may gain a number
    ("UPDATE 2: …"), but "… part 1" and "… part 2", or "rose 5% in May" and "rose 7% in
    June", over one summary are different items.
    """
    ta, tb = _title_words(a), _title_words(b)
    if not ta or not tb:
        return False
    # the numbers of ``ta - tb`` are those of ``ta`` not in ``tb`` (and the other way round)
    if (_title_numbers(a) - tb) and (_title_numbers(b) - ta):
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= TITLE_AGREEMENT


@lru_cache(maxsize=16_384)
def _title_words(title: str) -> frozenset[str]:
    return frozenset(_sh.tokens(title))


@lru_cache(maxsize=16_384)
def _title_numbers(title: str) -> frozenset[str]:
    return frozenset(_numbers(_title_words(title)))


def _numbers(words: frozenset[str]) -> set[str]:
    return {w for w in words if any(c.isdigit() for c in w)}


def same_story(
    score: float,
    size_a: float,
    size_b: float,
    title_a: str,
    title_b: str,
    threshold: float = THRESHOLD,
) -> bool:
    """The similarity rule (rule 2 of the module docstring) for one pair of texts.

    ``score`` is their estimated Jaccard; sizes are in word-equivalents (:func:`text_size`).
    """
    smaller = min(size_a, size_b)
    if smaller < MIN_SIZE or score < threshold:
        return False
    return smaller >= TITLE_CHECK_SIZE or titles_agree(title_a, title_b)


# crawler.minhash (and numpy with it) is imported where a signature is first made or read,
# so commands that never sign (check, a poll answered by 304s) do not load numpy.


def signature(text_or_shingles: str | Iterable[str]) -> MinHash:
    """MinHash (128 permutations, fixed seed) of a text or of a ready shingle set.

    Bit-equal to the datasketch ``affine32`` MinHash (blake2b item hash) that made the
    stored signatures: :mod:`crawler.minhash`.
    """
    from crawler import minhash

    items = shingles(text_or_shingles) if isinstance(text_or_shingles, str) else text_or_shingles
    return minhash.signature(items, NUM_PERM, SEED)


def to_bytes(sig: MinHash) -> bytes:
    """Serialise a signature (datasketch's LeanMinHash layout, little-endian, 525 bytes)."""
    return sig.to_bytes()


def from_bytes(data: bytes) -> MinHash:
    """Read a signature written by ``to_bytes``; ValueError if it is not one of ours."""
    from crawler.minhash import MinHash

    try:
        sig = MinHash.from_bytes(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a signature: {exc}") from exc
    if sig.seed != SEED or len(sig) != NUM_PERM:
        raise ValueError("signature made with other MinHash parameters")
    return sig


def jaccard(a: MinHash, b: MinHash) -> float:
    """Estimated Jaccard similarity of the two shingle sets (symmetric, in [0, 1])."""
    return a.jaccard(b)


def band_keys(sig: MinHash) -> list[int]:
    """The 32 LSH band keys of a signature, as signed 64-bit ints ([] for an empty text)."""
    if sig.is_empty():
        return []
    hv = sig.hashvalues.astype("<u4", copy=False)
    keys = []
    for band in range(BANDS):
        chunk = band.to_bytes(1, "little") + hv[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(chunk, digest_size=8, person=_BAND_PERSON).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def load_signature(blob: bytes | None) -> MinHash | None:
    """A stored signature, or None when absent or written with other parameters."""
    if blob is None:
        return None
    try:
        return from_bytes(blob)
    except ValueError:
        return None


@dataclass(slots=True)
class Prepared:
    """The text work of one new article for story assignment (done outside the lock)."""

    title: str
    digest: str
    size: float
    sig: MinHash | None
    keys: list[int]
    blob: bytes | None  # ``to_bytes(sig)``
    lead: str  # the first ``LEAD_CHARS`` of the text, as a later copy measures it

    def lead_size(self) -> float:
        """The size a later article compares against (:func:`_shapes`)."""
        return self.size if len(self.lead) == 0 else lead_text_size(self.title, self.lead)


def prepare(
    title: str, body: str, digest: str | None = None, key: KeyText | None = None
) -> Prepared:
    """Content hash, size, signature and band keys of an article's title and text.

    ``key``: the :class:`KeyText` already made of this title and text (ignored when made of
    another), so they are not tokenised again.
    """
    if key is None or not key.reads(title, body):
        key = KeyText.of(title, body)
    units = key.units()
    size = _sh.size(units)
    sig: MinHash | None = None
    keys: list[int] = []
    if size >= MIN_SIZE:
        sig = signature(_sh.shingles_of(units))
        keys = list(dict.fromkeys(band_keys(sig)))
    return Prepared(
        title=title,
        digest=digest if digest is not None else key.digest(),
        size=size,
        sig=sig,
        keys=keys,
        blob=to_bytes(sig) if sig is not None else None,
        lead=body[:LEAD_CHARS] if len(body) > LEAD_CHARS else "",
    )


@lru_cache(maxsize=4_096)
def lead_text_size(title: str, lead: str) -> float:
    """``text_size`` of a title and text lead; cached, as a story's copies meet it often."""
    return text_size(f"{title}\n{lead}")
