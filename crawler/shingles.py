"""Text → comparison units: normalised tokens, word shingles and CJK character n-grams.

Latin-script (and any space-separated) text is compared on word 5-shingles. Scripts written
without spaces (Chinese, Japanese kana, Thai, Lao, Khmer, Myanmar) are compared on character
n-grams, because a "word" there is a whole clause. Mixed text gets both kinds.
"""

from __future__ import annotations

import re
import sys
import unicodedata

WORD_SHINGLE = 5
CHAR_NGRAM = 3

# Scripts written without spaces between words.
_NOSPACE_RANGES = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B–G
)
_TOKEN = re.compile(f"[{_NOSPACE_RANGES}]|[^\\s{_NOSPACE_RANGES}]+")
_IS_NOSPACE = re.compile(f"[{_NOSPACE_RANGES}]")
_ASTRAL_SYMBOLS = re.compile("[\U0001f000-\U0001faff]")  # emoji and pictographs


def _fold_table() -> dict[int, str]:
    # Punctuation, symbols, separators and controls become spaces. Only the BMP is scanned
    # (fast at import); astral emoji are handled by _ASTRAL_SYMBOLS.
    table: dict[int, str] = {}
    for cp in range(min(sys.maxunicode, 0xFFFF) + 1):
        if unicodedata.category(chr(cp))[0] in "PSZC":
            table[cp] = " "
    return table


_FOLD = _fold_table()


def tokens(text: str) -> list[str]:
    """NFKC + casefold ``text``, fold punctuation/symbols/whitespace, split into units.

    A unit is a word (a run of letters, digits and marks) or a single character of a script
    written without spaces.
    """
    if not text:
        return []
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    folded = _ASTRAL_SYMBOLS.sub(" ", folded)
    return _TOKEN.findall(folded)


def is_nospace(token: str) -> bool:
    """True for a single character of a script written without spaces (e.g. a Han character)."""
    return len(token) == 1 and _IS_NOSPACE.match(token) is not None


def _has_nospace(units: list[str]) -> bool:
    """Whether any unit holds a no-space character (one search instead of one per unit)."""
    return _IS_NOSPACE.search("".join(units)) is not None


def size(units: list[str]) -> float:
    """Length in word-equivalents: a word counts 1, a CJK character 1/2.

    Chinese averages about two characters per word, so this puts texts of both kinds on one
    scale for the minimum-length rule.
    """
    nospace = sum(map(is_nospace, units)) if _has_nospace(units) else 0
    return (len(units) - nospace) + nospace / 2


def shingles_of(units: list[str]) -> set[str]:
    """Word 5-shingles over the spaced words, plus character n-grams over no-space runs."""
    flags = list(map(is_nospace, units)) if _has_nospace(units) else []
    mixed = any(flags)
    words = [t for t, ns in zip(units, flags, strict=True) if not ns] if mixed else units
    out: set[str] = set()
    if len(words) >= WORD_SHINGLE:
        shifted = (words[i:] for i in range(WORD_SHINGLE))  # zip stops at the shortest
        out.update(map(" ".join, zip(*shifted, strict=False)))
    elif words and not mixed:
        out.add(" ".join(words))
    if mixed:
        n = CHAR_NGRAM
        if len(units) < n:
            out.add("".join(units))
        else:
            # n-grams that hold at least one no-space character; a Latin word inside Chinese
            # text ("台積電TSMC宣布") counts as one unit. "\x1f" keeps units apart.
            for i in range(len(units) - n + 1):
                if any(flags[i : i + n]):
                    out.add("\x1f".join(units[i : i + n]))
    return out


def shingles(text: str) -> set[str]:
    """The shingle set of ``text`` (see the module docstring)."""
    return shingles_of(tokens(text))
