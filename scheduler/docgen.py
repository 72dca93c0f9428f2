"""The field tables of ``docs/config.md``, generated from the config models.

``docs/config.md`` is prose written by hand with generated regions::

    <!-- fields: wirewatch.yaml -->
    …tables written by this module…
    <!-- end fields -->

``python -m scheduler.docgen`` rewrites every region in place; ``--check`` only reports
(exit 1) when a region is stale. Each model reachable from a file's root model gets one
table: field, type (for people, constraints included), default, description, example. A
description comes from ``Field(description=…)``, else from :data:`TEXTS`, keyed by the
field's path as users write it in YAML (``("crawl", "per_host")``), which survives code
moves. A field with neither is an error, so a new field cannot ship undocumented: the test
regenerates the file and compares.

The models are imported here and nowhere else in this module (:data:`FILES`).
"""

from __future__ import annotations

import argparse
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from alerts.channels import ChannelsFile
from alerts.watchlists import Watchlist
from crawler.durations import parse_duration
from crawler.parse_pool import MAX_AUTO_WORKERS, PARSE_TIMEOUT, POOLED_MAX_BYTES, START_BACKLOG
from crawler.sources import SourcesFile
from scheduler.settings import AppSettings

# (file name, its root model): the order of the sections in docs/config.md.
FILES: tuple[tuple[str, type[BaseModel]], ...] = (
    ("wirewatch.yaml", AppSettings),
    ("sources.yaml", SourcesFile),
    ("watchlists/*.yaml", Watchlist),
    ("channels.yaml", ChannelsFile),
)
DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"
REGION = re.compile(r"(<!-- fields: (?P<file>\S+) -->\n)(?P<body>.*?)(<!-- end fields -->)", re.S)

