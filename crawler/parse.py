"""Feed and sitemap bytes -> :class:`~crawler.items.Entry` lists; pure and defensive.

``parse_feed`` never raises for a malformed feed: problems end up in ``FeedResult.bozo`` and
whatever entries could be recovered are returned. It raises :class:`FeedError` only when the
bytes are positively not a feed (an HTML page, a sitemap, plain text, unknown JSON), so the
caller can mark the source as misconfigured rather than "empty". ``open_feed`` is the same
as a stream: every entry comes out (no count cap), a large document in batches of
:data:`BATCH_ENTRIES` items, so memory follows the byte cap, not the item count.

Identity is left as published: an empty or blank link is no link (an http(s) guid stands in),
and guids are kept as written (feedparser is never told the feed's URL, so it cannot
resolve a relative ``<id>`` against it).

Safety measures, all before feedparser sees the document:

- the input is capped (:data:`MAX_FEED_BYTES`), gzip bodies are inflated with a bound;
- the DOCTYPE internal subset is removed: feedparser's loose parser expands entities without
  limit (a 106 KB "quadratic blowup" feed reaches hundreds of MB). Simple text entities are
  substituted by us within a size budget, so harmless feeds that define one still parse;
- the character encoding is decided here (:mod:`crawler.charset`: BOM, HTTP charset, a
  declaration the bytes satisfy, strict UTF-8, windows-1252 for Latin-looking bytes, then
  a detector), and feedparser receives UTF-8.
"""

from __future__ import annotations

import codecs
import html
import io
import json
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import feedparser
from feedparser.encodings import parse_content_type
from lxml import etree

from crawler import charset
from crawler.dates import parse_date
from crawler.feedsplit import Split, item_guid, split_items
from crawler.items import Entry
from crawler.reasons import duplicate_reason
from crawler.text import html_to_text, normalize_text
from crawler.urls import clean_href, entry_link, entry_source, unwrap_redirect

if TYPE_CHECKING:
    from crawler.normalize import Normalized

MAX_FEED_BYTES = 16 * 1024 * 1024
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit, uncompressed
MAX_SITEMAP_URLS = 50_000
ENTITY_BUDGET = 1024 * 1024  # characters our own entity substitution may add
MAX_TAGS = 50
BATCH_ENTRIES = 500  # entries per batch a feed is parsed and stored in

