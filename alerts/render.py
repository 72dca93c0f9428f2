"""Render alerts with Jinja2 templates; article text is untrusted and escaped per format.

Templates live in ``alerts/templates``; a ``templates/`` directory next to the config
overrides any of them by file name. Every ``{{ value }}`` is escaped for its format by
default (HTML autoescape; Slack/Markdown backslash escapes and mention breaking; control
characters dropped in text), so an overriding template stays safe too. Values that are
already safe markup are produced only by our filters (``mdlink``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from alerts.channels import Message, clean_header
from alerts.wording import local_time, plural

Format = Literal["text", "markdown", "html"]
BUILTIN = Path(__file__).with_name("templates")
_EXT: dict[str, str] = {"text": "txt", "markdown": "md", "html": "html"}
_CTRL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# The punctuation that can start markup or a Slack anchor; apprise's CommonMark-to-mrkdwn step
# turns ``\<``/``\>`` into entities and drops the backslash before ``()[]!#``.
_MD_PUNCT = re.compile(r"([\\`*_~<>\[\]()!#])")
_MENTION = re.compile(r"@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)


class SafeMd(str):
    """Markdown that is already escaped (built by our filters only)."""

    __slots__ = ()


def clean_text(value: object) -> str:
    """Text without control or bidi-override characters (newlines and tabs kept)."""
    return _CTRL.sub("", str(value)).replace("\r\n", "\n").replace("\r", "\n")


def md_escape(value: object) -> str:
    """Untrusted text for Markdown channels: markup punctuation backslash-escaped.

    apprise turns the escapes into Slack entities (``\\<`` → ``&lt;``), so ``<!channel>``
    and ``<http://evil|trusted>`` arrive as literal text; ``@here`` gets a zero-width joiner
    so no client reads it as a mention.
    """
    if isinstance(value, SafeMd):
        return value
    text = _MENTION.sub("@\u2060", clean_text(value))
    return _MD_PUNCT.sub(r"\\\1", text)


def safe_url(url: object) -> str:
    """An http(s) URL with characters that could break out of a link percent-encoded."""
    text = clean_text(url).strip()
    if urlsplit(text).scheme.lower() not in {"http", "https"}:
        return ""
    return quote(text, safe="/:?#[]@!$&'()*+,;=%~-._")


def md_link(label: object, url: object) -> SafeMd:
    """A Markdown link with an escaped label; plain label when the URL is not http(s)."""
    href = safe_url(url)
    text = md_escape(label)
    return SafeMd(f"[{text}](<{href}>)" if href else text)


def _finalize_md(value: Any) -> str:
    return md_escape("" if value is None else value)


def _finalize_text(value: Any) -> str:
    return clean_text("" if value is None else value)


NO_TITLE = "(no title)"


@dataclass(frozen=True)
class OtherSource:
    """Another source carrying the same story (``publisher``: who published it, if known)."""

    source: str
    title: str
    url: str
    publisher: str | None = None

    def byline(self) -> str:
        """The publisher named through the source ("Reuters via gnews"), or the source."""
        return byline(self.source, self.publisher)


@dataclass(frozen=True)
class AlertItem:
    """Everything a template may show about one matched story."""

    watchlist: str
    title: str
    url: str
    source: str
    snippet: str
    highlights: Sequence[Sequence[int]] = ()
    terms: Sequence[str] = ()
    published_at: datetime | None = None
    others: Sequence[OtherSource] = field(default_factory=tuple)
    story_id: int | None = None
    publisher: str | None = None
    fetched_at: datetime | None = None
    timezone: str = "UTC"  # the zone times are shown in, named after each time

    def __post_init__(self) -> None:
        # An article without a title is shown as such, never as an empty link.
        if not self.title.strip():
            object.__setattr__(self, "title", NO_TITLE)

    def byline(self) -> str:
        """The publisher named through the source ("Reuters via gnews"), or the source."""
        return byline(self.source, self.publisher)

    def when(self) -> str:
        """The publication time, or a visible "no date (fetched …)" when the source gave none."""
        if self.published_at is not None:
            return local_time(self.published_at, self.timezone)
        if self.fetched_at is not None:
            return f"no date (fetched {local_time(self.fetched_at, self.timezone)})"
        return "no date"

    def snippet_parts(self) -> list[tuple[str, bool]]:
        """The snippet cut at highlight offsets: (text, highlighted) pieces."""
        return highlight_parts(self.snippet, self.highlights)


def highlight_parts(text: str, highlights: Sequence[Sequence[int]]) -> list[tuple[str, bool]]:
    """``text`` cut at highlight offsets into (piece, highlighted) pairs; bad spans skipped."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted((int(s), int(e)) for s, e in highlights):
        if start < pos or end > len(text) or start >= end:
            continue
        parts += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    parts.append((text[pos:], False))
    return [p for p in parts if p[0]]


