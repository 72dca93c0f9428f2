"""Faults the local news server can inject, and the hostile bodies some of them serve."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

FaultKind = Literal[
    "status",  # answer `status` (default 500), with Retry-After when `retry_after` is set
    "timeout",  # read the request, never answer; hold the socket for `duration` seconds
    "drop",  # close the connection without answering
    "stall",  # send headers and `fraction` of the body, then hang for `duration`
    "slow",  # trickle the body at `rate` bytes per second
    "truncate",  # a complete response whose body is cut at `fraction` (broken XML)
    "garbage",  # `size` random bytes with the resource's content type
    "empty",  # 200 with an empty body
    "charset",  # body encoded as `encoding`, declared as `declared` (None: undeclared)
    "gzip_bomb",  # Content-Encoding: gzip body inflating to `size` bytes (default 4 GiB)
    "redirect",  # `status` (default 301) to `location` (default: /moved + path)
    "redirect_loop",  # path -> /loop + path -> path -> ...
    "robots",  # robots.txt disallowing `disallow` (only affects /robots.txt)
    "entity_bomb",  # a feed whose internal DTD entity expands quadratically to ~`size` bytes
]
FAULT_KINDS: frozenset[str] = frozenset(FaultKind.__args__)  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class Fault:
    """A misbehaviour applied to matching requests; fields not used by `kind` are ignored."""

    kind: FaultKind
    status: int | None = None
    retry_after: int | str | None = None
    location: str | None = None
    duration: float = 30.0
    rate: int = 256
    fraction: float = 0.5
    size: int | None = None
    encoding: str = "big5"
    declared: str | None = "utf-8"
    disallow: tuple[str, ...] = ("/",)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        if self.rate <= 0:
            raise ValueError("rate must be positive")


GZIP_BOMB_DEFAULT_SIZE = 4 << 30
_BOMB_CHUNK = 1 << 20
_BOMB_PREFIX = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>'


@lru_cache(maxsize=1)
def _bomb_blocks() -> tuple[bytes, bytes]:
    """Raw-deflate bytes for the prefix and for one repeatable 1 MiB block of spaces.

    After a full flush the compressor forgets its history, so every further block of identical
    input compresses to identical bytes, which lets the body be streamed by repetition.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    prefix = comp.compress(_BOMB_PREFIX) + comp.flush(zlib.Z_FULL_FLUSH)
    chunk = b" " * _BOMB_CHUNK
    first = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    second = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    if first != second:  # pragma: no cover - zlib behaviour guard
        raise RuntimeError("deflate blocks are not repeatable")
    return prefix, first


def gzip_bomb_length(size: int = GZIP_BOMB_DEFAULT_SIZE) -> int:
    """Compressed length of `gzip_bomb(size)`, for Content-Length."""
    prefix, block = _bomb_blocks()
    blocks = max(0, (size - len(_BOMB_PREFIX)) // _BOMB_CHUNK)
    return 10 + len(prefix) + blocks * len(block) + 2 + 8


def gzip_bomb(size: int = GZIP_BOMB_DEFAULT_SIZE) -> Iterator[bytes]:
    """Stream a valid gzip member inflating to about `size` bytes (a feed prefix, then spaces).

    Nothing close to `size` is ever held in memory; the CRC is computed while streaming.
    """
    prefix, block = _bomb_blocks()
    blocks = max(0, (size - len(_BOMB_PREFIX)) // _BOMB_CHUNK)
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + prefix
    crc = zlib.crc32(_BOMB_PREFIX)
    chunk = b" " * _BOMB_CHUNK
    for _ in range(blocks):
        crc = zlib.crc32(chunk, crc)
        yield block
    total = len(_BOMB_PREFIX) + blocks * _BOMB_CHUNK
    # b"\x03\x00" is an empty final block with fixed Huffman codes.
    yield b"\x03\x00" + struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF)


def entity_bomb(size: int | None = None) -> bytes:
    """A small RSS feed whose internal DTD entity, referenced many times, expands to ~`size`."""
    expanded = size or 200_000_000
    entity_len = 50_000
    refs = max(1, expanded // entity_len)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY a "{"a" * entity_len}">\n]>\n'
        '<rss version="2.0"><channel><title>Entity feed</title><link>http://example.invalid/</link>'
        "<description>quadratic blowup</description><item><title>boom</title><description>"
        + "&a;" * refs
        + "</description></item></channel></rss>\n"
    ).encode()


def garbage(size: int | None = None, seed: int = 0) -> bytes:
    """Deterministic random bytes."""
    return random.Random(f"garbage:{seed}").randbytes(size or 4096)


def robots_txt(disallow: tuple[str, ...] = (), sitemap: str | None = None) -> bytes:
    """A robots.txt for all user agents."""
    lines = ["User-agent: *"]
    lines += [f"Disallow: {path}" for path in disallow] or ["Allow: /"]
    if sitemap:
        lines += ["", f"Sitemap: {sitemap}"]
    return ("\n".join(lines) + "\n").encode()