# file → (path, field) → (description, example in YAML). Paths: "" is the file's top level,
# "sources[]" an item of a list, "channels.NAME" a value of a mapping, "sources[] html" the
# fields only one source type has. Move these into Field(description=…) when convenient:
# a model's own description wins.
TEXTS: dict[str, dict[tuple[str, str], tuple[str, str]]] = {
    "wirewatch.yaml": {
        ("", "database_url"): (
            "SQLAlchemy URL of the database. `WIREWATCH_DATABASE_URL` wins over it; without "
            "either, SQLite in `data_dir/wirewatch.db`.",
            "postgresql://wirewatch@127.0.0.1:5432/wirewatch",
        ),
        ("", "data_dir"): (
            "Directory of the SQLite database (`wirewatch.db`); a relative path is relative to "
            "the config directory. Unset: `../data` next to the config directory, or the XDG "
            "data dir (`~/.local/share/wirewatch`) for a config in `~/.config/wirewatch`.",
            "/var/lib/wirewatch",
        ),
        ("", "timezone"): (
            "IANA zone for dates shown to people (console, CLI tables, alerts, digests) and "
            "for digest schedules that name no zone.",
            "Asia/Taipei",
        ),
        ("", "log"): ("Logging.", "{level: DEBUG}"),
        ("", "crawl"): ("How the crawler fetches.", "{per_host: 1, delay: 2s}"),
        ("", "alerts"): ("Delivery and source-health notices.", "{max_attempts: 5}"),
        ("", "retention"): ("How long articles are kept.", "{articles: 730d}"),
        ("", "http"): (
            "The HTTP listener: web console, `/healthz`, `/metrics`.",
            '{listen: "127.0.0.1:9464"}',
        ),
        ("log", "level"): ("Lowest level logged (case-insensitive).", "DEBUG"),
        ("log", "format"): ("`text` lines, or one JSON object per line.", "json"),
        ("crawl", "user_agent"): (
            "The User-Agent of every request; say who you are and how to reach you.",
            '"wirewatch (+mailto:ops@example.org)"',
        ),
        ("crawl", "concurrency"): ("Requests in flight overall.", "32"),
        ("crawl", "per_host"): ("Requests in flight to one host.", "1"),
        ("crawl", "delay"): (
            "Pause between two requests to one host, jittered ±50 %.",
            "2s",
        ),
        ("crawl", "timeout"): ("Longest wait for one response.", "45s"),
        ("crawl", "max_bytes"): (
            "Responses larger than this (after decompression) are dropped.",
            "20971520",
        ),
        ("crawl", "obey_robots"): (
            "Obey robots.txt (cached 24 h per host).",
            "true",
        ),
        ("crawl", "retries"): (
            "Retries within one pass after a timeout or a 500/502/504/408 (429 and 503 "
            "instead set the source's next poll from `Retry-After`).",
            "3",
        ),
        ("crawl", "max_backoff"): (
            "Ceiling of a failing source's back-off (its interval doubled per failure).",
            "12h",
        ),
        ("crawl", "allow_private"): (
            "Hosts or networks a redirect or a link may reach although they are not public "
            "(loopback, private, link-local); a source's own origin is always allowed.",
            "[intranet.example.org, 10.20.0.0/16]",
        ),
        ("crawl", "parse_workers"): (
            "Processes that parse feeds and extract article pages while the main one fetches "
            f"and stores (a feed of up to {POOLED_MAX_BYTES // 2**20} MiB; larger ones are "
            "parsed in the main process, a batch at a time); unset: one per CPU core beyond "
            f"the first, at most {MAX_AUTO_WORKERS}, started once {START_BACKLOG} pages wait "
            "to be parsed (a poll of a few feeds needs none); a number: that many, started "
            "with the first page; `0`: none. A feed that hangs a parser "
            f"for {PARSE_TIMEOUT / 60:g} minutes or crashes it fails its own source's poll; "
            "such an article page loses its own text; nothing else.",
            "0",
        ),
        ("alerts", "admin_channel"): (
            "Channel for source-health notices (failing, silent sources); `null` sends none.",
            "email",
        ),
        ("alerts", "failure_threshold"): (
            "Consecutive failed polls before a source counts as failing.",
            "3",
        ),
        ("alerts", "silence_factor"): (
            "A source is silent when nothing new came for this many of its usual gaps "
            "(at least 1 h).",
            "20",
        ),
        ("alerts", "max_attempts"): (
            "Attempts before a delivery is dead-lettered (`wirewatch alerts --status dead`).",
            "5",
        ),
        ("alerts", "dispatch_interval"): ("How often the outbox is read.", "30s"),
        ("alerts", "stop_grace"): (
            "How long a stopping daemon waits for sends in flight.",
            "1m",
        ),
        ("retention", "articles"): (
            "Articles first seen longer ago are deleted, unless an alert about their story is "
            "still owed; `null` keeps the archive forever. Applied every 6 h by the daemon "
            "and at the end of `run --once`, which also drops near-duplicate keys older than "
            "two story windows (28 days).",
            "730d",
        ),
        ("http", "listen"): (
            "`HOST:PORT` to serve on; `null` serves nothing. Not loopback → `token` required.",
            '"127.0.0.1:9464"',
        ),
        ("http", "token"): (
            "Bearer token for the console (16+ characters); required for a non-loopback "
            "`listen`. `/healthz` and `/metrics` stay open.",
            '"${WIREWATCH_HTTP_TOKEN}"',
        ),
        ("http", "public_url"): (
            "Where people reach the console; alert messages then link to the story page.",
            "https://wirewatch.example.org",
        ),
    },
    "sources.yaml": {
        ("", "sources"): (
            "The sources to poll.",
            "[{id: ustr, type: rss, url: 'https://ustr.gov/rss.xml'}]",
        ),
        ("sources[]", "id"): (
            "Unique id: lower-case letters, digits, `_`, `.`, `-`; shown in alerts and "
            "`wirewatch sources`, referenced by watchlists.",
            "ustr-press",
        ),
        ("sources[]", "name"): ("Display name (default: the id).", "USTR press releases"),
        ("sources[]", "url"): ("The http(s) URL to poll.", "https://ustr.gov/rss.xml"),
        ("sources[]", "type"): (
            "`rss` or `atom` (any RSS, RDF or Atom feed), `html` (a listing page read with "
            "selectors) or `sitemap`.",
            "rss",
        ),
        ("sources[]", "interval"): ("Time between polls (at least 5s).", "15m"),
        ("sources[]", "enabled"): ("`false` keeps the source but never polls it.", "false"),
        ("sources[]", "language"): (
            "Language tag for items that declare none.",
            "zh-TW",
        ),
        ("sources[]", "timezone"): (
            "IANA zone for dates that carry none.",
            "Asia/Taipei",
        ),
        ("sources[]", "fetch_article"): (
            "Fetch each item's page and keep its main text as the article's `body` "
            "(matched, searched).",
            "true",
        ),
        ("sources[]", "headers"): (
            "Extra request headers for this source.",
            '{Accept-Language: "zh-TW"}',
        ),
        ("sources[]", "tags"): (
            "Labels a watchlist's `sources` can select.",
            "[official, taiwan]",
        ),
        ("sources[] html", "selectors"): (
            "Where items are on the page (see [Listing pages](#listing-pages)).",
            '{list: "ul.news li", date: "time::attr(datetime)"}',
        ),
        ("sources[] html", "link_pattern"): (
            "Python regex a link must contain (`re.search`) to be kept.",
            r"'/news/\d+'",
        ),
        ("sources[] html", "dayfirst"): (
            "Read ambiguous numeric dates as day/month (`03/04/2025` → 3 April).",
            "true",
        ),
        ("sources[] html", "max_pages"): (
            "Pages followed through `selectors.next_page` per poll (1–50).",
            "3",
        ),
        ("sources[] sitemap", "link_pattern"): (
            "Python regex a URL must contain (`re.search`) to be kept.",
            '"/news/"',
        ),
        ("sources[] sitemap", "max_urls"): (
            "Newest URLs taken per poll.",
            "200",
        ),
        ("sources[].selectors", "list"): (
            "Each node it matches is one item; an `<a>` is the link itself.",
            '"ul.news > li"',
        ),
        ("sources[].selectors", "link"): (
            "The item's link, inside the item (default `a[href]`).",
            '"h3 a::attr(href)"',
        ),
        ("sources[].selectors", "title"): (
            "The item's title, inside the item (default: the link's text, else its `title`).",
            '"h3"',
        ),
        ("sources[].selectors", "date"): (
            "The item's date, inside the item: its `datetime`/`content` attribute or text "
            "(default: a date found in the item's text).",
            '"time::attr(datetime)"',
        ),
        ("sources[].selectors", "next_page"): (
            "The next page's link, on the page (followed up to `max_pages`).",
            '"a.next::attr(href)"',
        ),
    },
    "watchlists/*.yaml": {
        ("", "name"): (
            "Unique name (default: the file name without `.yaml`).",
            "taiwan-us-ip",
        ),
        ("", "description"): ("Free text, shown in the console.", "Taiwan–US MOUs"),
        ("", "enabled"): ("`false` keeps the watchlist but never matches it.", "false"),
        ("", "groups"): (
            "Named lists of terms; a group is true when any of its terms occurs.",
            "{mou: [MOU, 合作備忘錄]}",
        ),
        ("", "match"): (
            "The boolean expression that must hold (see [watchlists.md](watchlists.md)).",
            "taiwan AND mou",
        ),
        ("", "exclude"): (
            "An expression that drops a match when it holds.",
            "'title:\"recipe\"'",
        ),
        ("", "sources"): (
            "Source ids or tags this watchlist reads; empty: every source.",
            "[official, cna-zh-finance]",
        ),
        ("", "notify"): (
            "Where matches go.",
            "[{channel: console}]",
        ),
        ("groups.NAME[]", "regex"): (
            "An RE2 pattern, matched case-insensitively (see [watchlists.md](watchlists.md)).",
            r"'US\s*\d{7}'",
        ),
        ("notify[]", "channel"): (
            "A channel name from `channels.yaml` (or `console`).",
            "email",
        ),
        ("notify[]", "mode"): (
            "`immediate`: one message per story; `digest`: one message per schedule.",
            "digest",
        ),
        ("notify[]", "schedule"): (
            "Cron expression (5 fields) of a digest; required for `mode: digest`.",
            '"0 8 * * 1-5"',
        ),
        ("notify[]", "timezone"): (
            "IANA zone the `schedule` is read in; `null`: the global `timezone`.",
            "Asia/Taipei",
        ),
    },
    "channels.yaml": {
        ("", "channels"): (
            "Channels by name; `console` is built in.",
            '{team: {url: "json://hooks.example.org/wirewatch"}}',
        ),
        ("channels.NAME", "url"): (
            "`console://` or an apprise URL (see [channels.md](channels.md)); use `${VAR}` "
            "for secrets.",
            '"${SLACK_WEBHOOK_URL}"',
        ),
        ("channels.NAME", "format"): (
            "Body format; default: `html` for e-mail, `markdown` for Slack, Discord, "
            "Telegram, Mattermost and Rocket.Chat, else `text`.",
            "markdown",
        ),
        ("channels.NAME", "rate"): (
            "At most `max` messages per `per`; the rest wait in the outbox.",
            "{max: 30, per: 1h}",
        ),
        ("channels.NAME", "max_length"): (
            "Longest message body (200+); longer digests are split, alerts cut. Default: the "
            "service's own limit (2,000 for Discord, 32,768 for webhooks). Not applied to "
            "`html` bodies.",
            "3500",
        ),
        ("channels.NAME", "timeout"): (
            "Longest wait for the service at each step, 1s–10m (default: apprise's, 15 s "
            "for SMTP).",
            "20s",
        ),
        ("channels.NAME", "enabled"): (
            "`false`: new matches are not queued for it; deliveries already queued wait "
            "until it is enabled again.",
            "false",
        ),
        ("channels.NAME.rate", "max"): ("Messages allowed per window (1+).", "30"),
        ("channels.NAME.rate", "per"): ("The window.", "1h"),
    },
}


