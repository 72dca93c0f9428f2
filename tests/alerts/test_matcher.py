"""The compiled watchlist engine: semantics, offsets, snippets, regexes, filters."""

from __future__ import annotations

import re
from typing import Any

import pytest

from alerts.matcher import Document, Matcher, WatchlistMatch, _Regex
from alerts.query import QuerySyntaxError
from alerts.regex_terms import required_literal
from alerts.watchlists import RegexTerm, Watchlist
from crawler.folding import fold

EXAMPLE = {
    "name": "taiwan-us-ip",
    "groups": {
        "taiwan": ["Taiwan", "Taiwanese", "台灣", "臺灣", "Taipei"],
        "mou": [
            "MOU",
            "MOUs",
            "memorandum of understanding",
            "memoranda of understanding",
            "合作備忘錄",
            "備忘錄",
        ],
        "licensing": ["patent licensing", "licensing pact", "專利授權", "技術授權"],
        "us": ["US", "U.S.", "United States", "American", "美國", "美方"],
    },
    "match": "taiwan AND (mou OR licensing) AND us",
    "exclude": '"job fair" OR title:"recipe"',
}

STORY_EN = Document(
    title="Taiwan moving to deepen high-tech cooperation with US",
    summary="",
    body=(
        "Taiwan is moving to deepen high-tech cooperation with the US, as a delegation "
        "organized by Taiwan's Ministry of Economic Affairs (MOEA) had signed six memoranda "
        "of understanding with companies including Microsoft, Boeing and Micron. The deals "
        "cover long-term procurement and patent licensing pacts, the ministry said."
    ),
)
STORY_ZH = Document(
    title="臺美深化高科技合作 經濟部率團赴美簽署6項合作備忘錄",
    summary="",
    body=(
        "為深化臺灣與美國高科技產業合作，經濟部產業發展署率團赴美，與美國微軟、波音、"
        "美光等企業簽署6項合作備忘錄，內容涵蓋長期採購與專利授權，"
        "預計將帶動國內供應鏈參與美方供應體系。"
    ),
)


def wl(**kwargs: Any) -> Watchlist:
    data: dict[str, Any] = {"name": "w", "match": "a"}
    data.update(kwargs)
    return Watchlist(**data)


def names(engine: Matcher, doc: Document) -> list[str]:
    return [m.watchlist for m in engine.match(doc)]


def body(text: str) -> Document:
    return Document(title="", summary="", body=text)


@pytest.fixture(scope="module")
def example() -> Matcher:
    return Matcher.compile([Watchlist(**EXAMPLE)])


def test_example_fires_on_english_story(example: Matcher) -> None:
    [match] = example.match(STORY_EN)
    assert match.watchlist == "taiwan-us-ip"
    groups = {h.group for h in match.hits}
    assert groups == {"taiwan", "mou", "licensing", "us"}
    for hit in match.hits:
        text = getattr(STORY_EN, hit.field)[hit.start : hit.end]
        assert fold(text).text == fold(hit.term).text


def test_example_fires_on_chinese_story(example: Matcher) -> None:
    [match] = example.match(STORY_ZH)
    terms = {(h.term, h.field) for h in match.hits}
    assert ("臺灣", "body") in terms  # the spelling used in the text wins over 台灣
    assert ("合作備忘錄", "title") in terms
    assert ("專利授權", "body") in terms
    for hit in match.hits:
        assert getattr(STORY_ZH, hit.field)[hit.start : hit.end] == hit.term


