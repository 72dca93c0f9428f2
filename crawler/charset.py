"""Bytes -> text for feeds and HTML pages: one order of evidence for both.

Evidence, strongest first; the first that holds decides:

1. a byte-order mark (or, for XML, the UTF-16/32 pattern of ``<?xml``);
2. the HTTP charset, when the bytes decode cleanly under it;
3. the document's own declaration (``<?xml encoding=…?>``, ``<meta charset>``), when the
   bytes decode cleanly under it;
4. strict UTF-8;
5. windows-1252, when the bytes look Latin (short runs of high bytes that decode to letters);
6. a detector (charset-normalizer);
7. windows-1252, else UTF-8 with replacement characters.

"Decodes cleanly" means no decoding error, and, for a legacy (non-Unicode) charset, that
the bytes are not also UTF-8 with multi-byte sequences: such bytes are UTF-8 whatever a
header or ``<meta>`` says (a page declaring gb2312 whose bytes are UTF-8 would otherwise
come out as GBK mojibake, and an ISO-8859-1 label would turn every ``é`` into ``Ã©``).

The detector comes last because it guesses wrong on short Latin text (an undeclared
ISO-8859-1 feed came out as cp1257: ``simulações`` → ``simulaēões``).
Labels are decoded by their supersets, as browsers do: gb2312/gbk by gb18030, iso-8859-1 by
windows-1252 (whose extra characters sit where ISO-8859-1 has unused C1 controls).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

import charset_normalizer

DETECT_BYTES = 200_000
# Labels that mean a superset in practice (WHATWG): gb2312/gbk text is gb18030 (and is
# reported so, as feedparser does).
_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030"}
# Decoded by a superset when it can, but reported as labelled.
_SUPERSETS = {"iso8859-1": "cp1252"}
_UNICODE = re.compile(r"^utf[-_]?(8|16|32)")
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
# Latin-looking: high bytes come alone or in pairs (ç, õ, "çã"), rarely in longer runs.
_LATIN_MAX_RUN = 4
_LATIN_SHORT_SHARE = 0.9
_LATIN_LETTER_SHARE = 0.8
# Common non-letters of Latin text in windows-1252: quotes, dashes, currency, degree, etc.
_LATIN_PUNCT = frozenset("‘’‚“”„–—…•€£¥©®°±«»¿¡§¶·×÷™º ª¹²³´¨¸¬")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text, the codec name decided, the evidence that decided it, and a problem.

    ``evidence`` is one of bom, http, declaration, utf-8, latin, detector, fallback.
    ``problem`` is set when a declared charset was overruled or nothing was declared and
    the bytes are not UTF-8.
    """

    text: str
    encoding: str
    evidence: str
    problem: str | None = None


def codec_name(label: str | None) -> str | None:
    """Python's name for an encoding label (``"ISO-8859-1"`` → ``"iso8859-1"``), or None."""
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().strip("'\"")).name
    except LookupError:
        return None


def is_unicode(name: str) -> bool:
    """True for UTF-8/16/32 codec names."""
    return bool(_UNICODE.match(name.replace("_", "-")))


def decode(
    body: bytes,
    *,
    bom: str | None = None,
    http: str | None = None,
    declared: str | None = None,
) -> Decoded:
    """Decode ``body`` (BOM already removed) by the order of evidence of this module.

    ``bom`` is the encoding a byte-order mark named, ``http`` the HTTP charset (or the
    media type's default), ``declared`` the document's own declaration; any may be None.
    """
    utf8 = _valid_utf8(body)
    multibyte_utf8 = utf8 and not body.isascii()
    labels = [("bom", bom), ("http", http), ("declaration", declared)]
    overruled: list[str] = []
    for evidence, label in labels:
        if not label:
            continue
        name = codec_name(label)
        if name is None:
            overruled.append(f"unknown encoding {label!r}")
            continue
        if evidence != "bom" and multibyte_utf8 and not is_unicode(name):
            overruled.append(f"declared as {label}, but the bytes are UTF-8")
            continue
        if (text := _decode_as(body, name)) is not None:
            shown = _ALIASES.get(name) or label.strip().strip("'\"").lower()
            problem = f"{'; '.join(overruled)}; decoded as {shown}" if overruled else None
            return Decoded(text, shown, evidence, problem)
        if evidence == "bom":  # a byte-order mark is conclusive: keep the text, note the damage
            text = body.decode(name, "replace")
            return Decoded(text, name, evidence, f"invalid {name} bytes replaced")
        overruled.append(f"declared as {label}, but not decodable as such")
    if utf8:
        problem = _problem(overruled, "utf-8")
        return Decoded(body.decode("utf-8"), "utf-8", "utf-8", problem)
    if (text := _latin(body)) is not None:
        return Decoded(text, "cp1252", "latin", _problem(overruled, "windows-1252"))
    detected = codec_name(_detect(body))
    if detected and (text := _decode_as(body, detected)) is not None:
        return Decoded(text, detected, "detector", _problem(overruled, detected, guessed=True))
    if (text := _try(body, "cp1252")) is not None:
        return Decoded(text, "cp1252", "fallback", _problem(overruled, "windows-1252"))
    text = body.decode("utf-8", "replace")
    return Decoded(text, "utf-8", "fallback", "document encoding unknown; decoded lossily")


def _problem(overruled: list[str], used: str, *, guessed: bool = False) -> str | None:
    if overruled:
        return f"{'; '.join(overruled)}; decoded as {used}"
    if guessed:
        return f"no encoding declared; detected {used}"
    if used != "utf-8":
        return f"no encoding declared; decoded as {used}"
    return None


def _decode_as(body: bytes, name: str) -> str | None:
    """``body`` decoded by ``name``'s superset when that works, else by ``name`` itself."""
    wider = _ALIASES.get(name) or _SUPERSETS.get(name)
    text = _try(body, wider) if wider else None
    return text if text is not None else _try(body, name)


def _try(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _latin(body: bytes) -> str | None:
    """``body`` as windows-1252 when its high bytes look like Latin letters, else None."""
    runs = [len(m.group(0)) for m in _HIGH_RUN.finditer(body)]
    if not runs or max(runs) > _LATIN_MAX_RUN:
        return None
    if sum(n <= 2 for n in runs) < _LATIN_SHORT_SHARE * len(runs):
        return None
    text = _try(body, "cp1252")
    if text is None:
        return None
    high = [c for c in text if ord(c) >= 0x80]
    latin = sum(unicodedata.category(c).startswith("L") or c in _LATIN_PUNCT for c in high)
    return text if latin >= _LATIN_LETTER_SHARE * len(high) else None


def _detect(body: bytes) -> str | None:
    best = charset_normalizer.from_bytes(body[:DETECT_BYTES]).best()
    return best.encoding if best else None
