"""URL canonicalisation and offline unwrapping of redirector links.

An article is stored once per canonical URL, so :func:`canonical_url` must be stable
(idempotent) and conservative: it removes what is certainly noise (tracking parameters, in
the query or the fragment; empty fragments and text-highlight directives; default ports;
case in scheme and host) and nothing that could name a different resource.

The fragment stays: a blog that publishes several posts on one page links them as
``2017/06/26.html#a080605`` and ``#a030658``, and hash-routed sites name whole pages with
``#!/news/123``. Dropping it merged distinct entries into one (and lost the rest as
"already seen"); grouping copies of one story is the job of story clustering, never of the
canonical URL.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query keys removed everywhere (compared lower-cased).
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "igshid",
        "igsh",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "spm",
        "scm",
        "cmpid",
        "ncid",
        "ocid",
        "smid",
        "smtyp",
        "sr_share",
        "ref_src",
        "ref_url",
        "vero_id",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "wt.mc_id",
        "cid_source",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "__twitter_impression",
        "xtor",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_")
# ``ref=rss`` / ``ref=hp`` / ``ref=twitter`` are referrer tags; ``ref=4711`` or ``ref=v1.2``
# may select content, so only short alphabetic values are dropped.
_REF_NOISE = re.compile(r"^[a-z_-]{1,32}$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Browsers (WHATWG URL parsing) drop ASCII tabs and newlines anywhere in a URL.
_TAB_NEWLINE = re.compile(r"[\t\n\r]+")

_GOOGLE_HOST = re.compile(r"^(?:www\.)?google\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$")
# host -> (path, query keys holding the target)
_REDIRECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "l.facebook.com": ("/l.php", ("u",)),
    "lm.facebook.com": ("/l.php", ("u",)),
    "out.reddit.com": ("/", ("url",)),
    "www.bing.com": ("/news/apiclick.aspx", ("url",)),
}
_MAX_UNWRAP = 4


def canonical_url(url: str) -> str:
    """Return the canonical form of an http(s) URL used as the article's identity.

    Removes tracking parameters (from the query, and from a ``#key=value`` fragment such
    as ``#xtor=RSS-3``), empty fragments, text directives (``#:~:text=``) and default
    ports, lower-cases scheme and host, sorts the query and normalises percent-encoding
    (``w3lib.url.canonicalize_url``). Any other fragment is kept: it may tell entries of
    one page apart.

    Deliberately kept as is:

    - ``www.``: ``www.example.com`` and ``example.com`` are different hosts and may serve
      different sites; merging them offline could merge different articles.
    - a trailing ``index.html``: usually the same page as the directory, but not always
      (and some servers do not serve the directory at all); the canonical URL must stay
      fetchable.

    Anything that is not an http(s) URL comes back stripped of surrounding whitespace only.
    """
    stripped = (url or "").strip()
    if not stripped.lower().startswith(("http://", "https://")):
        return stripped
    url = _TAB_NEWLINE.sub("", stripped)
    try:
        parts = urlsplit(url)
        if not parts.hostname:
            return url
        scheme = parts.scheme.lower()
        netloc = _clean_netloc(parts.netloc, scheme)
        url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))
        # Strip after canonicalising too: percent-decoding can reveal a tracking key. A
        # second round runs only when stripping changed something.
        for _ in range(2):
            url = canonicalize_url(url, keep_fragments=True)
            parts = urlsplit(url)
            query, fragment = _strip_tracking(parts.query), _clean_fragment(parts.fragment)
            if (query, fragment) == (parts.query, parts.fragment):
                break
            url = urlunsplit(parts._replace(query=query, fragment=fragment))
        return url
    except ValueError:
        return url


def _clean_netloc(netloc: str, scheme: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if not hostport.endswith("]") and ":" in hostport:
        host, _, port = hostport.rpartition(":")
    host = host.lower()
    if port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme):
        port = ""
    hostport = f"{host}:{port}" if port else host
    return f"{userinfo}@{hostport}" if userinfo else hostport


def _strip_tracking(query: str) -> str:
    """Drop tracking pairs, leaving the other pairs byte-for-byte unchanged."""
    if not query:
        return ""
    kept = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if pair and not is_tracking_param(unquote_plus(key), unquote_plus(value)):
            kept.append(pair)
    return "&".join(kept)


def _clean_fragment(fragment: str) -> str:
    """A fragment without text directives and tracking pairs; "" when nothing is left."""
    fragment = fragment.split(":~:", 1)[0]
    if "=" in fragment and not fragment.startswith(("!", "/")):
        fragment = _strip_tracking(fragment)
    return fragment


def is_tracking_param(key: str, value: str = "") -> bool:
    """True if the query parameter ``key=value`` only tracks the click."""
    k = key.strip().lower()
    if k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES):
        return True
    return k == "ref" and bool(_REF_NOISE.match(value))


def clean_href(href: str | None) -> str:
    """Strip an href the way browsers do: outer whitespace, inner tabs and newlines."""
    return _TAB_NEWLINE.sub("", (href or "").strip())


def unwrap_redirect(url: str) -> str:
    """Resolve redirector links whose target is in the URL itself (no network).

    Handles Google ``/url?q=`` wrappers, Facebook/Reddit/Bing click-outs and old-format
    Google News article tokens. Anything else, including new-format Google News links
    (see :func:`is_google_news`) and FeedBurner ``~r`` links (see :func:`entry_link`),
    is returned unchanged.
    """
    url = clean_href(url)
    for _ in range(_MAX_UNWRAP):
        target = _unwrap_once(url)
        if not target or target == url:
            break
        url = target
    return url


def _unwrap_once(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    keys: tuple[str, ...] = ()
    if _GOOGLE_HOST.match(host) and parts.path == "/url":
        keys = ("q", "url")
    elif host in _REDIRECTORS and parts.path == _REDIRECTORS[host][0]:
        keys = _REDIRECTORS[host][1]
    elif host == "news.google.com":
        return decode_google_news(url)
    else:
        return None
    query = dict(parse_qsl(parts.query))
    for key in keys:
        target = query.get(key, "").strip()
        if target.lower().startswith(("http://", "https://")):
            return target
    return None


def is_google_news(url: str) -> bool:
    """True for a Google News article link that needs resolving (``/rss/articles/<token>``)."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return False
    segments = parts.path.rstrip("/").split("/")
    return (
        (parts.hostname or "").lower() == "news.google.com"
        and len(segments) >= 3
        and segments[-2] in ("articles", "read")
    )


def decode_google_news(url: str) -> str | None:
    """Decode an old-format Google News token offline; None when it needs a network call.

    Old tokens are URL-safe base64 of a small protobuf whose field 4 holds the article URL
    (optionally followed by field 26 with the AMP URL). New tokens (since mid-2024) hold an
    opaque ``AU_yqL…`` id that only Google's ``batchexecute`` endpoint can resolve.
    """
    if not is_google_news(url):
        return None
    token = urlsplit(url.strip()).path.rstrip("/").rsplit("/", 1)[-1]
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    value = _protobuf_string_field(raw, field=4)
    if value is None:
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.startswith(("http://", "https://")) else None


def _protobuf_string_field(raw: bytes, field: int) -> bytes | None:
    """Return the first length-delimited value of ``field`` in a protobuf message."""
    pos = 0
    while pos < len(raw):
        key, pos = _varint(raw, pos)
        if key is None:
            return None
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(raw, pos)
            if _ is None:
                return None
        elif wire == 2:
            length, pos = _varint(raw, pos)
            if length is None or pos + length > len(raw):
                return None
            if number == field:
                return raw[pos : pos + length]
            pos += length
        else:
            return None
    return None


def _varint(raw: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(raw) and shift < 64:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def entry_link(entry: Mapping[str, Any]) -> str | None:
    """Best original article link of a feedparser entry, without network access.

    Prefers FeedBurner's ``feedburner_origlink`` (the ``feedproxy.google.com/~r/`` link in
    ``link`` only redirects to it), then ``link``, then the ``guid`` when it is an http(s)
    URL. An empty or blank link is no link. The result is unwrapped with
    :func:`unwrap_redirect`; relative links come back relative.
    """
    for key in ("feedburner_origlink", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return unwrap_redirect(value)
    guid = entry.get("id")
    if isinstance(guid, str) and guid.strip().lower().startswith(("http://", "https://")):
        return unwrap_redirect(guid)
    return None


def entry_source(entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ``<source url="…">name</source>`` of an entry (Google News: the publisher)."""
    source = entry.get("source")
    if not isinstance(source, Mapping):
        return None, None
    name = source.get("title")
    href = source.get("href") or source.get("url")
    return (name if isinstance(name, str) else None, href if isinstance(href, str) else None)
