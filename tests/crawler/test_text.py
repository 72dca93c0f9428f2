from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crawler.text import html_to_text, normalize_text


def test_normalize_controls_whitespace_no_folding() -> None:
    # Stored text stays as published: no NFKC (full-width letters and punctuation survive).
    assert normalize_text("ＡＢＣ\u200b  x\x00y\t\n z\u00ad") == "ＡＢＣ xy z"
    assert (
        normalize_text("經濟部與美國簽署備忘錄，涵蓋專利授權！")
        == "經濟部與美國簽署備忘錄，涵蓋專利授權！"
    )
    assert normalize_text("台灣　新聞 \xa0 x\xa0y") == "台灣\u3000新聞 x y"
    assert normalize_text("ﬁnance ①") == "ﬁnance ①"
    assert normalize_text(None) == ""
    assert normalize_text("a\r\n\r\n\r\n\nb  c\n", keep_paragraphs=True) == "a\n\nb c"


def test_html_to_text_paragraphs_and_drops() -> None:
    html = (
        "<p>Hello <b>world</b></p><p>Second&nbsp;para<br>line2</p>"
        "<script>alert(1)</script><style>p{}</style><!-- hidden -->tail &amp; more"
    )
    assert html_to_text(html) == "Hello world\n\nSecond para\nline2\n\ntail & more"
    assert html_to_text("<p>備忘錄，<b>涵蓋</b>（專利）</p>") == "備忘錄，涵蓋（專利）"


def test_html_to_text_plain_and_broken() -> None:
    assert html_to_text("5 < 6 and 7 > 3") == "5 < 6 and 7 > 3"
    assert html_to_text("") == ""
    assert html_to_text("\x00<p>a</p>") == "a"
    assert html_to_text(b"<div>caf\xc3\xa9</div>") == "café"
    assert html_to_text("<p>unclosed <i>tags") == "unclosed tags"


def test_html_to_text_deep_nesting_and_size() -> None:
    # libxml2 caps nesting depth; hostile nesting degrades to less text, never an error
    deep = "<div>" * 50_000 + "x" + "</div>" * 50_000
    assert isinstance(html_to_text(deep), str)
    assert html_to_text("<div>" * 100 + "x" + "</div>" * 100) == "x"
    assert len(html_to_text("<p>" + "a " * 3_000_000)) <= 4_000_000


@given(st.text())
def test_normalize_idempotent(s: str) -> None:
    once = normalize_text(s)
    assert normalize_text(once) == once


@given(st.text(max_size=300))
def test_html_to_text_never_raises(s: str) -> None:
    assert isinstance(html_to_text(s), str)
