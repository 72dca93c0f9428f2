"""The try-out's prefilter never drops an article the matcher would accept."""

from __future__ import annotations

import pytest

from alerts.matcher import Document
from alerts.prefilter import text_prefilter
from alerts.search import compile_query
from alerts.watchlists import Watchlist
from tests.alerts.test_search import TABLE


@pytest.mark.parametrize(("query", "title", "body", "found"), TABLE)
def test_prefilter_never_drops_a_match(query: str, title: str, body: str, found: bool) -> None:
    wl = compile_query(query)
    prefilter = text_prefilter(wl)
    if found and prefilter is not None:
        assert prefilter(f"{title}\n\n{body}")


def test_prefilter_narrows_watchlists() -> None:
    wl = Watchlist(
        name="w",
        groups={"tw": ["Taiwan", "臺灣"], "mou": ["memoranda of understanding", "=MOU"]},
        match="tw AND mou",
    )
    test = text_prefilter(wl)
    assert test is not None
    assert test("台湾\n\nthree Memoranda\nof Understanding")
    assert not test("Taiwan\n\nnothing else")
    assert text_prefilter(Watchlist(name="n", groups={"x": ["a"]}, match="NOT x")) is None


def test_prefilter_passes_every_bilingual_match() -> None:
    from tests.alerts.test_bilingual import CASES, ENGINES
    from tests.alerts.test_matcher import EXAMPLE

    prefilter = text_prefilter(Watchlist(**EXAMPLE))
    assert prefilter is not None
    for variant, title, body, expected in CASES:
        if variant == "example" and expected:
            assert ENGINES["example"].match(Document(title, "", body))
            assert prefilter(f"{title}\n\n{body}"), (title, body)
    assert not prefilter("\n\n颱風襲擊日本")
