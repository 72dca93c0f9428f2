from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.dates import find_date_in_text, parse_date, parse_epoch

TAIPEI = ZoneInfo("Asia/Taipei")
NOW = datetime(2026, 3, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 17 Feb 2026 10:37:09 GMT", datetime(2026, 2, 17, 10, 37, 9, tzinfo=UTC)),
        ("Tue, 17 Feb 2026 10:37:09 EST", datetime(2026, 2, 17, 15, 37, 9, tzinfo=UTC)),
        ("Tue, 17 Feb 2026 10:37:09 -0500", datetime(2026, 2, 17, 15, 37, 9, tzinfo=UTC)),
        ("Thu, 09 Feb 2006 16:59:45 pDt", datetime(2006, 2, 9, 23, 59, 45, tzinfo=UTC)),
        ("2026-02-17T10:37:09-0500", datetime(2026, 2, 17, 15, 37, 9, tzinfo=UTC)),
        ("2026-02-17T10:37:09+05:30", datetime(2026, 2, 17, 5, 7, 9, tzinfo=UTC)),
        ("2026-02-17T10:37:09.123456789Z", datetime(2026, 2, 17, 10, 37, 9, 123456, tzinfo=UTC)),
        ("2026/02/17", datetime(2026, 2, 17, tzinfo=UTC)),
        ("2026.02.17", datetime(2026, 2, 17, tzinfo=UTC)),
        ("2026年2月17日", datetime(2026, 2, 17, tzinfo=UTC)),
        ("115-03-19", datetime(2026, 3, 19, tzinfo=UTC)),
        ("115/03/19", datetime(2026, 3, 19, tzinfo=UTC)),
        ("民國115年3月19日", datetime(2026, 3, 19, tzinfo=UTC)),
        ("民国115年3月19日 14:30", datetime(2026, 3, 19, 14, 30, tzinfo=UTC)),
        ("Feb 17, 2026", datetime(2026, 2, 17, tzinfo=UTC)),
        ("02/17/2026", datetime(2026, 2, 17, tzinfo=UTC)),
    ],
)
def test_parse_date_formats(text: str, expected: datetime) -> None:
    assert parse_date(text, now=NOW) == expected


def test_naive_dates_take_source_zone() -> None:
    assert parse_date("115-03-19", tz=TAIPEI, now=NOW) == datetime(2026, 3, 18, 16, tzinfo=UTC)
    assert parse_date("2026-03-19 08:00", tz=TAIPEI, now=NOW) == datetime(2026, 3, 19, tzinfo=UTC)
    # an explicit zone wins over the source zone
    assert parse_date("2026-03-19T08:00Z", tz=TAIPEI, now=NOW) == datetime(
        2026, 3, 19, 8, tzinfo=UTC
    )


def test_dayfirst() -> None:
    assert parse_date("03/04/2025", now=NOW) == datetime(2025, 3, 4, tzinfo=UTC)
    assert parse_date("03/04/2025", dayfirst=True, now=NOW) == datetime(2025, 4, 3, tzinfo=UTC)
    # day-first reading of 03/04/2026 is 3 April, more than two days after NOW
    assert parse_date("03/04/2026", dayfirst=True, now=NOW) is None
    assert parse_date("17/02/2026", now=NOW) == datetime(2026, 2, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "2999-01-01",
        "1980-01-01",
        "2026-03-25",
        "Sun, 09 Feb 1806 23:59:45 +0000",
        "5",
    ],
)
def test_rejects_absurd_or_garbage(text: str) -> None:
    assert parse_date(text, now=NOW) is None


def test_find_date_in_text() -> None:
    assert find_date_in_text("Publish Date : 2026-03-10 | Ministry", now=NOW) == datetime(
        2026, 3, 10, tzinfo=UTC
    )
    assert find_date_in_text("發布日期：115-03-19 部長", TAIPEI, now=NOW) == datetime(
        2026, 3, 18, 16, tzinfo=UTC
    )
    assert find_date_in_text("Posted March 3, 2026 by staff", now=NOW) == datetime(
        2026, 3, 3, tzinfo=UTC
    )
    assert find_date_in_text("v1.2.3 updated 12.5.2025", dayfirst=True, now=NOW) == datetime(
        2025, 5, 12, tzinfo=UTC
    )
    assert find_date_in_text("no date here 12345", now=NOW) is None


@given(st.text(max_size=200))
def test_parse_date_total(s: str) -> None:
    dt = parse_date(s, now=NOW)
    assert dt is None or (dt.tzinfo is UTC and datetime(1990, 1, 1, tzinfo=UTC) <= dt)
    assert dt is None or dt <= NOW + timedelta(days=2)