def term_label(term: str) -> str:
    """A term as the user wrote it, without the ``=`` that makes it case-sensitive."""
    text = term.strip()
    return text[1:].strip() if text.startswith("=") else text


def byline(source: str, publisher: str | None) -> str:
    """``publisher via source`` when an aggregator named the publisher, else ``source``."""
    return f"{publisher} via {source}" if publisher and publisher != source else source


class Renderer:
    """Loads templates (user overrides first) and renders alert messages."""

    def __init__(
        self,
        override_dir: Path | str | None = None,
        *,
        public_url: str | None = None,
        timezone: str = "UTC",
        source_names: Mapping[str, str] | None = None,
    ) -> None:
        dirs = [str(override_dir)] if override_dir and Path(override_dir).is_dir() else []
        self._loader = ChoiceLoader([FileSystemLoader([*dirs, str(BUILTIN)])])
        self.public_url = public_url.rstrip("/") if public_url else None
        self.timezone = timezone
        self.source_names = dict(source_names or {})

    def present(self, item: AlertItem) -> AlertItem:
        """``item`` as people read it: sources by configured name, terms without ``=``,
        times in the configured zone."""
        names = self.source_names
        return replace(
            item,
            source=names.get(item.source, item.source),
            others=tuple(replace(o, source=names.get(o.source, o.source)) for o in item.others),
            terms=list(dict.fromkeys(term_label(t) for t in item.terms)),
            timezone=self.timezone,
        )

    def story_link(self, item: AlertItem) -> str:
        """The console's page of the item's story ("" without ``http.public_url``)."""
        if not self.public_url or item.story_id is None:
            return ""
        return f"{self.public_url}/stories/{item.story_id}"

    @cached_property
    def _envs(self) -> dict[str, Environment]:
        common: dict[str, Any] = {
            "loader": self._loader,
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": False,
        }
        envs = {
            "html": Environment(autoescape=True, **common),
            "markdown": Environment(autoescape=False, finalize=_finalize_md, **common),
            "text": Environment(autoescape=False, finalize=_finalize_text, **common),
        }
        envs["markdown"].filters["mdlink"] = md_link
        for env in envs.values():
            env.globals["story_link"] = self.story_link
        envs["html"].filters["safe_url"] = lambda u: Markup.escape(safe_url(u))
        envs["text"].filters["safe_url"] = safe_url
        return envs

    def render(self, kind: str, fmt: Format, **context: Any) -> str:
        """Render ``{kind}.{ext}.j2`` for ``fmt`` (``immediate``, ``digest``)."""
        template = self._envs[fmt].get_template(f"{kind}.{_EXT[fmt]}.j2")
        return template.render(**context).strip() + "\n"

    def immediate(
        self,
        item: AlertItem,
        fmt: Format,
        *,
        message_id: str | None = None,
        max_length: int | None = None,
    ) -> Message:
        """One alert for one matched story."""
        item = self.present(item)
        title = clean_header(f"[{item.watchlist}] {item.title}")[:250]
        body = self.render("immediate", fmt, item=item)
        text = self.render("immediate", "text", item=item) if fmt == "html" else ""
        if max_length and fmt != "html":
            body = truncate(body, max_length)
        return Message(title, body, fmt, text, message_id)

    def digest_parts(
        self,
        watchlist: str,
        items: Sequence[AlertItem],
        fmt: Format,
        *,
        max_length: int | None = None,
        batch_id: str = "",
    ) -> list[Message]:
        """The digest as one or more messages, each within ``max_length`` (greedy, stable)."""
        items = [self.present(i) for i in items]
        groups: list[list[AlertItem]] = [[]]
        for item in items:
            trial = [*groups[-1], item]
            if (
                groups[-1]
                and max_length
                # part numbers at their widest, so numbering never pushes a part over
                and len(
                    self.render(
                        "digest", fmt, watchlist=watchlist, items=trial, part=999, parts=999
                    )
                )
                > max_length
            ):
                groups.append([item])
            else:
                groups[-1] = trial
        out = []
        for n, group in enumerate(groups, 1):
            suffix = f" ({n}/{len(groups)})" if len(groups) > 1 else ""
            count = plural(len(items), "story", "stories")
            title = clean_header(f"[{watchlist}] digest: {count}{suffix}")
            ctx = {"watchlist": watchlist, "items": group, "part": n, "parts": len(groups)}
            body = self.render("digest", fmt, **ctx)
            text = self.render("digest", "text", **ctx) if fmt == "html" else ""
            if max_length and fmt != "html":
                body = truncate(body, max_length)
            msg_id = f"<digest-{batch_id}.{n}@wirewatch>" if batch_id else None
            out.append(Message(title, body, fmt, text, msg_id))
        return out


def truncate(body: str, max_length: int) -> str:
    """Cut ``body`` to ``max_length`` characters, never leaving a dangling escape."""
    if len(body) <= max_length:
        return body
    cut = body[: max_length - 1]
    while cut.endswith("\\"):
        cut = cut[:-1]
    return cut + "…"
