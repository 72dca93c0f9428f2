"""Regex terms: RE2 syntax, so matching takes time linear in the text whatever the pattern.

Python's ``re`` backtracks: ``(a+)+$`` against 5,000 "a" and a "!" never finishes, and as it
holds the GIL the whole daemon stalls with it. RE2 (google-re2) guarantees linear time and so
refuses what needs backtracking: backreferences (``\\1``, ``(?P=name)``), lookaround (``(?=``,
``(?!``, ``(?<=``, ``(?<!``), atomic groups, possessive quantifiers (``a++``) and
conditionals. Other differences from Python: ``\\z`` ends the text (``\\Z`` is refused),
``\\x{4E2D}`` names a code point (``\\u4E2D`` is refused), counted repetition stops at
``{1000}``, and ``\\w``, ``\\d``, ``\\s``, ``\\b`` are ASCII-only (``\\pL``, ``\\p{Han}``,
``\\pN`` are the Unicode classes). An ASCII ``\\b`` also finds the edge in "用MOU".

A term is compiled once, case-insensitively, after its CJK characters are folded like the text
(``crawler.folding``). The watchlist validator compiles it the same way, so ``wirewatch check``
refuses, by file and line, exactly what the matcher could not run.

The prefilter (:func:`required_literal`) reads the pattern with Python's own parser, which
agrees with RE2 on everything both accept, except POSIX classes such as ``[[:alpha:]]``:
Python reads those as a nested set and warns, and any warning or parse failure means "no
prefilter" (the regex then runs on every candidate document), never a wrong one.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import re2

from crawler.folding import fold
from crawler.unicode_scripts import NON_SPACED

__all__ = ["MAX_PATTERN_CHARS", "check_term", "compile_term", "fold_pattern", "required_literal"]

MAX_PATTERN_CHARS = 1000

_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr

# (what RE2's message contains, what to tell the user)
_HINTS = (
    ("(?=", "lookahead is not supported"),
    ("(?!", "lookahead is not supported"),
    ("(?<=", "lookbehind is not supported"),
    ("(?<!", "lookbehind is not supported"),
    ("(?>", "atomic groups are not supported"),
    ("(?P", "named backreferences (?P=name) are not supported"),
    ("(?(", "conditionals are not supported"),
    ("(?#", "comments are not supported"),
    ("(?x", "verbose mode is not supported"),
    ("\\Z", "write \\z for the end of the text"),
    ("\\u", "write \\x{4E2D} or the character itself"),
    ("\\U", "write \\x{1F600} or the character itself"),
    ("\\N", "write \\x{2014} or the character itself"),
    ("++", "possessive quantifiers are not supported"),
    ("*+", "possessive quantifiers are not supported"),
    ("?+", "possessive quantifiers are not supported"),
    ("}+", "possessive quantifiers are not supported"),
    ("invalid repetition size", "counted repetitions, nested ones multiplied, stop at 1000"),
    ("pattern too large", "simplify the pattern or split it into several terms"),
)
_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")


def fold_pattern(pattern: str) -> str:
    """Fold only CJK characters: other characters may be regex syntax (``\\S``, ``（``)."""
    return "".join(fold(ch).text if NON_SPACED.match(ch) else ch for ch in pattern)


def compile_term(pattern: str) -> Any:
    """The compiled RE2 regex of a term; ValueError saying what RE2 cannot take."""
    if not pattern:
        raise ValueError("empty regular expression")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(
            f"regular expression too long ({len(pattern)} characters; at most {MAX_PATTERN_CHARS})"
        )
    try:
        return re2.compile(fold_pattern(pattern), _OPTIONS)
    except re2.error as exc:
        raise ValueError(f"invalid regular expression (RE2 syntax): {_explain(exc)}") from None
    except UnicodeEncodeError:
        raise ValueError("regular expression is not valid Unicode (a lone surrogate?)") from None


def check_term(pattern: str) -> str:
    """Pydantic validator: ``pattern`` compiles as a regex term."""
    compile_term(pattern)
    return pattern


def _explain(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if _BACKREFERENCE.search(message):
        return f"{message} (backreferences are not supported)"
    for needle, hint in _HINTS:
        if needle in message:
            return f"{message} ({hint})"
    return message


def required_literal(pattern: str) -> str | None:
    """The longest literal run (casefolded) every match of ``pattern`` contains, if usable."""
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parsed = _parser.parse(pattern, re.IGNORECASE)
    except Exception:  # Python reads it differently from RE2, or not at all
        return None
    best = ""
    run: list[str] = []

    def walk(items: Any) -> None:
        nonlocal best, run
        for op, av in items:
            if op is _constants.LITERAL and (chr(av).isascii() or NON_SPACED.match(chr(av))):
                run.append(chr(av).casefold())
                continue
            if op is _constants.SUBPATTERN and av[1] == 0 and av[2] == 0:
                walk(av[3])
                continue
            if len(run) > len(best):
                best = "".join(run)
            run = []

    try:
        walk(parsed.data)
    except RecursionError:
        return None
    if len(run) > len(best):
        best = "".join(run)
    return best if len(best) >= 2 else None
