"""Plain-text cleanup for titles, summaries and article bodies: what is stored and shown.

Stored text is what the source published, minus markup: no Unicode normalisation here
(NFKC would turn the full-width ``，`` of a Chinese title into ``,`` and compatibility
ideographs into others). Folding (NFKC, casefold, Chinese variants) belongs to match and
dedupe keys only (``crawler.folding``, ``crawler.shingles``). What is removed: control and
invisible characters and surrogates; whitespace collapses to single spaces (a lone
ideographic space ``\u3000`` stays as published).
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

# Inputs larger than this are cut before any parsing; nobody needs a 4 MB feed summary.
MAX_HTML_CHARS = 4_000_000

# Invisible characters worth dropping. ZWJ/ZWNJ are kept: they carry meaning in Indic,
# Persian and emoji sequences.
_INVISIBLE = {
    0x00AD,  # soft hyphen
    0x200B,  # zero width space
    0x200E,
    0x200F,  # LRM / RLM
    0x2060,  # word joiner
    0xFEFF,  # BOM / ZWNBSP
    *range(0x202A, 0x202F),  # bidi embeddings / overrides
    *range(0x2066, 0x206A),  # bidi isolates
}
_KEEP_CONTROLS = {"\t", "\n", "\r", "\x0b", "\x0c"}
_CONTROLS = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))
_DELETE_TABLE = {cp: None for cp in _INVISIBLE} | {
    cp: None for cp in _CONTROLS if chr(cp) not in _KEEP_CONTROLS
}
# The same deletions as one character class: a search that finds nothing costs far less
# than str.translate's per-character table lookups, and most text has nothing to delete.
_DELETE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_DELETE_TABLE)) + "]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# Runs of whitespace, and any single whitespace character but the ideographic space (a
# full-width character of CJK text, kept as published), become one space.
_HSPACE = re.compile(r"[^\S\n]{2,}|[^\S\n\u3000]")
_ANY_SPACE = re.compile(r"\s{2,}|[^\S\u3000]")
_BLANK_LINES = re.compile(r"\n{3,}")

_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "head",
    "title",
    "select",
    "button",
)
_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "caption", "dd", "details"),
        *("div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "hr", "html", "li", "main", "nav", "ol", "p"),
        *("pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr"),
        "ul",
    }
)
_LINE_TAGS = frozenset({"br"})


def normalize_text(s: str | None, *, keep_paragraphs: bool = False) -> str:
    """Drop control and invisible characters and collapse whitespace; no other change.

    With ``keep_paragraphs`` line breaks survive (runs of blank lines become one blank line);
    otherwise every run of whitespace becomes one space. The characters themselves are
    kept as published (full-width punctuation, compatibility characters, accents).
    """
    if not s:
        return ""
    s = _SURROGATES.sub("", s)
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    s = _DELETE.sub("", s)
    if not keep_paragraphs:
        return _ANY_SPACE.sub(" ", s).strip()
    lines = (_HSPACE.sub(" ", line).strip() for line in s.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str | bytes | None) -> str:
    """Convert an HTML fragment or document to plain text with paragraph breaks.

    Scripts, styles and other non-content elements are dropped; block elements become
    paragraph breaks and ``<br>`` a line break. Never raises for malformed markup.
    """
    if not html:
        return ""
    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    html = html[:MAX_HTML_CHARS]
    if "<" not in html and "&" not in html:
        return normalize_text(html, keep_paragraphs=True)
    # NUL and other C0 controls make libxml2 truncate or reject the input.
    html = _DELETE.sub("", html)
    parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div", parser=parser)
    except (etree.ParserError, ValueError):
        return normalize_text(html, keep_paragraphs=True)
    etree.strip_elements(root, *_DROP_TAGS, with_tail=False)
    parts: list[str] = []
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _BLOCK_TAGS:
                parts.append("\n\n")
            elif tag in _LINE_TAGS:
                parts.append("\n")
            if el.text and tag:
                parts.append(el.text)
        else:
            if tag in _BLOCK_TAGS:
                parts.append("\n\n")
            if el.tail and el is not root:
                parts.append(el.tail)
    return normalize_text("".join(parts), keep_paragraphs=True)