_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_UTF_FAMILY = {
    "u16",
    "utf-16",
    "utf16",
    "utf_16",
    "u32",
    "utf-32",
    "utf32",
    "utf_32",
    "iso-10646-ucs-2",
    "iso-10646-ucs-4",
    "csucs4",
    "csunicode",
    "ucs-2",
    "ucs-4",
}
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32be"),
    (codecs.BOM_UTF32_LE, "utf-32le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
)
# "<?xm" / "<" in encodings that are not ASCII compatible, per XML 1.0 appendix F.
_SNIFF = (
    (b"\x00\x00\x00\x3c", "utf-32be"),
    (b"\x3c\x00\x00\x00", "utf-32le"),
    (b"\x00\x3c\x00\x3f", "utf-16be"),
    (b"\x3c\x00\x3f\x00", "utf-16le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)
_XML_ENCODING = re.compile(r"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:()-]{1,40})["']""")
_XML_DECL = re.compile(r"<\?xml(?![\w.-]).*?\?>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_PI = re.compile(r"<\?.*?(?:\?>|$)", re.DOTALL)
_FIRST_ELEMENT = re.compile(r"<([A-Za-z_][\w:.-]*)")
_ENTITY_DECL = re.compile(
    r"""<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:"([^"<%&]*(?:&\#\w+;[^"<%&]*)*)"|'([^'<%&]*(?:&\#\w+;[^'<%&]*)*)')\s*>"""
)
_MAX_ENTITIES = 256
_RSS_PREFIX = re.compile(r"<(/?)rss:(?=[A-Za-z])")
_JSON_FEED_VERSION = re.compile(r"^1(?:\.\d+)?$")
_PUBLISHER_SEPARATORS = (" - ", " | ", " – ", " — ")
_TTL_PERIODS = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}


class FeedError(ValueError):
    """The bytes are not a feed at all (HTML page, sitemap, plain text ...)."""


@dataclass(slots=True)
class FeedResult:
    """What :func:`parse_feed` found."""

    entries: list[Entry]
    title: str = ""
    link: str | None = None
    encoding: str | None = None
    bozo: str | None = None
    ttl_minutes: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # entries left out, by reason


@dataclass(slots=True)
class SitemapResult:
    """Page entries of a urlset, or child sitemap URLs of a sitemap index."""

    entries: list[Entry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    bozo: str | None = None


# --------------------------------------------------------------------------- bytes -> text


def inflate(body: bytes, limit: int) -> bytes:
    """Gunzip ``body`` if it is gzip, refusing to inflate beyond ``limit`` bytes."""
    if body[:2] != b"\x1f\x8b":
        return body
    return b"".join(_inflate_chunks(body, limit))


def _inflate_chunks(body: bytes, limit: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Yield inflated chunks; raise FeedError once more than ``limit`` bytes come out."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data, total = body, 0
    try:
        while data and not inflater.eof:
            out = inflater.decompress(data, chunk)
            data = inflater.unconsumed_tail
            total += len(out)
            if total > limit:
                raise FeedError(f"gzip body inflates beyond {limit} bytes")
            if out:
                yield out
        tail = inflater.flush()
        if total + len(tail) > limit:
            raise FeedError(f"gzip body inflates beyond {limit} bytes")
        if tail:
            yield tail
    except zlib.error as exc:
        if total == 0:
            raise FeedError(f"corrupt gzip body: {exc}") from exc


def decode_xml(body: bytes, content_type: str | None = None) -> tuple[str, str | None, str | None]:
    """Decode XML bytes to text: returns ``(text, encoding, problem)``.

    The evidence is weighed by :func:`crawler.charset.decode`: BOM, HTTP charset, the XML
    declaration, strict UTF-8, windows-1252 for Latin-looking bytes, then a detector. The
    HTTP charset follows RFC 3023 as feedparser does: ``text/*`` without one means
    us-ascii (which loses to the declaration when the bytes are not ASCII). ``problem`` is
    a message when a declared encoding could not be used, nothing was declared for
    non-UTF-8 bytes, or the content type is not XML.
    """
    bom_enc = None
    for bom, name in _BOMS:
        if body.startswith(bom) and not (name.startswith("utf-16") and body[2:4] == b"\0\0"):
            bom_enc, body = name, body[len(bom) :]
            break
    else:
        for marker, name in _SNIFF:
            if body.startswith(marker):
                bom_enc = name
                break

    head = body[:1024]
    try:
        head_text = head.decode(bom_enc or "latin-1", "ignore")
    except LookupError:
        head_text = ""
    xml_enc = None
    if m := _XML_ENCODING.search(head_text):
        xml_enc = m.group(1).lower()
        if bom_enc and xml_enc in _UTF_FAMILY:
            xml_enc = bom_enc

    mime, http_enc = parse_content_type(content_type or "")
    mime = mime.lower()
    problem = None
    if mime.startswith("text/"):
        http_enc = http_enc or "us-ascii"
        if not mime.endswith("xml") and "xml-" not in mime:
            problem = f"{content_type} is not an XML media type"
    elif mime and not (mime.endswith("xml") or mime.endswith("-entity") or mime.endswith("-dtd")):
        problem = f"{content_type} is not an XML media type"
    decoded = charset.decode(body, bom=bom_enc, http=http_enc or None, declared=xml_enc)
    problems = [p for p in (problem, decoded.problem) if p]
    return decoded.text, decoded.encoding, "; ".join(problems) or None


# --------------------------------------------------------------------------- prolog hygiene


def _prolog_tokens(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(kind, start, end)`` for comments, PIs and DOCTYPEs before the first element.

    The last token is ``("element", i, i)`` at the first element, or ``("end", n, n)``.
    """
    pos, n = 0, len(text)
    while pos < n:
        lt = text.find("<", pos)
        if lt < 0:
            break
        if text.startswith("<!--", lt):
            end = text.find("-->", lt + 4)
            end = n if end < 0 else end + 3
            yield "comment", lt, end
        elif text.startswith("<?", lt):
            end = text.find("?>", lt + 2)
            end = n if end < 0 else end + 2
            yield "pi", lt, end
        elif text.startswith("<!", lt):
            end = _doctype_end(text, lt)
            yield "doctype", lt, end
        else:
            yield "element", lt, lt
            return
        pos = end
    yield "end", n, n


def _prolog_end(text: str) -> int:
    """Index of the first element's ``<`` (``len(text)`` if there is none)."""
    for _kind, start, _end in _prolog_tokens(text):
        last = start
    return last


def _doctype_end(text: str, start: int) -> int:
    """End index (exclusive) of a ``<!DOCTYPE ...>`` that may hold an internal subset."""
    i, n, quote, depth = start + 2, len(text), "", 0
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            i = n if end < 0 else end + 2
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth = max(depth - 1, 0)
        elif c == ">" and depth == 0:
            return i + 1
        i += 1
    return n


def sanitize_prolog(text: str) -> tuple[str, str | None]:
    """Replace XML declarations, drop the DOCTYPE internal subset, expand simple entities.

    Corrupt declarations (``<?xml?xml … ??>``) and declarations after comments are removed
    and one clean UTF-8 declaration is put first. Returns the new text and a note when
    entity substitution hit its budget.
    """
    kept: list[str] = []
    entities: dict[str, str] = {}
    start = len(text)
    for kind, begin, end in _prolog_tokens(text):
        if kind in ("element", "end"):
            start = begin
            break
        chunk = text[begin:end]
        if kind == "pi" and _XML_DECL.match(chunk):
            continue
        if kind == "doctype" and (bracket := chunk.find("[")) >= 0:
            for m in _ENTITY_DECL.finditer(chunk, bracket):
                if len(entities) >= _MAX_ENTITIES:
                    break
                value = m.group(2) if m.group(2) is not None else m.group(3)
                entities.setdefault(m.group(1), html.unescape(value))
            chunk = chunk[:bracket].rstrip() + ">"
        kept.append(chunk)
    rest = text[start:]
    note = None
    if entities:
        rest, note = _substitute_entities(rest, entities)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + "\n".join(kept) + "\n" + rest, note


def _substitute_entities(text: str, entities: dict[str, str]) -> tuple[str, str | None]:
    escaped = {k: html.escape(v, quote=True) for k, v in entities.items()}
    budget = ENTITY_BUDGET
    exhausted = False
    pattern = re.compile("&(" + "|".join(map(re.escape, escaped)) + ");")

    def repl(m: re.Match[str]) -> str:
        nonlocal budget, exhausted
        value = escaped[m.group(1)]
        if len(value) > budget:
            exhausted = True
            return m.group(0)
        budget -= len(value)
        return value

    text = pattern.sub(repl, text)
    return text, ("entity expansion budget exhausted" if exhausted else None)


# --------------------------------------------------------------------------- feeds


@dataclass(slots=True)
class FeedStream:
    """A decoded, checked feed whose entries are parsed lazily, a batch at a time.

    The feed's metadata is known when :func:`open_feed` returns. ``notes`` (problems) and
    ``skipped`` (entries left out, counted by reason) grow while :meth:`batches` is read.
    """

    title: str
    link: str | None
    encoding: str | None
    ttl_minutes: int | None
    notes: list[str]
    skipped: Counter[str]
    _batches: Iterator[list[Entry]]

    def batches(self) -> Iterator[list[Entry]]:
        """The entries, at most ``batch_size`` per list (read once)."""
        return self._batches

    @property
    def bozo(self) -> str | None:
        """The problems found so far, or None."""
        return "; ".join(dict.fromkeys(self.notes)) or None


@dataclass(frozen=True, slots=True)
class _EntryContext:
    base: str
    source_id: str
    tz: tzinfo | None
    language: str | None


def parse_feed(
    body: bytes,
    *,
    url: str,
    source_id: str,
    content_type: str | None = None,
    tz: tzinfo | None = None,
    language: str | None = None,
) -> FeedResult:
    """Parse RSS/Atom/RDF (or JSON Feed) bytes into all their entries.

    ``url`` is the feed's own URL (base for relative links), ``content_type`` the HTTP
    header if any, ``tz`` the zone for dates without one, ``language`` the default language.
    Raises :class:`FeedError` only when the bytes are not a feed at all. The collector uses
    :func:`open_feed` instead, which holds one batch of entries at a time.
    """
    stream = open_feed(
        body, url=url, source_id=source_id, content_type=content_type, tz=tz, language=language
    )
    entries = [entry for batch in stream.batches() for entry in batch]
    return FeedResult(
        entries=entries,
        title=stream.title,
        link=stream.link,
        encoding=stream.encoding,
        bozo=stream.bozo,
        ttl_minutes=stream.ttl_minutes,
        skipped=dict(stream.skipped),
    )


def open_feed(
    body: bytes,
    *,
    url: str,
    source_id: str,
    content_type: str | None = None,
    tz: tzinfo | None = None,
    language: str | None = None,
    batch_size: int = BATCH_ENTRIES,
    known_guids: Callable[[list[str]], set[str]] | None = None,
) -> FeedStream:
    """Decode and check a feed now; parse its entries lazily, ``batch_size`` at a time.

    Every entry is read: there is no count cap, only the byte cap (:data:`MAX_FEED_BYTES`,
    noted when it cuts). A large XML feed is cut into documents of ``batch_size`` items
    (:mod:`crawler.feedsplit`), so memory is bounded by the byte cap and the batch size,
    not by the item count. Every entry comes out, even one with neither link nor guid
    (storage counts it as skipped); ``skipped`` counts what was read but not handed out.

    ``known_guids`` (given a batch's plain guids, the ones the source has stored) lets a
    large feed skip parsing items already stored: they are counted in ``skipped`` as
    duplicates by guid, as storage would have. Raises :class:`FeedError` when the bytes
    are not a feed at all.
    """
    notes: list[str] = []
    truncated = len(body) > MAX_FEED_BYTES
    if truncated:
        body = body[:MAX_FEED_BYTES]
        notes.append(f"feed truncated to {MAX_FEED_BYTES} bytes; entries beyond it unread")
    body = inflate(body, MAX_FEED_BYTES)

    text, encoding, problem = decode_xml(body, content_type)
    del body
    if problem:
        notes.append(problem)
    if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
        return _open_json_feed(text, url, source_id, tz, language, notes, batch_size)
    start = _prolog_end(text)
    if start >= len(text):
        return _empty_or_not_a_feed(text, encoding, notes)
    root = _FIRST_ELEMENT.match(text, start)
    root_name = (root.group(1) if root else "").rsplit(":", 1)[-1].lower()
    if root_name in ("urlset", "sitemapindex"):
        raise FeedError("a sitemap, not a feed (use parse_sitemap)")

    text, note = sanitize_prolog(text)
    text = _repair_rss_prefix(text)
    if note:
        notes.append(note)
    split = split_items(text, partial=truncated) if text.count("<", start) > batch_size else None
    skipped: Counter[str] = Counter()
    parts = None
    if split is not None and len(split.spans) > batch_size:
        parts = _parts(text, split, batch_size, known_guids, skipped)
    parsed = _feedparser(next(parts) if parts else text, language, notes)
    feed = parsed.get("feed", {})
    if not parsed.get("version") and not parsed.get("entries") and not feed.get("title"):
        what = "an HTML page" if root_name in ("html", "head", "body") else f"<{root_name}>"
        raise FeedError(f"no RSS, Atom or RDF feed found in {what}")

    feed_link = _abs(url, feed.get("link"))
    context = _EntryContext(
        feed_link or url, source_id, tz, _lang(feed.get("language")) or _lang(language)
    )

    def batches() -> Iterator[list[Entry]]:
        yield from _batched(_entries(parsed.get("entries", []), context), batch_size)
        for part in parts or ():
            raw = _feedparser(part, language, notes).get("entries", [])
            yield from _batched(_entries(raw, context), batch_size)

    return FeedStream(
        title=_text_of(feed, "title"),
        link=feed_link,
        encoding=encoding,
        ttl_minutes=_ttl(feed),
        notes=notes,
        skipped=skipped,
        _batches=batches(),
    )


@dataclass(slots=True)
class FeedPart:
    """A batch of a feed's entries, with the problems (``notes``) and the entries left out
    (``skipped``, by reason) found while it was read: each reported in one part only."""

    entries: list[Entry]
    notes: list[str]
    skipped: dict[str, int]
    # The entries normalised and prepared for storage, when a parser process did it
    # (crawler.feed_job); None otherwise.
    normalized: list[Normalized | None] | None = None


def feed_parts(stream: FeedStream) -> Iterator[FeedPart]:
    """The parts of ``stream``, lazily: the first always (empty for an empty feed), one per
    further batch, and a last one without entries for problems found after the last entry."""
    batches = stream.batches()
    yield _take_part(stream, next(batches, []))
    for batch in batches:
        yield _take_part(stream, batch)
    if stream.notes or stream.skipped:
        yield _take_part(stream, [])


def _take_part(stream: FeedStream, entries: list[Entry]) -> FeedPart:
    part = FeedPart(entries, list(dict.fromkeys(stream.notes)), dict(stream.skipped))
    stream.notes.clear()
    stream.skipped.clear()
    return part


def read_feed(
    body: bytes, *, callback: Callable[[list[str]], set[str]] | None = None, **feed: Any
) -> list[FeedPart]:
    """Every part of the feed in ``body`` at once (what a parser process runs, see
    :mod:`crawler.parse_pool`): :func:`open_feed` with ``feed``'s arguments and
    ``callback`` as its ``known_guids``."""
    return list(feed_parts(open_feed(body, known_guids=callback, **feed)))


def _parts(
    text: str,
    split: Split,
    size: int,
    known_guids: Callable[[list[str]], set[str]] | None,
    skipped: Counter[str],
) -> Iterator[str]:
    """The documents of a split feed, without the items whose guid is already stored.

    The first document is always made (the feed's metadata comes from it), the others
    only when they still hold items.
    """
    for n, items in enumerate(split.batches(text, size)):
        if known_guids is not None:
            guids = [item_guid(item) for item in items]
            stored = known_guids([g for g in guids if g])
            if stored:
                kept = [item for item, g in zip(items, guids, strict=True) if g not in stored]
                skipped[duplicate_reason("guid")] += len(items) - len(kept)
                items = kept
        if items or n == 0:
            yield split.document(text, items)


def _feedparser(text: str, language: str | None, notes: list[str]) -> Any:
    """feedparser on decoded text; its bozo problem is added to ``notes``.

    feedparser is not told where the feed came from: it would resolve relative ``<id>``s
    against that URL, and ids are identity, kept as written. Links are resolved by us.
    """
    headers = {"content-type": "application/xml; charset=utf-8"}
    if language:
        headers["content-language"] = language
    parsed = feedparser.parse(
        io.BytesIO(text.encode("utf-8", "replace")),
        response_headers=headers,
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        notes.append(f"{type(exc).__name__}: {exc}" if exc else "ill-formed feed")
    return parsed


def _batched(entries: Iterable[Entry], size: int) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _entries(raws: Iterable[Mapping[str, Any]], context: _EntryContext) -> Iterator[Entry]:
    for raw in raws:
        yield _entry(raw, context)


def _empty_or_not_a_feed(text: str, encoding: str | None, notes: list[str]) -> FeedStream:
    if _PI.sub("", _COMMENT.sub("", text)).strip("\ufeff \t\r\n"):
        raise FeedError("no XML element found: not a feed")
    notes.append("empty document")
    return FeedStream("", None, encoding, None, notes, Counter(), iter(()))


def _repair_rss_prefix(text: str) -> str:
    """Unprefix ``<rss:item>``-style elements when ``rss:`` is not a declared namespace.

    Seen in the wild (a generator emitting ``<rss rss:version=2.0><rss:channel>``);
    feedparser would otherwise find no channel or items at all.
    """
    if "<rss:" not in text or "xmlns:rss" in text:
        return text
    return _RSS_PREFIX.sub(r"<\1", text).replace(" rss:version=", " version=")


def _entry(raw: Mapping[str, Any], context: _EntryContext) -> Entry:
    """One entry, as read: storage decides what identifies it (link, else guid).

    An empty or blank link is no link: the guid stands in when it is an http(s) URL, else
    ``url`` is "". The guid is kept exactly as written (no resolution against any base).
    """
    link = _abs(context.base, entry_link(raw))
    guid = raw.get("id")
    guid = guid.strip() if isinstance(guid, str) and guid.strip() else None
    published, rule = _entry_date(raw, context.tz)
    detail = raw.get("title_detail") or raw.get("summary_detail") or {}
    publisher, _ = entry_source(raw)
    publisher = normalize_text(publisher) or None if publisher else None
    return Entry(
        source_id=context.source_id,
        url=link or "",
        title=strip_publisher(_text_of(raw, "title"), publisher),
        summary=_text_of(raw, "summary"),
        body=_content_text(raw),
        guid=guid,
        author=_author(raw),
        published_at=published,
        language=_lang(detail.get("language")) or context.language,
        tags=_tags(raw),
        date_rule=rule,
        publisher=publisher,
    )


def strip_publisher(title: str, publisher: str | None) -> str:
    """``title`` without a trailing `` - Publisher`` naming ``publisher`` (Google News style)."""
    if not publisher:
        return title
    for sep in _PUBLISHER_SEPARATORS:
        suffix = f"{sep}{publisher}"
        if title.endswith(suffix) and len(title) > len(suffix):
            return title[: -len(suffix)].rstrip()
    return title


def _abs(base: str, link: Any) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        return unwrap_redirect(urljoin(base, clean_href(link)))
    except ValueError:
        return None


def _lang(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().replace("_", "-").lower()
    return value[:35] or None


def _as_text(value: Any, kind: str | None) -> str:
    if not isinstance(value, str):
        return ""
    if kind and any(t in kind for t in _HTML_TYPES):
        return html_to_text(value)
    return normalize_text(value, keep_paragraphs=True)


def _text_of(obj: Mapping[str, Any], key: str) -> str:
    detail = obj.get(f"{key}_detail") or {}
    text = _as_text(obj.get(key), detail.get("type"))
    return normalize_text(text) if key == "title" else text


def _content_text(raw: Mapping[str, Any]) -> str:
    contents = [c for c in raw.get("content") or [] if isinstance(c.get("value"), str)]
    if not contents:
        return ""
    best = max(contents, key=lambda c: len(c["value"]))
    return _as_text(best["value"], best.get("type"))


def _author(raw: Mapping[str, Any]) -> str | None:
    detail = raw.get("author_detail") or {}
    name = detail.get("name") or raw.get("author")
    if not name and raw.get("authors"):
        name = ", ".join(a.get("name", "") for a in raw["authors"] if a.get("name"))
    name = normalize_text(name) if isinstance(name, str) else ""
    return name or None


def _tags(raw: Mapping[str, Any]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for tag in raw.get("tags") or []:
        term = tag.get("term") or tag.get("label")
        term = normalize_text(term) if isinstance(term, str) else ""
        if term:
            seen.setdefault(term, None)
        if len(seen) >= MAX_TAGS:
            break
    return tuple(seen)


def _entry_date(raw: Mapping[str, Any], tz: tzinfo | None) -> tuple[datetime | None, str | None]:
    for key in ("published", "updated", "created", "dc_date"):
        # dict.get: FeedParserDict maps a missing "updated" to "published" with a warning
        value = dict.get(raw, key)
        if isinstance(value, str) and (dt := parse_date(value, tz=tz)):
            return dt, "feed"
        parsed = dict.get(raw, f"{key}_parsed")
        if isinstance(parsed, time.struct_time):
            dt = parse_date(datetime(*parsed[:6], tzinfo=UTC).isoformat())
            if dt:
                return dt, "feed"
    return None, None


def _ttl(feed: Mapping[str, Any]) -> int | None:
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit() and 0 < int(ttl) <= 10 * 525600:
        return int(ttl)
    period = str(feed.get("sy_updateperiod") or "").strip().lower()
    if period in _TTL_PERIODS:
        freq = str(feed.get("sy_updatefrequency") or "1").strip()
        freq_n = int(freq) if freq.isdigit() and int(freq) > 0 else 1
        return max(1, _TTL_PERIODS[period] // freq_n)
    return None


# --------------------------------------------------------------------------- JSON Feed


def is_json_feed(data: Any) -> bool:
    """True for a JSON Feed: ``version`` is the jsonfeed.org URL, or "1"/"1.0"/"1.1" with items.

    Some publishers write the bare version number instead of the URL; the document is still
    recognisably a JSON Feed when it also has an ``items`` list.
    """
    if not isinstance(data, dict):
        return False
    version = data.get("version")
    if isinstance(version, str) and "jsonfeed.org" in version:
        return True
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)
    return (
        isinstance(version, str)
        and bool(_JSON_FEED_VERSION.match(version.strip()))
        and isinstance(data.get("items"), list)
    )


def _open_json_feed(
    text: str,
    url: str,
    source_id: str,
    tz: tzinfo | None,
    language: str | None,
    notes: list[str],
    batch_size: int,
) -> FeedStream:
    """A JSON Feed (jsonfeed.org 1.x) as a stream; raises FeedError for any other JSON."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FeedError(f"not a feed: invalid JSON ({exc})") from exc
    if not is_json_feed(data):
        raise FeedError("JSON document that is not a JSON Feed")
    feed_lang = _lang(data.get("language")) or _lang(language)
    items = data.get("items") if isinstance(data.get("items"), list) else []
    skipped: Counter[str] = Counter()

    def entries() -> Iterator[Entry]:
        for item in items:
            entry = _json_entry(item, url, source_id, tz, feed_lang)
            if entry is None:
                skipped["not a JSON Feed item"] += 1
            else:
                yield entry

    return FeedStream(
        title=normalize_text(_str(data.get("title"))),
        link=_abs(url, data.get("home_page_url")),
        encoding="utf-8",
        ttl_minutes=None,
        notes=notes,
        skipped=skipped,
        _batches=_batched(entries(), batch_size),
    )


def _json_entry(
    item: Any, url: str, source_id: str, tz: tzinfo | None, language: str | None
) -> Entry | None:
    if not isinstance(item, dict):
        return None
    guid = str(item["id"]).strip() if item.get("id") is not None else None
    link = _abs(url, item.get("url")) or _abs(url, item.get("external_url"))
    if not link and guid and guid.lower().startswith(("http://", "https://")):
        link = _abs(url, guid)
    published = parse_date(_str(item.get("date_published")), tz=tz) or parse_date(
        _str(item.get("date_modified")), tz=tz
    )
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    names = [normalize_text(_str(a.get("name"))) for a in authors if isinstance(a, dict)]
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    body = item.get("content_html")
    return Entry(
        source_id=source_id,
        url=link or "",
        title=normalize_text(_str(item.get("title"))),
        summary=normalize_text(_str(item.get("summary")), keep_paragraphs=True),
        body=html_to_text(body)
        if isinstance(body, str)
        else normalize_text(_str(item.get("content_text")), keep_paragraphs=True),
        guid=guid or None,
        author=", ".join(n for n in names if n) or None,
        published_at=published,
        language=_lang(item.get("language")) or language,
        tags=tuple(dict.fromkeys(normalize_text(str(t)) for t in tags if t))[:MAX_TAGS],
        date_rule="feed" if published else None,
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --------------------------------------------------------------------------- sitemaps


def parse_sitemap(
    body: bytes, *, url: str, source_id: str, tz: tzinfo | None = None
) -> SitemapResult:
    """Parse a sitemap (urlset, sitemap index, Google News sitemap, plain text; maybe gzip).

    Gzip is inflated as a stream into an incremental parser and aborted beyond
    :data:`MAX_SITEMAP_BYTES`; at most :data:`MAX_SITEMAP_URLS` URLs are read. Never raises
    for malformed input; problems are reported in ``bozo``.
    """
    result = SitemapResult()
    chunks: Iterator[bytes]
    if body[:2] == b"\x1f\x8b":
        chunks = _inflate_chunks(body, MAX_SITEMAP_BYTES)
    else:
        chunks = iter([body[:MAX_SITEMAP_BYTES]])
    try:
        first = next(chunks, b"")
    except FeedError as exc:
        result.bozo = str(exc)
        return result
    if first.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"<":
        return _plain_text_sitemap(first, url, source_id)
    parser = etree.XMLPullParser(
        events=("end",),
        resolve_entities=False,
        no_network=True,
        recover=True,
        huge_tree=False,
        load_dtd=False,
    )
    try:
        for chunk in _chain(first, chunks):
            parser.feed(chunk)
            if _drain(parser, result, url, source_id, tz):
                result.bozo = f"more than {MAX_SITEMAP_URLS} URLs; rest ignored"
                break
        else:
            parser.close()
            _drain(parser, result, url, source_id, tz)
    except FeedError as exc:
        result.bozo = str(exc)
    except etree.LxmlError as exc:
        result.bozo = f"{type(exc).__name__}: {exc}"
    return result


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _drain(
    parser: etree.XMLPullParser,
    result: SitemapResult,
    base: str,
    source_id: str,
    tz: tzinfo | None,
) -> bool:
    """Consume parser events; True when the URL cap is reached."""
    for _, el in parser.read_events():
        name = _local(el)
        if name not in ("url", "sitemap"):
            continue
        fields: dict[str, str] = {}
        for child in el.iter():
            key = _local(child)
            if key and key not in fields and child.text and child.text.strip():
                fields[key] = child.text.strip()
        loc = _abs(base, fields.get("loc"))
        if loc:
            if name == "sitemap":
                result.sitemaps.append(loc)
            else:
                result.entries.append(_sitemap_entry(loc, fields, source_id, tz))
        el.clear()
        parent = el.getparent()
        if parent is not None:
            while el.getprevious() is not None:
                del parent[0]
        if len(result.entries) + len(result.sitemaps) >= MAX_SITEMAP_URLS:
            return True
    return False


def _sitemap_entry(loc: str, fields: dict[str, str], source_id: str, tz: tzinfo | None) -> Entry:
    published, rule = None, None
    if dt := parse_date(fields.get("publication_date"), tz=tz):
        published, rule = dt, "sitemap:news"
    elif dt := parse_date(fields.get("lastmod"), tz=tz):
        published, rule = dt, "sitemap:lastmod"
    keywords = fields.get("keywords", "")
    return Entry(
        source_id=source_id,
        url=loc,
        title=normalize_text(fields.get("title", "")),
        published_at=published,
        language=_lang(fields.get("language")),
        tags=tuple(dict.fromkeys(t for t in map(normalize_text, keywords.split(",")) if t)),
        date_rule=rule,
    )


def _plain_text_sitemap(body: bytes, base: str, source_id: str) -> SitemapResult:
    result = SitemapResult()
    text = body.decode("utf-8", "replace")
    for line in text.splitlines():
        line = line.strip()
        if line.lower().startswith(("http://", "https://")):
            result.entries.append(Entry(source_id=source_id, url=line))
            if len(result.entries) >= MAX_SITEMAP_URLS:
                break
    if not result.entries and text.strip():
        result.bozo = "neither XML nor a plain-text URL list"
    return result
