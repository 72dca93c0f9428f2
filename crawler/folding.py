"""Text folding shared by watchlist terms and documents.

``fold(text)`` makes matching case-, width- and script-variant-insensitive:

* Unicode NFKC (full-width ``ＭＯＵ`` → ``MOU``, ligatures, compatibility ideographs), applied
  per character, with combining sequences composed (NFC) first;
* ``str.casefold`` (``ß`` → ``ss``);
* every whitespace character → one ASCII space (runs are kept, not collapsed);
* Chinese script variants folded to one form, character by character: Taiwan/Hong Kong
  variants → OpenCC standard Traditional → Simplified (OpenCC's TWVariantsRev, HKVariantsRev
  and TSCharacters tables, first candidate). Chains and cycles in those tables are resolved
  to one representative per equivalence class, so ``臺灣``, ``台灣`` and ``台湾`` all fold to
  ``台湾``. Phrase tables are deliberately not used: both sides are folded the same way, and
  per-character folding keeps offsets simple and runs at ``str.translate`` speed.

Offsets: folding is usually length-preserving (each character folds to exactly one
character); then ``Folded.span`` is the identity. When it is not (``ß``, ``ﬁ``, decomposed
accents), a per-character map back to the original is kept, so every span in folded text maps
to a span of the original text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Folded", "chinese_variants", "fold", "fold_case_preserving"]

# Tables from opencc-python-reimplemented, variants first so they chain into TSCharacters.
_OPENCC_TABLES = ("TWVariantsRev.txt", "HKVariantsRev.txt", "TSCharacters.txt")
_EXPLICIT = {"臺": "台"}


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text plus, when folding changed the length, a map back to the original.

    ``starts[i]``/``ends[i]`` give the original span that produced folded character ``i``;
    both are ``None`` when folding preserved length (the map is the identity).
    """

    text: str
    original_length: int
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map the folded span ``[start, end)`` to a span of the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        if start >= end:
            pos = self.starts[start] if start < len(self.starts) else self.original_length
            return pos, pos
        return self.starts[start], self.ends[end - 1]


@cache
def _chinese_map() -> dict[str, str]:
    """Character → representative of its Chinese script-variant class."""
    parent: dict[str, str] = {}

    def find(ch: str) -> str:
        root = ch
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(ch, ch) != root:
            parent[ch], ch = root, parent[ch]
        return root

    keys: set[str] = set()
    edges: list[tuple[str, str]] = list(_EXPLICIT.items())
    folder = resources.files("opencc") / "dictionary"
    for name in _OPENCC_TABLES:
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) != 2 or len(parts[0]) != 1:
                continue
            target = parts[1].split(" ")[0]
            if len(target) == 1:
                edges.append((parts[0], target))
    for src, dst in edges:
        keys.add(src)
        a, b = find(src), find(dst)
        if a != b:
            parent[a] = b
    # Prefer a representative that is never a source (i.e. a Simplified form such as 台).
    members: dict[str, list[str]] = {}
    for ch in set(parent) | {dst for _, dst in edges}:
        members.setdefault(find(ch), []).append(ch)
    table: dict[str, str] = {}
    for group in members.values():
        targets = [ch for ch in group if ch not in keys]
        rep = min(targets or group)
        for ch in group:
            if ch != rep:
                table[ch] = rep
    return table


@cache
def chinese_variants() -> frozenset[str]:
    """Every character that folding merges with another Chinese script variant."""
    table = _chinese_map()
    return frozenset(table) | frozenset(table.values())


def _fold_char(ch: str, casefold: bool) -> str:
    if ch.isspace():
        return " "
    out = unicodedata.normalize("NFKC", ch)
    if casefold:
        out = out.casefold()
    chinese = _chinese_map()
    out = "".join(" " if c.isspace() else chinese.get(c, c) for c in out)
    return out or ch


class _Table(dict[int, str]):
    """Lazy ``str.translate`` table: folds each code point the first time it is seen."""

    def __init__(self, casefold: bool) -> None:
        super().__init__()
        self.casefold = casefold

    def __missing__(self, key: int) -> str:
        value = _fold_char(chr(key), self.casefold)
        self[key] = value
        return value


_FOLD = _Table(casefold=True)
_FOLD_CASE = _Table(casefold=False)


def _fold(text: str, table: _Table) -> Folded:
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        out = text.translate(table)
        # Every table value is non-empty, so equal length means one character for one.
        if len(out) == len(text):
            return Folded(out, len(text))
    return _fold_mapped(text, table)


def _fold_mapped(text: str, table: _Table) -> Folded:
    import numpy as np  # loaded on the first fold: reading a config needs no numpy

    if not text:
        return Folded(text, 0)
    # Segments are a character and the combining marks after it; each is NFC-composed (when
    # longer than one character), then folded, and every folded character maps back to its
    # whole segment. Done in bulk: per distinct code point, then per multi-character segment.
    n = len(text)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    distinct, inverse = np.unique(codes, return_inverse=True)
    chars = [chr(c) for c in distinct.tolist()]
    combining = np.array([unicodedata.combining(c) != 0 for c in chars], dtype=bool)[inverse]
    lengths = np.array([len(table[ord(c)]) for c in chars], dtype=np.int64)[inverse]
    starts_at = ~combining
    starts_at[0] = True
    seg_starts = np.flatnonzero(starts_at)
    seg_ends = np.append(seg_starts[1:], n)
    out_lengths = np.add.reduceat(lengths, seg_starts)
    parts: list[str] = []
    done = 0
    for k in np.flatnonzero(seg_ends - seg_starts > 1).tolist():
        i, j = int(seg_starts[k]), int(seg_ends[k])
        segment = text[i:j]
        composed = unicodedata.normalize("NFC", segment)
        if composed != segment:
            out = composed.translate(table)
            parts.append(text[done:i].translate(table))
            parts.append(out)
            out_lengths[k] = len(out)
            done = j
    parts.append(text[done:].translate(table))
    starts = np.repeat(seg_starts, out_lengths).tolist()
    ends = np.repeat(seg_ends, out_lengths).tolist()
    return Folded("".join(parts), n, tuple(starts), tuple(ends))


def fold(text: str) -> Folded:
    """Fold ``text`` for matching (NFKC, casefold, whitespace, Chinese variants)."""
    return _fold(text, _FOLD)


def fold_case_preserving(text: str) -> Folded:
    """Like :func:`fold` but without casefolding; used to verify case-sensitive terms."""
    return _fold(text, _FOLD_CASE)
