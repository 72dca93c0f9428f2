"""A table of English / Chinese cases for the shipped example watchlist."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.matcher import Document, Matcher
from alerts.watchlists import Watchlist
from tests.alerts.test_matcher import EXAMPLE, STORY_EN, STORY_ZH


def _strict() -> dict[str, Any]:
    groups = dict(EXAMPLE["groups"])
    groups["us"] = ["=US", "U.S.", "United States", "American", "美國", "美方"]
    return {**EXAMPLE, "name": "strict", "groups": groups}


ENGINES = {
    "example": Matcher.compile([Watchlist(**EXAMPLE)]),
    "strict": Matcher.compile([Watchlist(**_strict())]),
}

# (variant, title, body, expected)
CASES: list[tuple[str, str, str, bool]] = [
    # the real stories
    ("example", STORY_EN.title, STORY_EN.body, True),
    ("example", STORY_ZH.title, STORY_ZH.body, True),
    # Traditional / Simplified / mixed
    ("example", "", "台湾与美国签署合作备忘录", True),
    ("example", "", "臺灣與美国簽署合作备忘录", True),
    ("example", "", "台灣與美國簽署合作備忘錄", True),
    ("example", "", "台湾与美方签署技术授权协议", True),
    ("example", "", "臺灣與美方簽訂備忘錄", True),
    ("example", "", "臺灣積體電路與美國企業簽署專利授權", True),
    ("example", "", "台湾与美国签署专利授权合约", True),
    ("example", "", "「台灣」與「美國」簽「合作備忘錄」", True),
    # full-width and CJK next to Latin
    ("example", "", "ＴＡＩＷＡＮ and ＵＳ sign ＭＯＵ", True),
    ("example", "", "台灣與US簽署MOU", True),
    ("example", "", "臺灣用MOU與美方合作", True),
    ("example", "", "臺灣與ＵＳ簽署ＭＯＵ", True),
    ("example", "", "Taiwan與美國簽署MOUs", True),
    # English variants
    ("example", "", "Taiwan and the U.S. sign a memorandum of understanding", True),
    ("example", "", "United States and Taipei agree a licensing pact", True),
    ("example", "", "Taipei firm signs patent licensing deal with American chipmaker", True),
    ("example", "", "Taiwan's patent licensing pact with American firms", True),
    ("example", "", "Taiwan-US MOU on chips", True),
    ("example", "", "Taiwan/US MoU on chips", True),
    ("example", "", "Taiwan's MOEA, U.S. firms ink memoranda of understanding", True),
    ("example", "", "Taiwan and US sign MOUs", True),
    ("example", "Taiwan and US sign MOU", "a recipe for success", True),
    # near-misses: substrings of longer Latin words
    ("example", "", "Taiwan mountain resort for US tourists", False),
    ("example", "", "TAIWAN US MOUNTAIN", False),
    ("example", "", "Taiwanese ship to the US, a story of amour", False),
    ("example", "", "Taiwan users sign MOU", False),
    ("example", "", "TaiwanUS MOU", False),
    ("example", "", "Taiwan1 US MOU", False),
    ("example", "", "Taiwan bus MOU", False),
    # near-misses: a required group is missing
    ("example", "", "Thailand and US sign MOU", False),
    ("example", "", "Taiwan signs MOU with Japan", False),
    ("example", "", "Taiwan and US discuss trade", False),
    ("example", "", "台灣與日本簽署合作備忘錄", False),
    ("example", "", "台灣與美國討論關稅", False),
    ("example", "", "颱風襲擊台灣 美國發布備忘", False),
    ("example", "", "台北與美國簽署合作備忘錄", False),  # 台北 is not a term
    ("example", "", "台灣與美國簽署授權", False),
    # exclude
    ("example", "Taiwanese cuisine festival: a recipe for US-Taiwan MOU?", "", False),
    ("example", "", "Taiwan and US firms sign MOU at a job fair", False),
    ("example", "", "Taiwan and US firms sign MOU at a Job  Fair", True),  # phrase spacing
    ("example", "Taiwanese cuisine festival", "US and Taiwan chefs sign MOU", True),
    # the pronoun "us": a precision problem of plain US, fixed by "=US"
    ("example", "", "Taiwanese firms tell us about the MOU", True),
    ("strict", "", "Taiwanese firms tell us about the MOU", False),
    ("strict", "", "Taiwan and the US sign MOU", True),
    ("strict", "", "Taiwan and the ＵＳ sign ＭＯＵ", True),
    ("strict", "", "台灣與US簽署MOU", True),
    ("strict", "", "Taiwan and the Us sign MOU", False),
    ("strict", "", "Taiwan and the U.S. sign MOU", True),
]


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("variant", "title", "text", "expected"), CASES)
def test_bilingual(variant: str, title: str, text: str, expected: bool) -> None:
    doc = Document(title=title, summary="", body=text)
    assert bool(ENGINES[variant].match(doc)) is expected