def test_example_exclude_drops_match(example: Matcher) -> None:
    doc = Document(
        title="Taiwanese recipe: US-style MOU cake",
        summary="Taiwan and US chefs sign an MOU",
        body="",
    )
    assert names(example, doc) == []
    job_fair = body("Taiwan and US firms sign MOU at a job fair in Taipei")
    assert names(example, job_fair) == []
    assert names(example, body("Taiwan and US firms sign MOU in Taipei")) == ["taiwan-us-ip"]


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("MOU", "climbing the mountain", False),
        ("MOU", "signed an MOU.", True),
        ("MOU", "signed MOUs", False),
        ("IP", "a container ship", False),
        ("IP", "IP rights", True),
        ("IP", "IP5 offices", False),
        ("US", "we use it", False),
        ("US", "by bus", False),
        ("US", "the U.S. and Taiwan", False),
        ("U.S.", "the U.S. and Taiwan", True),
        ("U.S.", "the U.S.-Taiwan deal", True),
        ("US", "US-Taiwan deal", True),
        ("US", "US$5 billion", True),
        ("Taiwan", "Taiwan's ministry", True),
        ("Taiwan", "Taiwan’s ministry", True),
        ("Taiwan", "Taiwanese firms", False),
        ("Taiwan", "(Taiwan)", True),
        ("patent licensing", "patent  licensing", False),
        ("patent licensing", "patent\nlicensing", True),
        ("patent licensing", "patent licensings", False),
        ("Straße", "STRASSE", True),
        ("file", "ﬁle", True),
        ("amour", "glamour", False),
        ("on", "café on", True),
    ],
)
def test_whole_word_latin_terms(term: str, text: str, expected: bool) -> None:
    engine = Matcher.compile([wl(groups={"a": [term]})])
    assert bool(engine.match(body(text))) is expected


def test_hit_offsets_point_into_original_text_when_folding_changes_length() -> None:
    engine = Matcher.compile([wl(groups={"a": ["strasse", "office"]})])
    doc = body("Die Stra\u00dfe: an o\ufb03ce, cafe\u0301 strasse")
    [match] = engine.match(doc)
    spans = [doc.body[h.start : h.end] for h in match.hits]
    assert spans == ["Stra\u00dfe", "o\ufb03ce", "strasse"]


def test_case_sensitive_terms() -> None:
    engine = Matcher.compile(
        [
            wl(name="plain", groups={"a": ["US"]}),
            wl(name="exact", groups={"a": ["=US"]}),
            wl(name="phrase", groups={"a": ["x"]}, match='"=US" OR a'),
        ]
    )
    assert names(engine, body("Tell us more")) == ["plain"]
    assert names(engine, body("the US said")) == ["plain", "exact", "phrase"]
    assert names(engine, body("the ＵＳ said")) == ["plain", "exact", "phrase"]
    assert names(engine, body("the Us said")) == ["plain"]


def test_case_sensitive_and_insensitive_share_a_key() -> None:
    engine = Matcher.compile([wl(name="both", groups={"a": ["=IP"], "b": ["ip"]}, match="a AND b")])
    assert names(engine, body("IP")) == ["both"]
    assert names(engine, body("ip")) == []


def test_source_filter() -> None:
    engine = Matcher.compile(
        [
            wl(name="all", groups={"a": ["patent"]}),
            wl(name="by-id", groups={"a": ["patent"]}, sources=["moea"]),
            wl(name="by-tag", groups={"a": ["patent"]}, sources=["gov-tw"]),
        ]
    )
    doc = body("patent news")
    assert names(engine, doc) == ["all"]
    tagged = Document("", "", "patent", source_id="moea", source_tags=("x",))
    assert names(engine, tagged) == ["all", "by-id"]
    assert names(engine, Document("", "", "patent", source_tags=["gov-tw"])) == [
        "all",
        "by-tag",
    ]


def test_disabled_watchlists_are_skipped() -> None:
    engine = Matcher.compile([wl(groups={"a": ["patent"]}, enabled=False)])
    assert engine.watchlists == []
    assert engine.match(body("patent")) == []


def test_field_scopes() -> None:
    engine = Matcher.compile(
        [
            wl(name="t", groups={"a": ["tariff"]}, match="title:a"),
            wl(name="s", groups={"a": ["tariff"]}, match="summary:a"),
            wl(name="b", groups={"a": ["tariff"], "b": ["steel"]}, match="body:(a AND b)"),
            wl(name="nb", groups={"a": ["tariff"]}, match="a AND NOT body:a"),
        ]
    )
    assert names(engine, Document("Tariff", "", "")) == ["t", "nb"]
    assert names(engine, Document("", "tariff", "steel")) == ["s", "nb"]
    assert names(engine, Document("", "", "steel tariff")) == ["b"]
    assert names(engine, Document("", "tariff", "steel tariff")) == ["s", "b"]