# Types the generic rendering would spell badly: (file, path, field) → type for people.
TYPES: dict[tuple[str, str, str], str] = {
    ("watchlists/*.yaml", "", "groups"): (
        "mapping of names to lists of terms: a string (at most 500 characters) or `{regex: …}`"
    ),
}
# Headings for nested tables whose path alone says little.
TITLES: dict[tuple[str, str], str] = {
    ("watchlists/*.yaml", "groups.NAME[]"): "A regex term in `groups`",
}


@dataclass(frozen=True)
class Section:
    """One table: the fields of ``model`` at ``path`` in ``file`` (``only``: some fields)."""

    file: str
    path: str
    model: type[BaseModel]
    title: str
    only: tuple[str, ...] | None = None
    variants: tuple[type[BaseModel], ...] = ()  # a union's members, for its shared fields

    @property
    def anchor(self) -> str:
        """The HTML id of this table's heading."""
        return anchor(self.file, self.path)


def anchor(file: str, path: str) -> str:
    """A stable HTML id for the table of ``path`` in ``file``."""
    return re.sub(r"[^a-z0-9]+", "-", f"{file} {path}".lower()).strip("-")


class DocgenError(ValueError):
    """A field has no description or example."""


# --- walking the models ----------------------------------------------------------------------


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """(bare type, Annotated metadata) of an annotation."""
    meta: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *more = get_args(annotation)
        meta.extend(more)
    return annotation, meta


