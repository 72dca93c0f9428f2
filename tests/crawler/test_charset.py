"""The one order of evidence for feed and page bytes (crawler.charset), and its two users."""

from __future__ import annotations

import codecs

import pytest

from crawler.charset import decode
from crawler.extract import decode_html
from crawler.parse import decode_xml

PT = "Pesquisa: simulações de 2º turno, à presidência"
TW = "經濟部與美國企業簽署合作備忘錄，涵蓋專利授權"


@pytest.mark.parametrize(
    ("body", "kwargs", "text", "evidence"),
    [
        # A BOM beats everything said about the bytes.
        (TW.encode("utf-16-le"), {"bom": "utf-16-le", "http": "big5"}, TW, "bom"),
        # The HTTP charset decides when the bytes decode cleanly under it...
        (TW.encode("big5"), {"http": "big5", "declared": "utf-8"}, TW, "http"),
        # ... and is overruled when they do not, or when they are UTF-8 all along.
        (TW.encode("big5"), {"http": "utf-8", "declared": "big5"}, TW, "declaration"),
        (TW.encode(), {"http": "gb2312", "declared": "gb2312"}, TW, "utf-8"),
        (PT.encode(), {"declared": "iso-8859-1"}, PT, "utf-8"),
        # Undeclared Latin-1 is windows-1252, never a detector's cp1257 guess.
        (PT.encode("latin-1"), {}, PT, "latin"),
        ("“Tarifa” – café".encode("cp1252"), {"declared": "utf-8"}, "“Tarifa” – café", "latin"),
        # An ISO-8859-1 label reads windows-1252's quotes (WHATWG), not C1 controls.
        ("don’t".encode("cp1252"), {"declared": "iso-8859-1"}, "don’t", "declaration"),
        # Undeclared CJK bytes: not Latin-looking, so the detector decides.
        (TW.encode("big5"), {}, TW, "detector"),
    ],
)
def test_order_of_evidence(body: bytes, kwargs: dict[str, str], text: str, evidence: str) -> None:
    decoded = decode(body, **kwargs)
    assert (decoded.text, decoded.evidence) == (text, evidence)


def test_problems_are_reported() -> None:
    assert decode(PT.encode()).problem is None
    assert "no encoding declared" in (decode(PT.encode("latin-1")).problem or "")
    lied = decode(TW.encode(), declared="gb2312")
    assert lied.problem and "the bytes are UTF-8" in lied.problem
    unknown = decode(b"plain", declared="x-unheard-of")
    assert unknown.text == "plain" and "unknown encoding" in (unknown.problem or "")


def test_bom_with_a_truncated_tail_keeps_the_text() -> None:
    # A UTF-16 page whose last code unit lost a byte (a stray trailing newline): the BOM is
    # conclusive, so the page reads as UTF-16 with the damage noted, never as UTF-8 with NULs.
    page = "\ufeff<html><title>Feeds</title></html>\n".encode("utf-16-le") + b"\n"
    assert "<title>Feeds</title>" in decode_html(page)
    decoded = decode(page[2:], bom="utf-16-le")
    assert decoded.evidence == "bom" and "replaced" in (decoded.problem or "")


def test_feed_without_declaration_or_charset() -> None:
    body = f"<rss><channel><title>{PT}</title></channel></rss>".encode("latin-1")
    for content_type in (None, "application/rss+xml", "text/xml"):
        text, encoding, problem = decode_xml(body, content_type)
        assert PT in text and codecs.lookup(encoding or "").name == "cp1252", content_type
        assert problem


def test_page_utf8_despite_gb2312_meta() -> None:
    html = f'<html><head><meta charset="gb2312"><title>x</title></head><body><p>{TW}</p>'
    assert TW in decode_html(html.encode())
    assert TW in decode_html(html.encode("gb18030"))  # the meta is right: it decides
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    assert TW in decode_html(f"<html><head>{meta}</head><p>{TW}</p>".encode())
    assert PT in decode_html(f"<p>{PT}</p>".encode("latin-1"))
    assert PT in decode_html(f"<p>{PT}</p>".encode("latin-1"), "text/html; charset=ISO-8859-1")
    assert TW in decode_html(codecs.BOM_UTF8 + f"<p>{TW}</p>".encode(), "text/html; charset=big5")