@pytest.mark.parametrize(
    ("text", "distance", "expected"),
    [
        ("Taiwan and the US", 2, True),
        ("Taiwan and the US", 1, False),
        ("US, Taiwan", 0, True),
        ("Taiwan—US", 0, True),
        ("Taiwan, one two three four five, US", 5, True),
        ("Taiwan, one two three four five, US", 4, False),
        ("台灣與美國", 1, True),  # one CJK character = half a word
        ("台灣今年與美國", 1, False),
        ("台灣今年與美國", 2, True),
        ("台灣今年與 US", 1, False),
        ("台灣今年與 US", 2, True),
    ],
)
def test_near_distances(text: str, distance: int, expected: bool) -> None:
    groups = {"tw": ["Taiwan", "台灣"], "us": ["US", "美國"]}
    engine = Matcher.compile([wl(groups=groups, match=f"tw NEAR/{distance} us")])
    assert bool(engine.match(body(text))) is expected


def test_near_needs_the_same_field() -> None:
    groups = {"tw": ["Taiwan"], "us": ["US"]}
    engine = Matcher.compile([wl(groups=groups, match="tw NEAR/3 us")])
    assert names(engine, Document("Taiwan", "", "US")) == []
    scoped = Matcher.compile([wl(groups=groups, match="tw NEAR/3 title:us")])
    assert names(scoped, Document("US", "", "Taiwan US")) == []
    assert names(scoped, Document("Taiwan US", "", "")) == ["w"]


def test_phrases_in_expressions() -> None:
    engine = Matcher.compile([wl(groups={"a": ["x"]}, match='"section 301" AND NOT "合作備忘錄"')])
    assert names(engine, body("Section 301 tariffs")) == ["w"]
    assert names(engine, body("Section 301 合作备忘录")) == []
    [match] = engine.match(body("a SECTION 301 probe"))
    assert match.hits[0].group is None
    assert match.hits[0].term == "section 301"


def test_regex_terms_and_prefilter() -> None:
    patent = RegexTerm(regex=r"US\s*\d{7}")
    engine = Matcher.compile([wl(groups={"a": [patent]}, match="a")])
    assert names(engine, body("see us 1234567 and more")) == ["w"]
    assert names(engine, body("see US1234567")) == ["w"]
    assert names(engine, body("see 1234567")) == []
    [match] = engine.match(body("see US 1234567"))
    assert match.hits[0].term == r"US\s*\d{7}"
    assert (match.hits[0].start, match.hits[0].end) == (4, 14)


def test_regex_cjk_characters_are_folded() -> None:
    engine = Matcher.compile([wl(groups={"a": [RegexTerm(regex="臺灣.{0,3}專利")]})])
    assert names(engine, body("台湾新专利")) == ["w"]


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"US\s*\d{7}", "us"),
        (r"patent(?:s)?\s+no\.", "patent"),
        (r"(?:patent|trademark)s?", None),
        (r"a|b", None),
        (r"\d+", None),
        ("專利.{0,3}授權", "專利"),
        (r"x(?i:abc)", None),
        # Python reads these differently from RE2 (or not at all): no prefilter, never a wrong one.
        ("ab[[:digit:]]cd", None),
        (r"\pL+xy", None),
        (r"ab\x{41}cd", None),
        ("(?i)ab(?-i)cd", None),
        ("x{,2}yz", "yz"),
    ],
)
def test_prefilter_extraction(pattern: str, literal: str | None) -> None:
    assert required_literal(pattern) == literal


class _Counting:
    def __init__(self, pattern: str) -> None:
        self.inner = re.compile(pattern, re.IGNORECASE)
        self.calls = 0

    def finditer(self, text: str) -> Any:
        self.calls += 1
        return self.inner.finditer(text)


def test_regex_runs_only_when_the_outcome_depends_on_it() -> None:
    engine = Matcher.compile(
        [wl(groups={"r": [RegexTerm(regex=r"\d{7}")], "t": ["patent"]}, match="r AND t")]
    )
    counter = _Counting(r"\d{7}")
    engine._regexes[0] = _Regex(r"\d{7}", counter, None)  # type: ignore[arg-type]
    assert names(engine, body("nothing relevant 1234567")) == []
    assert counter.calls == 0
    assert names(engine, body("patent 1234567")) == ["w"]
    assert counter.calls == 3  # once per field


def test_watchlist_true_without_literals_is_always_evaluated() -> None:
    engine = Matcher.compile([wl(groups={"a": ["spam"]}, match="NOT a")])
    assert names(engine, body("anything")) == ["w"]
    assert names(engine, body("spam")) == []


