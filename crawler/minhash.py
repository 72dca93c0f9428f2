"""MinHash signatures, bit-equal to datasketch's ``affine32`` scheme, on numpy alone.

The scheme (datasketch 2.0 ``MinHash(scheme="affine32")`` with a custom ``hashfunc``):

1. each item is hashed to 32 bits (here: blake2b with a 4-byte digest of its UTF-8 bytes,
   read little-endian; the hash ``crawler.dedupe`` has always passed as ``hashfunc``);
2. the hash is pre-mixed with the MurmurHash3 32-bit finaliser;
3. permutation ``i`` maps it to ``a[i] * h + b[i] mod 2**32`` (``a`` odd), where numpy's
   ``RandomState(seed)`` draws ``a = 2 * randint(0, 2**31, n) + 1`` then
   ``b = randint(0, 2**32, n)`` (both uint32): its Mersenne Twister stream, masked to 31
   bits for ``a`` and taken whole for ``b``, which :func:`permutations` reproduces without
   importing ``numpy.random`` (7 MiB);
4. the signature is the per-permutation minimum (``0xFFFFFFFF`` everywhere for no items).

Bytes (datasketch ``LeanMinHash.serialize`` with ``byteorder="<"``): seed as int64, the
negated permutation count as int32, the scheme code ``1`` as one byte, then the values as
uint32, all little-endian and unpadded: 525 bytes for 128 permutations. Databases hold
signatures in this layout, so it must not change.

datasketch itself is not needed at run time (its package init loads scipy); the tests check
this module against it when it is installed.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["EMPTY", "HEADER_SIZE", "SCHEME", "MinHash", "hash32", "permutations", "signature"]

SCHEME = "affine32"
EMPTY = 0xFFFFFFFF  # every value of the signature of no items
_SCHEME_CODE = 1  # datasketch's code for "affine32" in the serialised header
_HEAD = struct.Struct("<qiB")  # seed, negated permutation count, scheme code
HEADER_SIZE = _HEAD.size  # 13
_CHUNK = 2_048  # items per block of the (items x permutations) product, to bound memory

_U32 = np.uint32
_FMIX = (_U32(16), _U32(0x85EBCA6B), _U32(13), _U32(0xC2B2AE35), _U32(16))

U32Array = npt.NDArray[np.uint32]


def hash32(item: str) -> int:
    """The 32-bit hash of one item (blake2b, 4-byte digest, little-endian)."""
    return int.from_bytes(hashlib.blake2b(item.encode(), digest_size=4).digest(), "little")


def _mt19937(seed: int) -> Iterator[int]:
    """The 32-bit outputs of numpy's ``RandomState(seed)`` (MT19937, ``init_genrand`` seed)."""
    if not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError("Seed must be between 0 and 2**32 - 1")
    mt = [seed]
    for i in range(1, 624):
        mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & 0xFFFFFFFF)
    while True:
        for i in range(624):
            y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
            mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
        for y in mt:
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C5680
            y ^= (y << 15) & 0xEFC60000
            yield y ^ (y >> 18)


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[U32Array, U32Array]:
    """The ``(a, b)`` permutation parameters datasketch draws for ``num_perm`` and ``seed``.

    ``RandomState.randint`` with a range of 2**31 masks each draw to 31 bits (never
    rejecting one); with 2**32 it takes the draw as it is.
    """
    stream = _mt19937(seed)
    a = np.array([next(stream) & 0x7FFFFFFF for _ in range(num_perm)], dtype=np.uint32)
    a = a * _U32(2) + _U32(1)
    b = np.array([next(stream) for _ in range(num_perm)], dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _fmix32(h: U32Array) -> U32Array:
    """MurmurHash3's 32-bit finaliser, element-wise (multiplications wrap mod 2**32)."""
    s1, m1, s2, m2, s3 = _FMIX
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def _hashes(items: Iterable[str]) -> U32Array:
    digests = b"".join(hashlib.blake2b(s.encode(), digest_size=4).digest() for s in items)
    return np.frombuffer(digests, dtype="<u4").astype(np.uint32)


class MinHash:
    """A finished signature: its seed and one uint32 per permutation (read-only)."""

    __slots__ = ("hashvalues", "seed")
    scheme = SCHEME

    hashvalues: U32Array
    seed: int

    def __init__(self, hashvalues: npt.ArrayLike, seed: int) -> None:
        values = np.array(hashvalues, dtype=np.uint32)
        if values.ndim != 1 or values.size == 0:
            raise ValueError("hash values must be a non-empty vector")
        values.setflags(write=False)
        self.hashvalues = values
        self.seed = seed

    def __len__(self) -> int:
        return len(self.hashvalues)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MinHash):
            return NotImplemented
        return self.seed == other.seed and np.array_equal(self.hashvalues, other.hashvalues)

    def __hash__(self) -> int:
        return hash((self.seed, self.hashvalues.tobytes()))

    def __repr__(self) -> str:
        return f"MinHash(num_perm={len(self)}, seed={self.seed})"

    def is_empty(self) -> bool:
        """Whether this is the signature of no items."""
        return bool((self.hashvalues == EMPTY).all())

    def jaccard(self, other: MinHash) -> float:
        """Estimated Jaccard similarity: the share of equal values (ValueError: not comparable)."""
        if other.seed != self.seed:
            raise ValueError("cannot compare signatures made with different seeds")
        if len(other) != len(self):
            raise ValueError("cannot compare signatures of different permutation counts")
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / float(len(self))

    def to_bytes(self) -> bytes:
        """The serialised signature (the module docstring's layout)."""
        head = _HEAD.pack(self.seed, -len(self), _SCHEME_CODE)
        return head + self.hashvalues.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> MinHash:
        """Read ``to_bytes`` output; ValueError for anything else (another scheme too).

        Like datasketch's ``LeanMinHash.deserialize``, bytes after the values are ignored.
        """
        if len(data) < _HEAD.size:
            raise ValueError(f"{len(data)} bytes: too short for a signature header")
        seed, count, code = _HEAD.unpack_from(data)
        if count >= 0 or code != _SCHEME_CODE:
            raise ValueError("not an affine32 signature")
        end = _HEAD.size + 4 * -count
        if len(data) < end:
            raise ValueError(f"{len(data)} bytes: too short for {-count} hash values")
        values = np.frombuffer(data, dtype="<u4", count=-count, offset=_HEAD.size)
        return cls(values, seed)


def signature(items: Iterable[str], num_perm: int, seed: int) -> MinHash:
    """The MinHash of a set of strings (duplicates do not matter; no items: all ``EMPTY``)."""
    a, b = permutations(num_perm, seed)
    hv = _fmix32(_hashes(items))
    out = np.full(num_perm, EMPTY, dtype=np.uint32)
    for start in range(0, len(hv), _CHUNK):
        block = hv[start : start + _CHUNK, np.newaxis] * a + b
        np.minimum(out, block.min(axis=0), out=out)
    return MinHash(out, seed)
