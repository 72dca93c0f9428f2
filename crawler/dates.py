"""Date parsing for feeds and HTML pages, always returning aware UTC datetimes.

Handles RFC 822 (named and numeric zones; day and month names in English, Portuguese,
Spanish, French, German, Italian and Dutch, as in ``Seg, 24 Set 2018 19:42:40 -0300``),
ISO 8601 (``-0500`` without a colon too), ``YYYY-M-D``, ``YYYY/MM/DD``, ``YYYY.MM.DD``,
``dd/mm/yyyy`` (day-first on request), ``YYYY年M月D日``, epoch seconds or milliseconds
(:func:`parse_epoch`, for JSON-LD) and the ROC (Minguo) calendar used by Taiwan government
sites (``115-03-19``, ``115/03/19``, ``民國115年3月19日``, ``115年3月16日``; year + 1911).
A two- or three-digit year before 年 is read as ROC only from 80 to 150 (1991–2061): ``15年``
is no date. Other non-English dates go to dateparser (absolute dates with a day, month and
year only; nothing relative such as "3 days ago"). A date without a zone is read in the
source's ``tz``.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
import warnings
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache

import feedparser
from dateutil import parser as dateutil_parser

MIN_DATE = datetime(1990, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=2)
ROC_OFFSET = 1911
ROC_YEARS = range(80, 151)  # a bare 2-3 digit year before 年 read as ROC: 1991–2061
FOREIGN_LANGUAGES = ("pt", "es", "fr", "de", "it", "nl")
_MAX_LEN = 200
_MAX_DATEPARSER_LEN = 80
_EPOCH_MS = 100_000_000_000  # larger epoch numbers are milliseconds (after 1973 in ms)

_TIME = r"(?:[T\s]+(?P<H>\d{1,2})[:時时](?P<M>\d{2})(?:[:分](?P<S>\d{2})(?:\.\d+)?)?)?"
# After 日 the time may follow without a space: 2004年7月16日08:19
_TIME_CJK = _TIME.replace(r"[T\s]+", r"[T\s]*", 1)
_ROC_WORD = re.compile(
    r"(?:中[華华])?民[國国]\s*(?P<y>\d{1,3})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?"
    + _TIME_CJK
)
# A three-digit year (ROC 100 = 2011) is the only unambiguous numeric ROC form.
_ROC_NUM = re.compile(
    r"(?<![\d./-])(?P<y>1\d{2})([-/.])(?P<m>\d{1,2})\2(?P<d>\d{1,2})(?!\d)" + _TIME
)
_ROC_BARE = re.compile(
    r"(?<![\d.])(?P<y>\d{2,3})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?" + _TIME_CJK
)
_CJK = re.compile(
    r"(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})\s*[日일]?" + _TIME_CJK
)
_YMD = re.compile(r"(?<!\d)(?P<y>\d{4})([/.-])(?P<m>\d{1,2})\2(?P<d>\d{1,2})(?!\d)" + _TIME)
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
# RFC 822 with any language's names: [weekday,] day month year rest (time, zone).
_RFC822_ANY = re.compile(
    r"^\s*(?:[^\W\d_]+\.?\s*,?\s+)?(?P<d>\d{1,2})\.?\s+(?P<mon>[^\W\d_]+)\.?\s+"
    r"(?P<y>\d{4})(?P<rest>(?:\s.*)?)$"
)
_ENGLISH_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_DATEPARSER_SETTINGS = {
    "PARSERS": ["absolute-time"],
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PREFER_DAY_OF_MONTH": "first",
    "STRICT_PARSING": True,
}


@cache
def _month_numbers() -> dict[str, int]:
    """Month names and abbreviations of ``FOREIGN_LANGUAGES`` (dateparser's locale data).

    Read on first use: dateparser is a large import that most feeds' dates never need.
    """
    from dateparser.languages.loader import default_loader

    keys = (
        "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december",
    )  # fmt: skip
    names: dict[str, int] = {}
    for lang in FOREIGN_LANGUAGES:
        info = default_loader.get_locale(lang).info
        for number, key in enumerate(keys, 1):
            for name in info.get(key, []):
                names.setdefault(name.casefold().rstrip("."), number)
    return names


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
    for parse in (
        _parse_numeric,
        _parse_iso,
        _parse_rfc822,
        _parse_rfc822_foreign,
        _parse_feedparser,
        _parse_dateutil,
        _parse_dateparser,
    ):
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
    for pattern in (_ROC_WORD, _CJK, _ROC_BARE, _ISO, _YMD, _ROC_NUM, _DMY, _ENGLISH):
        candidates.extend((m.start(), m.group(0)) for m in pattern.finditer(s))
    for _, found in sorted(candidates, key=lambda c: c[0]):
        dt = parse_date(found, tz=tz, dayfirst=dayfirst, now=now)
        if dt is not None:
            return dt
    return None


def parse_epoch(value: object, *, now: datetime | None = None) -> datetime | None:
    """An epoch number (seconds, or milliseconds when that large) as a plausible UTC datetime.

    Takes ints, floats and all-digit strings (JSON-LD ``"datePublished": 1537818160``);
    booleans and anything else give None.
    """
    if isinstance(value, str) and re.fullmatch(r"\s*\d{9,13}(?:\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if value >= _EPOCH_MS else value
    try:
        dt = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return _plausible(dt, UTC, now)


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
    if (m := _ROC_BARE.fullmatch(s)) and int(m["y"]) in ROC_YEARS:
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


def _parse_rfc822_foreign(s: str, tz: tzinfo | None, dayfirst: bool) -> datetime | None:
    """RFC 822 with foreign day and month names: the month is translated, the weekday dropped."""
    m = _RFC822_ANY.match(s)
    if m is None or (month := _month_numbers().get(m["mon"].casefold())) is None:
        return None
    english = f"{m['d']} {_ENGLISH_MONTHS[month - 1]} {m['y']}{m['rest']}"
    return _parse_rfc822(english, tz, dayfirst) or _parse_dateutil(english, tz, dayfirst)


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


def _parse_dateparser(s: str, tz: tzinfo | None, dayfirst: bool) -> datetime | None:
    """Other written-out dates (``lundi 3 février 2020 14:00``); a day, month and year needed."""
    if len(s) > _MAX_DATEPARSER_LEN or not _FOUR_DIGIT_YEAR.search(s) or s.isascii():
        return None
    import dateparser

    return dateparser.parse(
        s,
        languages=list(FOREIGN_LANGUAGES),
        settings={**_DATEPARSER_SETTINGS, "DATE_ORDER": "DMY" if dayfirst else "YMD"},
    )
