"""Every file of the feed corpus goes through parse_feed / parse_sitemap without escaping.

The corpus is required in CI: without it every case here fails there (locally: skips),
instead of the parametrisation silently shrinking to nothing.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from crawler.parse import FeedError, FeedResult, decode_xml, parse_feed, parse_sitemap
from crawler.text import html_to_text, normalize_text
from tests.conftest import _corpus_dir

FEEDS = _corpus_dir() / "feeds"
# Without the corpus, one placeholder case per test asks for the corpus_dir fixture, which
# fails in CI and skips elsewhere.
MISSING = Path("corpus-missing")
FILES = sorted(p for p in FEEDS.rglob("*") if p.is_file()) if FEEDS.is_dir() else [MISSING]
FEEDPARSER_TESTS = FEEDS / "kurtmckee-feedparser" / "tests"
# Our Expect-compatible subset: decoding, entities and ill-formed documents.
EXPECT_DIRS = ("encoding", "entities", "illformed", "wellformed/xml")
# Known, intended differences from feedparser (see the comment on each).
EXPECT_DIFFERENT = {
    # Undecodable bytes that are not Latin-looking (runs of three high bytes): the detector
    # reads them as another legacy code page than feedparser's windows-1252 fallback; both
    # are guesses for line noise.
    "encoding/bozo_linenoise.xml",
}
# Expectations about things our result deliberately does not carry (checked by name, so a
# new expectation we cannot evaluate fails instead of hiding as a skip).
EXPECT_OUTSIDE_API = {
    "encoding/bozo_http_i18n.xml": "feedparser's exception classes are not part of a result",
    "encoding/euc-kr-attribute.xml": "attribute values in summary markup: summaries are text",
    "illformed/geo/georss_point_no_coords.xml": "GeoRSS is not read",
    "illformed/geo/georss_polygon_insufficient_coords.xml": "GeoRSS is not read",
    "illformed/geo/gml_point.xml": "GeoRSS is not read",
}
_HEADER = re.compile(rb"Header:\s*Content-type:\s*([^\r\n]*)", re.IGNORECASE)
_EXPECT = re.compile(rb"Expect:\s*([^\r\n]*)")


def _content_type(body: bytes) -> str | None:
    m = _HEADER.search(body[:3000])
    return m.group(1).decode("latin-1").strip() if m else None


def _is_sitemap(path: Path) -> bool:
    return "sitemap" in path.name


def _ident(path: Path) -> str:
    return str(path.relative_to(FEEDS)) if path != MISSING else str(MISSING)


def parse_any(path: Path) -> Any:
    body = path.read_bytes()
    if _is_sitemap(path):
        return parse_sitemap(body, url="http://example.com/sitemap.xml", source_id="t")
    return parse_feed(
        body, url="http://127.0.0.1:8097/feed", source_id="t", content_type=_content_type(body)
    )


@pytest.mark.parametrize("path", FILES, ids=_ident)
def test_corpus_file_parses_or_is_rejected(corpus_dir: Path, path: Path) -> None:
    try:
        result = parse_any(path)
    except FeedError:
        # Only documents that are not feeds may be rejected.
        assert path.suffix in (".html", ".md", ".tsv", ".json") or "FirstEntry" in path.name
        return
    if isinstance(result, FeedResult):
        for entry in result.entries:
            assert entry.url == entry.url.strip()
            assert not entry.url or urlsplit(entry.url).scheme, entry.url  # resolved
            assert entry.published_at is None or entry.published_at.utcoffset().total_seconds() == 0


class _Enc(str):
    """An encoding name that equals any alias of the same codec."""

    def __eq__(self, other: object) -> bool:
        try:
            return codecs.lookup(str(self)).name == codecs.lookup(str(other)).name
        except LookupError:
            return str(self).lower() == str(other).lower()

    __hash__ = str.__hash__


class _Text(str):
    """Text compared after our cleanup (collapsed whitespace, no control characters)."""

    def __eq__(self, other: object) -> bool:
        return normalize_text(str(self)) == normalize_text(str(other))

    __hash__ = str.__hash__


class _Html(str):
    """Our text summary, equal to feedparser's HTML summary when that renders to it."""

    def __eq__(self, other: object) -> bool:
        return normalize_text(str(self)) == html_to_text(str(other))

    __hash__ = str.__hash__


class _Fields(dict[str, Any]):
    """Keys readable as attributes too, like feedparser's FeedParserDict."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def _namespace(result: FeedResult) -> dict[str, Any]:
    """What an ``Expect:`` expression may read: our result under feedparser's names."""
    entries = [
        _Fields(
            title=_Text(e.title),
            link=e.url,
            id=e.guid,
            summary=_Html(e.summary),
            description=_Html(e.summary),
        )
        for e in result.entries
    ]
    return {
        "bozo": result.bozo is not None,
        "encoding": _Enc(result.encoding or ""),
        "feed": _Fields(title=_Text(result.title), link=result.link),
        "entries": entries,
    }


