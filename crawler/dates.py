"""Date parsing for feeds and HTML pages, always returning aware UTC datetimes.

Handles RFC 822 (named and numeric zones), ISO 8601 (``-0500`` without a colon too),
``YYYY/MM/DD``, ``YYYY.MM.DD``, ``dd/mm/yyyy`` (day-first on request), ``YYYY年M月D日`` and
the ROC (Minguo) calendar used by Taiwan government sites (``115-03-19``, ``115/03/19``,
``民國115年3月19日``; year + 1911). A date without a zone is read in the source's ``tz``.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
import warnings
from datetime import UTC, datetime, timedelta, tzinfo

import feedparser
from dateutil import parser as dateutil_parser

MIN_DATE = datetime(1990, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=2)
ROC_OFFSET = 1911
_MAX_LEN = 200

_TIME = r"(?:[T\s]+(?P<H>\d{1,2})[:時时](?P<M>\d{2})(?:[:分](?P<S>\d{2})(?:\.\d+)?)?)?"
_ROC_WORD = re.compile(
    r"民[國国]\s*(?P<y>\d{1,3})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?" + _TIME
)
# A three-digit year (ROC 100 = 2011) is the only unambiguous numeric ROC form.
_ROC_NUM = re.compile(
    r"(?<![\d./-])(?P<y>1\d{2})([-/.])(?P<m>\d{1,2})\2(?P<d>\d{1,2})(?!\d)" + _TIME
)
_CJK = re.compile(
    r"(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})\s*[日일]?" + _TIME
)
_YMD = re.compile(r"(?<!\d)(?P<y>\d{4})([/.])(?P<m>\d{1,2})\2(?P<d>\d{1,2})(?!\d)" + _TIME)
_DMY = re.compile(r"(?<![\d.])(?P<a>\d{1,2})([/.-])(?P<b>\d{1,2})\2(?P<y>\d{4})(?!\d)" + _TIME)
_ISO = re.compile(
    r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:\s?(?:Z|[+-]\d{2}:?\d{2}|[+-]\d{2}))?)?(?![\d])"
)
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_ENGLISH = re.compile(
    rf"(?:\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\b\d{{1,2}}(?:st|nd|rd|th)?\s+"
    rf"{_MONTHS},?\s+\d{{4}})(?:,?\s+(?:at\s+)?\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s*(?:[AaPp]\.?[Mm]\.?)?"
    r"(?:\s*(?:UTC|GMT|[ECMP][SD]T|[+-]\d{2}:?\d{2}))?)?",
    re.IGNORECASE,
)
_ZONE_AT_END = re.compile(
    r"(?:\b(?:UT|UTC|GMT|Z|[ECMP][SD]T|AST|ADT)|[+-]\d{2}:?\d{2})\s*$", re.IGNORECASE
)
_MONTH_NAME = re.compile(rf"\b{_MONTHS}", re.IGNORECASE)
_FOUR_DIGIT_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def parse_date(
    text: str | None,
    *,
    tz: tzinfo | None = None,
    dayfirst: bool = False,
    now: datetime | None = None,
) -> datetime | None:
    """Parse one date string to an aware UTC datetime, or None.

    ``tz`` applies to dates without a zone (default UTC). Dates before 1990 or more than
    two days after ``now`` are rejected as absurd.
    """
    if not text:
        return None
    s = unicodedata.normalize("NFKC", str(text)).strip()[:_MAX_LEN]
    if not s:
        return None
    for parse in (_parse_numeric, _parse_iso, _parse_rfc822, _parse_feedparser, _parse_dateutil):
        try:
            dt = parse(s, tz, dayfirst)
        except (ValueError, OverflowError, TypeError, IndexError):
            dt = None
        if dt is not None:
            return _plausible(dt, tz, now)
    return None


def find_date_in_text(
    text: str | None,
    tz: tzinfo | None = None,
    *,
    dayfirst: bool = False,
    now: datetime | None = None,
) -> datetime | None:
    """Find the first plausible date embedded in free text (listing rows, bylines)."""
    if not text:
        return None
    s = unicodedata.normalize("NFKC", str(text))[:20_000]
    candidates: list[tuple[int, str]] = []
    for pattern in (_ROC_WORD, _CJK, _ISO, _YMD, _ROC_NUM, _DMY, _ENGLISH):
        candidates.extend((m.start(), m.group(0)) for m in pattern.finditer(s))
    for _, found in sorted(candidates, key=lambda c: c[0]):
        dt = parse_date(found, tz=tz, dayfirst=dayfirst, now=now)
        if dt is not None:
            return dt
    return None


def _plausible(dt: datetime, tz: tzinfo | None, now: datetime | None) -> datetime | None:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        dt = dt.replace(tzinfo=tz or UTC)
    try:
        dt = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    now = now or datetime.now(UTC)
    if dt < MIN_DATE or dt > now + MAX_FUTURE:
        return None
    return dt


def _build(y: int, mo: int, d: int, m: re.Match[str]) -> datetime:
    hh, mm, ss = (int(m.group(k) or 0) for k in ("H", "M", "S"))
    return datetime(y, mo, d, hh, mm, ss)


def _parse_numeric(s: str, tz: tzinfo | None, dayfirst: bool) -> datetime | None:
    """Forms that need the source's reading rules: ROC, CJK, slash/dot, day-first."""
    if m := _ROC_WORD.fullmatch(s) or _ROC_NUM.fullmatch(s):
        return _build(int(m["y"]) + ROC_OFFSET, int(m["m"]), int(m["d"]), m)
    if m := _CJK.fullmatch(s) or _YMD.fullmatch(s):
        return _build(int(m["y"]), int(m["m"]), int(m["d"]), m)
    if m := _DMY.fullmatch(s):
        a, b = int(m["a"]), int(m["b"])
        day, month = (a, b) if dayfirst or a > 12 else (b, a)
        return _build(int(m["y"]), month, day, m)
    return None


def _parse_iso(s: str, tz: tzinfo | None, dayfirst: bool) -> datetime | None:
    if not _ISO.fullmatch(s):
        return None
    # fromisoformat takes "+0500" and "+05" but not a space before the zone.
    s = re.sub(r"\s+(?=(?:[+-]\d{2}(?::?\d{2})?|Z)$)", "", s.replace(",", "."))
    return datetime.fromisoformat(s)


def _parse_rfc822(s: str, tz: tzinfo | None, dayfirst: bool) -> datetime | None:
    if not _MONTH_NAME.search(s):
        return None
    parts = email.utils.parsedate_tz(s)
    if parts is None or parts[0] < 100:
        return None
    dt = datetime(*parts[:6])
    if _ZONE_AT_END.search(s):
        return dt.replace(tzinfo=UTC) - timedelta(seconds=parts[9] or 0)
    return dt


def _parse_feedparser(s: str, tz: tzinfo | None, dayfirst: bool) -> datetime | None:
    """feedparser's own handlers (W3DTF, Korean, Greek, Hungarian, Perforce ...)."""
    parsed = feedparser.datetimes._parse_date(s)
    if parsed is None:
        return None
    # feedparser reads a zoneless date as UTC; keep it naive so the source's zone applies.
    return datetime(*parsed[:6], tzinfo=UTC if _ZONE_AT_END.search(s) else None)


def _parse_dateutil(s: str, tz: tzinfo | None, dayfirst: bool) -> datetime | None:
    # dateutil fills missing parts from today; insist on a real year to avoid inventing dates.
    if not _FOUR_DIGIT_YEAR.search(s):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dateutil_parser.parse(s, dayfirst=dayfirst, fuzzy=False)