def test_compile_errors_carry_position_and_watchlist() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        Matcher.compile([wl(name="bad", groups={"a": ["x"]}, match="a AND b")])
    assert info.value.position == 6
    assert any("'bad'" in note for note in info.value.__notes__)
    with pytest.raises(ValueError, match="empty term"):
        Matcher.compile([wl(groups={"a": ["="]})])


def test_output_order_follows_compile_order() -> None:
    lists = [wl(name=f"w{i}", groups={"a": ["tariff"]}) for i in (3, 1, 2)]
    assert names(Matcher.compile(lists), body("tariff")) == ["w3", "w1", "w2"]


def assert_highlights(match: WatchlistMatch) -> None:
    for a, b in match.highlights:
        assert 0 <= a < b <= len(match.snippet)
    pairs = list(zip(match.highlights, match.highlights[1:], strict=False))
    assert all(x[1] < y[0] for x, y in pairs), "highlights must not overlap or touch"


def test_snippet_highlights_point_into_snippet(example: Matcher) -> None:
    [match] = example.match(STORY_EN)
    assert_highlights(match)
    assert len(match.snippet) <= 205
    marked = [match.snippet[a:b] for a, b in match.highlights]
    assert "memoranda of understanding" in marked
    assert "Taiwan" in marked


def test_snippet_prefers_densest_window_and_collapses_whitespace() -> None:
    filler = "lorem ipsum dolor sit amet " * 20
    text = f"tariff news. {filler}\n\n tariff   on   steel and  tariff {filler}"
    engine = Matcher.compile([wl(groups={"a": ["tariff"], "b": ["steel"]}, match="a AND b")])
    [match] = engine.match(body(text))
    assert_highlights(match)
    assert "tariff on steel and tariff" in match.snippet
    assert match.snippet.startswith("…") and match.snippet.endswith("…")
    assert [match.snippet[a:b] for a, b in match.highlights] == ["tariff", "steel", "tariff"]
    assert "  " not in match.snippet


def test_overlapping_hits_merge_into_one_highlight() -> None:
    engine = Matcher.compile([wl(groups={"a": ["patent", "patent licensing", "licensing"]})])
    [match] = engine.match(body("new patent licensing pact"))
    assert len(match.hits) == 3
    assert [match.snippet[a:b] for a, b in match.highlights] == ["patent licensing"]


def test_snippet_from_title_when_only_title_hits() -> None:
    engine = Matcher.compile([wl(groups={"a": ["tariff"]})])
    [match] = engine.match(Document("New tariff rules", "summary text", "body text"))
    assert match.snippet == "New tariff rules"
    assert match.highlights == [(4, 10)]


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("臺灣", "台湾"),
        ("台灣", "台湾"),
        ("合作備忘錄", "合作备忘录"),
        ("專利授權", "专利授权"),
        ("ＭＯＵ　ｕｓ", "mou us"),
        ("Straße", "strasse"),
        ("U.S.\u00a0Trade\tRep", "u.s. trade rep"),
        ("裡裏里", "里里里"),
    ],
)
def test_folding(text: str, folded: str) -> None:
    assert fold(text).text == folded


def test_folding_keeps_offsets() -> None:
    plain = fold("ＭＯＵ 臺灣")
    assert plain.starts is None and plain.span(4, 6) == (4, 6)
    expanded = fold("ﬁ Straße")
    assert expanded.text == "fi strasse"
    assert expanded.span(0, 2) == (0, 1)
    assert expanded.span(3, 10) == (2, 8)


def test_regex_terms_run_on_re2_behind_their_prefilter() -> None:
    engine = Matcher.compile([wl(groups={"a": [RegexTerm(regex=r"US\s*\d{7}")]})])
    [rx] = engine._regexes
    assert type(rx.regex).__module__ == "re2" and rx.prefilter == "us"
    counter = _Counting(r"us\s*\d{7}")
    engine._regexes[0] = _Regex(rx.pattern, counter, rx.prefilter)  # type: ignore[arg-type]
    assert names(engine, body("patent 1234567 granted")) == []
    assert counter.calls == 0  # "us" is not in the text: the regex never ran
    assert names(engine, body("patent US 1234567 granted")) == ["w"]
    assert counter.calls == 3