def _expect_cases() -> list[Path]:
    if not FEEDPARSER_TESTS.is_dir():
        return [MISSING]
    return sorted(
        p
        for d in EXPECT_DIRS
        for p in (FEEDPARSER_TESTS / d).rglob("*.xml")
        if _EXPECT.search(p.read_bytes()[:3000])
    )


def _expect_id(path: Path) -> str:
    return str(path.relative_to(FEEDPARSER_TESTS)) if path != MISSING else str(MISSING)


@pytest.mark.parametrize("path", _expect_cases(), ids=_expect_id)
def test_feedparser_expectations(corpus_dir: Path, path: Path) -> None:
    """Evaluate feedparser's ``Expect:`` on our result; an error evaluating it is a failure."""
    rel = _expect_id(path)
    if rel in EXPECT_OUTSIDE_API:
        pytest.skip(f"outside our result: {EXPECT_OUTSIDE_API[rel]}")
    body = path.read_bytes()
    expr = _EXPECT.search(body[:3000]).group(1).decode("utf-8").strip()
    result = parse_feed(
        body, url="http://127.0.0.1:8097/feed", source_id="t", content_type=_content_type(body)
    )
    builtins = {"isinstance": isinstance, "ord": ord}
    ok = eval(expr, {"__builtins__": builtins}, _namespace(result))
    if rel in EXPECT_DIFFERENT:
        pytest.xfail("known, intended difference")
    assert ok, f"{expr!r} with bozo={result.bozo!r} encoding={result.encoding!r}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("big5.xml", "我希望"),
        ("gb2312.xml", "不归移民漫画系列：专业工作"),
        ("eucjp.xml", "ゲーム三昧な正月"),
        ("euckr.xml", "EUC-KR 에서 TypeKey 한글닉네임 표시하기"),
        ("shiftjis.xml", "DrecomRSSに記事投稿が反映されない…"),
        ("koi8r.xml", "Как пережить новогоднюю ночь"),
    ],
)
def test_undeclared_legacy_encodings(corpus_dir: Path, name: str, expected: str) -> None:
    body = (FEEDPARSER_TESTS / "illformed" / "chardet" / name).read_bytes()
    result = parse_feed(body, url="http://example.com/feed", source_id="t")
    assert result.bozo and "no encoding declared" in result.bozo
    text, _, _ = decode_xml(body)
    assert normalize_text(expected) in normalize_text(text)
    # The entries (no link, no guid: storage will count them as skipped) read the same.
    shown = " ".join(f"{e.title} {e.summary}" for e in result.entries)
    assert normalize_text(expected) in shown or normalize_text(expected) in result.title
    if name == "big5.xml":
        assert result.title.startswith("我希望") and "成中文" in result.title


def test_real_feeds_yield_dated_entries(corpus_dir: Path) -> None:
    bench = FEEDS / "kagisearch-fastfeedparser" / "benchmark_data"
    total = dated = 0
    for path in sorted(bench.glob("*.xml")):
        result = parse_feed(path.read_bytes(), url="http://example.com/feed", source_id="t")
        assert result.entries, path.name
        total += len(result.entries)
        dated += sum(e.published_at is not None for e in result.entries)
        assert all(e.url.startswith("http") for e in result.entries), path.name
    assert dated / total > 0.95


def test_broken_declaration_feed(corpus_dir: Path) -> None:
    path = next((FEEDS / "kagisearch-fastfeedparser" / "benchmark_data").glob("BROKEN_*"))
    result = parse_feed(path.read_bytes(), url="https://dylanharris.org/rss.xml", source_id="t")
    assert result.entries and result.bozo


def test_sitemaps(corpus_dir: Path) -> None:
    res = FEEDS / "adbar-trafilatura" / "tests" / "resources"
    plain = parse_sitemap((res / "sitemap.xml").read_bytes(), url="https://x/", source_id="t")
    gz = parse_sitemap((res / "sitemap.xml.gz").read_bytes(), url="https://x/", source_id="t")
    assert len(plain.entries) == 84 and [e.url for e in gz.entries] == [
        e.url for e in plain.entries
    ]
    assert plain.entries[0].published_at is not None
    index = parse_sitemap((res / "sitemap2.xml").read_bytes(), url="https://x/", source_id="t")
    assert index.sitemaps == [
        "http://www.example.com/sitemap1.xml.gz",
        "http://www.example.com/sitemap2.xml.gz",
    ]
    assert not index.entries