@given(st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2026, 3, 1)))
def test_iso_roundtrip(dt: datetime) -> None:
    aware = dt.replace(tzinfo=UTC, microsecond=0)
    assert parse_date(aware.isoformat(), now=NOW) == aware
    assert parse_date(aware.strftime("%a, %d %b %Y %H:%M:%S GMT"), now=NOW) == aware


@given(st.text(max_size=300))
def test_find_date_in_text_total(s: str) -> None:
    find_date_in_text(s, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Brazilian, Spanish, French, German, Italian and Dutch feeds' pubDate
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("Sáb, 06 Dez 2025 08:00:00 -0300", datetime(2025, 12, 6, 11, tzinfo=UTC)),
        ("Mar, 02 Oct 2018 10:00:00 +0100", datetime(2018, 10, 2, 9, tzinfo=UTC)),
        ("Mié, 03 Ene 2018 10:00:00 +0100", datetime(2018, 1, 3, 9, tzinfo=UTC)),
        ("mer., 03 oct. 2018 10:00:00 +0200", datetime(2018, 10, 3, 8, tzinfo=UTC)),
        ("Di, 02 Okt 2018 10:00:00 +0200", datetime(2018, 10, 2, 8, tzinfo=UTC)),
        ("Do, 15 Mär 2018 10:00:00 GMT", datetime(2018, 3, 15, 10, tzinfo=UTC)),
        ("Gio, 04 Ott 2018 10:00:00 +0200", datetime(2018, 10, 4, 8, tzinfo=UTC)),
        ("wo, 03 mei 2023 10:00:00 +0200", datetime(2023, 5, 3, 8, tzinfo=UTC)),
        ("24 Set 2018", datetime(2018, 9, 24, tzinfo=UTC)),
        # written-out dates in page metadata
        ("lundi 3 février 2020 14:00", datetime(2020, 2, 3, 14, tzinfo=UTC)),
        ("3 de março de 2024", datetime(2024, 3, 3, tzinfo=UTC)),
        ("Mittwoch, 3. März 2021 10:00", datetime(2021, 3, 3, 10, tzinfo=UTC)),
        # ROC years without 民國 (Taiwan government pages), and with 中華民國
        ("115年3月16日", datetime(2026, 3, 16, tzinfo=UTC)),
        ("115 年 3 月 16 日 14:30", datetime(2026, 3, 16, 14, 30, tzinfo=UTC)),
        ("99年12月31日", datetime(2010, 12, 31, tzinfo=UTC)),
        ("中華民國115年3月16日", datetime(2026, 3, 16, tzinfo=UTC)),
        # single-digit month and day with dashes (Chinese portals)
        ("2021-1-29 13:18", datetime(2021, 1, 29, 13, 18, tzinfo=UTC)),
    ],
)
def test_parse_date_foreign_and_roc(text: str, expected: datetime) -> None:
    assert parse_date(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text",
    [
        "15年3月16日",  # 2015 abbreviated, or an age: never ROC 15 (1926)
        "200年3月16日",  # outside the plausible ROC range
        "3 days ago",
        "il y a 3 jours",
        "Mai 2018",  # no day
        "Seg, 24 Xyz 2018 19:42:40 -0300",
    ],
)
def test_parse_date_rejects_implausible_foreign_and_roc(text: str) -> None:
    assert parse_date(text, now=NOW) is None


def test_find_date_in_text_reads_bare_roc_years() -> None:
    assert find_date_in_text("公告日期：115年3月16日 經濟部", TAIPEI, now=NOW) == datetime(
        2026, 3, 15, 16, tzinfo=UTC
    )
    # "成立15年" is an age, and the 3月16日 after it no ROC date
    assert find_date_in_text("本會成立15年3月16日舉辦", TAIPEI, now=NOW) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1537818160, datetime(2018, 9, 24, 19, 42, 40, tzinfo=UTC)),
        (1537818160123, datetime(2018, 9, 24, 19, 42, 40, 123000, tzinfo=UTC)),
        ("1537818160", datetime(2018, 9, 24, 19, 42, 40, tzinfo=UTC)),
        (1537818160.5, datetime(2018, 9, 24, 19, 42, 40, 500000, tzinfo=UTC)),
        (True, None),
        (5, None),  # 1970
        (99999999999999, None),  # far future
        ("2018", None),
        (None, None),
    ],
)
def test_parse_epoch(value: object, expected: datetime | None) -> None:
    assert parse_epoch(value, now=NOW) == expected