def _members(annotation: Any) -> list[Any]:
    """The members of a union (``X | Y``), or ``[annotation]``."""
    annotation, _ = _strip(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return [_strip(a)[0] for a in get_args(annotation)]
    return [annotation]


def _models_in(annotation: Any) -> list[tuple[str, list[type[BaseModel]]]]:
    """Models nested in a field type, with the path suffix to reach them ("", "[]", ".NAME")."""
    annotation, _ = _strip(annotation)
    origin = get_origin(annotation)
    if origin is list:
        return [("[]" + s, m) for s, m in _models_in(get_args(annotation)[0])]
    if origin is dict:
        return [(".NAME" + s, m) for s, m in _models_in(get_args(annotation)[1])]
    found = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return [("", found)] if found else []


def sections(file: str, root: type[BaseModel]) -> list[Section]:
    """Every table of one file, depth first in field order."""
    out: list[Section] = [Section(file, "", root, f"`{file}`: top level")]
    _walk(file, "", root, out)
    return out


def _walk(file: str, path: str, model: type[BaseModel], out: list[Section]) -> None:
    for name, info in model.model_fields.items():
        for suffix, models in _models_in(info.annotation):
            sub = f"{path}.{name}{suffix}".lstrip(".")
            if len(models) == 1:
                out.append(Section(file, sub, models[0], TITLES.get((file, sub), f"`{sub}`")))
                _walk(file, sub, models[0], out)
                continue
            # A union of models (source types): the fields all share, then each one's own.
            common = [n for n in models[0].model_fields if all(n in m.model_fields for m in models)]
            out.append(
                Section(file, sub, models[0], f"`{sub}`: every type", tuple(common), tuple(models))
            )
            for m in models:
                own = tuple(n for n in m.model_fields if n not in common)
                kinds = _literal_values(m.model_fields["type"].annotation)
                title = f"`{sub}`: `type: {' / '.join(kinds)}`"
                out.append(Section(file, f"{sub} {kinds[0]}", m, title, own))
            for m in models:
                _walk(file, sub, m, out)


def _literal_values(annotation: Any) -> list[str]:
    return [str(v) for v in get_args(_strip(annotation)[0])]


def _own_fields(section: Section) -> Iterator[tuple[str, FieldInfo]]:
    for name, info in section.model.model_fields.items():
        if section.only is None or name in section.only:
            yield name, info


# --- rendering -------------------------------------------------------------------------------


def human_type(annotation: Any, meta: list[Any] | None = None) -> str:
    """A field type as people read it, with its constraints: ``integer, 1–512``."""
    annotation, more = _strip(annotation)
    meta = [*(meta or []), *more]
    if _is_duration(annotation, meta):
        base = "[duration](#durations)"
    elif get_origin(annotation) is Literal:
        values = [f"`{v}`" for v in get_args(annotation)]
        base = values[0] if len(values) == 1 else "one of " + ", ".join(values)
    elif get_origin(annotation) in (Union, types.UnionType):
        parts = list(
            dict.fromkeys(human_type(a) for a in get_args(annotation) if a is not type(None))
        )
        nullable = type(None) in get_args(annotation)
        base = " or ".join(parts) + (" or `null`" if nullable else "")
    elif get_origin(annotation) is list:
        base = f"list of {_plural(human_type(get_args(annotation)[0]))}"
    elif get_origin(annotation) is dict:
        base = f"mapping of names to {_plural(human_type(get_args(annotation)[1]))}"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        base = "mapping"
    else:
        base = {str: "string", int: "integer", float: "number", bool: "boolean"}.get(
            annotation, getattr(annotation, "__name__", str(annotation))
        )
    limits = _constraints(meta)
    return f"{base}, {limits}" if limits else base


def _plural(kind: str) -> str:
    if kind.startswith("list of") or kind.startswith("mapping of"):
        return kind
    head, sep, tail = kind.partition(",")
    words = head.split(" or ")
    words = [w if w.startswith(("`", "[")) else w + "s" for w in words]
    return " or ".join(words) + sep + tail


def _is_duration(annotation: Any, meta: list[Any]) -> bool:
    return annotation is timedelta and any(getattr(m, "func", None) is parse_duration for m in meta)


def _constraints(meta: list[Any]) -> str:
    found: dict[str, Any] = {}
    for m in meta:
        for key in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            value = getattr(m, key, None)
            if value is not None:
                found[key] = value
    parts = []
    if "ge" in found and "le" in found:
        parts.append(f"{found['ge']:,}–{found['le']:,}")
    else:
        for key, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if key in found:
                parts.append(f"{sign} {found[key]:,}")
    if "min_length" in found:
        parts.append(f"at least {found['min_length']} characters")
    if "max_length" in found:
        parts.append(f"at most {found['max_length']} characters")
    if "pattern" in found:
        parts.append(f"pattern `{found['pattern']}`")
    return ", ".join(parts)


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=1, minutes=30)`` → ``1h30m`` (the form the config files take)."""
    seconds = int(value.total_seconds())
    if not seconds:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out


def human_default(info: FieldInfo) -> str:
    """The default as YAML would spell it, or *required*."""
    if info.is_required():
        return "*required*"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if value == "":
        return '`""`'
    if isinstance(value, list | dict) and not value:
        return "`[]`" if isinstance(value, list) else "`{}`"
    return f"`{value}`"


def _field_type(section: Section, name: str, info: FieldInfo) -> str:
    annotations = [v.model_fields[name].annotation for v in section.variants]
    if annotations and all(get_origin(a) is Literal for a in annotations):
        # The discriminator of a union (``type``): every member's values.
        merged = [v for a in annotations for v in get_args(a)]
        return human_type(Literal[tuple(merged)])  # type: ignore[valid-type]
    return human_type(info.annotation, list(info.metadata))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def field_texts(section: Section, name: str, info: FieldInfo) -> tuple[str, str]:
    """(description, example) of a field; DocgenError when either is missing."""
    texts = TEXTS.get(section.file, {})
    key = (section.path, name)
    # A field every source type shares is described once, under "sources[]".
    described = texts.get(key) or texts.get((section.path.split(" ")[0], name))
    description = info.description or (described[0] if described else "")
    example = (info.examples or [None])[0] or (described[1] if described else "")
    if not description or not example:
        where = f"{section.path}.{name}".lstrip(".")
        raise DocgenError(
            f"{section.model.__name__}.{name} ({where}) has no description or example: "
            f"give it Field(description=…, examples=[…]) or an entry in "
            f"TEXTS[{section.file!r}][{key!r}]"
        )
    return description, str(example)


def render_section(section: Section) -> str:
    """One heading and one table."""
    head = f'<a id="{section.anchor}"></a>\n\n#### {section.title}\n\n'
    rows = ["| field | type | default | description | example |", "|---|---|---|---|---|"]
    fields = list(_own_fields(section))
    if not fields:
        return f"{head}No fields beyond those every type has.\n"
    for name, info in fields:
        description, example = field_texts(section, name, info)
        kind = TYPES.get((section.file, section.path, name)) or _field_type(section, name, info)
        for suffix, _ in _models_in(info.annotation):
            sub = f"{section.path.split(' ')[0]}.{name}{suffix}".lstrip(".")
            kind += f" ([below](#{anchor(section.file, sub)}))"
        rows.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    f"`{name}`",
                    kind,
                    human_default(info),
                    description,
                    f"`{example}`",
                )
            )
            + " |"
        )
    return head + "\n".join(rows) + "\n"


def render_file(file: str) -> str:
    """Every table of one config file."""
    return "\n".join(render_section(s) for s in sections(file, dict(FILES)[file]))


def regenerate(text: str) -> str:
    """``text`` with every generated region rewritten; DocgenError for an unknown file."""

    def fill(m: re.Match[str]) -> str:
        name = m.group("file")
        if name not in dict(FILES):
            raise DocgenError(f"unknown file {name!r} in a fields region")
        return m.group(1) + "\n" + render_file(name) + "\n" + m.group(4)

    return REGION.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    """``python -m scheduler.docgen [--check] [PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m scheduler.docgen", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DOC)
    parser.add_argument("--check", action="store_true", help="exit 1 if PATH is stale")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    fresh = regenerate(text)
    if fresh == text:
        return 0
    if args.check:
        print(f"{args.path} is stale: run python -m scheduler.docgen", file=sys.stderr)
        return 1
    args.path.write_text(fresh, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
