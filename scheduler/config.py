"""Load and validate the whole config directory, naming file, line and field on every error."""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from alerts.channels import CONSOLE_URL, Channel, ChannelsFile
from alerts.watchlists import TERM_TAGS, Watchlist, regex_lookalike
from crawler.sources import SOURCE_TYPES, ListingSource, SourcesFile
from scheduler.fieldnames import fields_at
from scheduler.locate import config_dir, default_data_dir
from scheduler.settings import AppSettings
from scheduler.yamlsource import ConfigError, Loc, Problem, YamlDoc, load_yaml

DATABASE_ENV = "WIREWATCH_DATABASE_URL"
FILES = ("wirewatch.yaml", "sources.yaml", "channels.yaml")


@dataclass
class Config:
    """Everything the daemon needs from the config directory, validated."""

    directory: Path
    settings: AppSettings
    sources: SourcesFile
    channels: dict[str, Channel]
    watchlists: list[Watchlist]
    files: dict[str, Path] = field(default_factory=dict)
    fingerprint: str = ""
    warnings: list[Problem] = field(default_factory=list)  # likely mistakes that still load

    @property
    def database_url(self) -> str:
        """``WIREWATCH_DATABASE_URL``, else ``database_url``, else SQLite in ``data_dir``."""
        url = os.environ.get(DATABASE_ENV) or self.settings.database_url
        if url:
            return url
        return f"sqlite:///{self.data_dir / 'wirewatch.db'}"

    @property
    def data_dir(self) -> Path:
        """``data_dir`` (relative to the config directory), else the default.

        The default is ``../data`` next to the config directory, except for a config in the
        user config dir (``~/.config/wirewatch``), whose data goes to the user data dir
        (``~/.local/share/wirewatch``).
        """
        if self.settings.data_dir is not None:
            return (self.directory / Path(self.settings.data_dir).expanduser()).resolve()
        return default_data_dir(self.directory)

    def watchlist(self, name: str) -> Watchlist:
        """The watchlist called ``name``; KeyError naming the known ones otherwise."""
        for wl in self.watchlists:
            if wl.name == name:
                return wl
        known = ", ".join(w.name for w in self.watchlists) or "none"
        raise KeyError(f"no watchlist {name!r} (known: {known})")


def load_config(
    directory: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load ``wirewatch.yaml``, ``sources.yaml``, ``channels.yaml`` and ``watchlists/*.yaml``.

    Raises ConfigError listing every problem found, each with file:line and field.
    """
    root = config_dir(directory)
    problems: list[Problem] = []
    docs: dict[str, YamlDoc | None] = {}
    partial: dict[str, YamlDoc] = {}  # files read despite a missing ${VAR}: names only
    for name in FILES:
        docs[name] = _read(root / name, root, env, problems, partial)
    wl_docs = [_read(p, root, env, problems) for p in sorted((root / "watchlists").glob("*.y*ml"))]

    settings = _validate(AppSettings, docs["wirewatch.yaml"], problems) or AppSettings()
    sources = _validate(SourcesFile, docs["sources.yaml"], problems) or SourcesFile()
    chfile = _validate(ChannelsFile, docs["channels.yaml"], problems) or ChannelsFile()
    channels = {"console": Channel(url=CONSOLE_URL), **chfile.channels}

    watchlists: list[Watchlist] = []
    wl_origin: dict[str, YamlDoc] = {}
    for doc in wl_docs:
        if doc is None:
            continue
        data = doc.data
        if isinstance(data, dict) and "name" not in data:
            data = {"name": doc.path.stem, **data}
        wl = _validate(Watchlist, doc, problems, data)
        if wl is None:
            continue
        if wl.name in wl_origin:
            other = wl_origin[wl.name].display
            problems.append(doc.problem(("name",), f"watchlist {wl.name!r} already in {other}"))
            continue
        wl_origin[wl.name] = doc
        watchlists.append(wl.in_zone(settings.timezone))

    if docs["sources.yaml"] is not None:
        _check_sources(sources, docs["sources.yaml"], problems)
    # Names a file defines count as known even when the file has an error elsewhere: one bad
    # channel or source is reported once, not again by every reference to any of them.
    channel_names = [*channels, *_defined(docs, partial, "channels.yaml", _channel_names)]
    channel_names = list(dict.fromkeys(channel_names))
    source_names = _source_names(sources) | set(
        _defined(docs, partial, "sources.yaml", _raw_sources)
    )
    for wl in watchlists:
        _check_watchlist(wl, wl_origin[wl.name], channel_names, source_names, problems)
    admin = settings.alerts.admin_channel
    if admin and admin not in channel_names and docs["wirewatch.yaml"] is not None:
        problems.append(
            docs["wirewatch.yaml"].problem(
                ("alerts", "admin_channel"), _unknown("channel", admin, channel_names)
            )
        )
    if problems:
        raise ConfigError(problems)
    files = {d.display: d.path for d in [*docs.values(), *wl_docs] if d is not None}
    warnings = [w for wl in watchlists for w in term_warnings(wl, wl_origin[wl.name])]
    return Config(
        root,
        settings,
        sources,
        channels,
        watchlists,
        files,
        fingerprint(watched_files(root)),
        warnings,
    )


def term_warnings(wl: Watchlist, doc: YamlDoc) -> list[Problem]:
    """Plain terms that look like regular expressions (matched literally, so likely a slip)."""
    out = []
    for group, terms in wl.groups.items():
        for i, term in enumerate(terms):
            pattern = regex_lookalike(term) if isinstance(term, str) else None
            if pattern is not None:
                regex = pattern.replace("'", "''")
                message = (
                    f"term {term!r} is matched as plain text but looks like a regular "
                    f"expression; to match it as one write {{regex: '{regex}'}}"
                )
                out.append(doc.problem(("groups", group, i), message))
    return out


def check_watchlist_text(
    text: str, config: Config, display: str
) -> tuple[Watchlist | None, list[Problem]]:
    """Validate one watchlist file's text as ``load_config`` would (the console's try-out).

    Returns the watchlist, or None and every problem (file ``display``, line, column).
    """
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="wirewatch-tryout-") as tmp:
        path = Path(tmp) / Path(display).name
        path.write_text(text, encoding="utf-8")
        try:
            doc = load_yaml(path, display)
        except ConfigError as exc:
            return None, exc.problems
        data = doc.data
        if isinstance(data, dict) and "name" not in data:
            data = {"name": path.stem, **data}
        wl = _validate(Watchlist, doc, problems, data)
        if wl is not None:
            wl = wl.in_zone(config.settings.timezone)
            names = _source_names(config.sources)
            _check_watchlist(wl, doc, config.channels, names, problems)
    return (None if problems else wl), problems


def watched_files(root: Path) -> list[Path]:
    """The files whose change means the config must be reloaded (existing or not)."""
    return [root / n for n in FILES] + sorted((root / "watchlists").glob("*.y*ml"))


def fingerprint(paths: Iterable[Path]) -> str:
    """A cheap change detector over the config files (path, mtime, size)."""
    parts = []
    for p in sorted(paths):
        try:
            st = p.stat()
        except OSError:
            continue
        parts.append(f"{p}:{st.st_mtime_ns}:{st.st_size}")
    return "|".join(parts)


def _read(
    path: Path,
    root: Path,
    env: Mapping[str, str] | None,
    problems: list[Problem],
    partial: dict[str, YamlDoc] | None = None,
) -> YamlDoc | None:
    if not path.exists():
        return None
    try:
        return load_yaml(path, str(path), env)
    except ConfigError as exc:
        problems.extend(exc.problems)
        if exc.doc is not None and partial is not None:
            partial[path.name] = exc.doc
        return None
    except RecursionError:  # PyYAML composes nested collections recursively
        problems.append(Problem(str(path), None, "", "YAML nested too deeply"))
        return None


def _validate(model: type[BaseModel], doc: YamlDoc | None, problems: list[Problem], data=None):
    if doc is None:
        return None
    data = doc.data if data is None else data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(
            doc.problem((), f"expected a mapping at the top, got {type(data).__name__}")
        )
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        hints: dict[tuple[Any, ...], str] = {}  # unknown field's loc → the field meant
        for err in errors:
            if err["type"] == "extra_forbidden":
                near = difflib.get_close_matches(
                    str(err["loc"][-1]), fields_at(model, err["loc"][:-1]), n=1
                )
                if near:
                    hints[err["loc"]] = near[0]
        meant = {(*loc[:-1], name) for loc, name in hints.items()}
        for err in errors:
            if err["type"] == "missing" and err["loc"] in meant:
                continue  # reported as the misspelt field's "did you mean"
            loc = _clean_loc(err["loc"], data)
            if err["type"] == "union_tag_invalid":
                loc = (*loc, "type")
            message = _message(err)
            if err["loc"] in hints:
                message = f"unknown field; did you mean {hints[err['loc']]!r}?"
            problems.append(doc.problem(loc, message))
        return None


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop pydantic's union-branch names (e.g. the source ``type`` tag) from a location."""
    out: list[str | int] = []
    node = data
    for part in loc:
        inside = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        )
        if inside:
            node = node[part]
        elif isinstance(part, str) and (
            part in TERM_TAGS or (isinstance(node, dict) and ("[" in part or part in SOURCE_TYPES))
        ):
            continue  # a discriminator branch name, not a field
        else:
            node = None
        out.append(part)
    return tuple(out)


def _message(err: Mapping[str, Any]) -> str:
    kind, msg = err.get("type", ""), str(err.get("msg", "invalid"))
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "missing":
        return "required field missing"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        return f"unknown type {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "required field 'type' missing (rss, atom, html or sitemap)"
    return msg.removeprefix("Value error, ")


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f"unknown {kind} {name!r}{hint}"


def _defined(
    docs: Mapping[str, YamlDoc | None],
    partial: Mapping[str, YamlDoc],
    name: str,
    names: Callable[[Any], Iterable[str]],
) -> list[str]:
    """The names file ``name`` defines, read from its raw data (valid or not)."""
    doc = docs.get(name) or partial.get(name)
    return list(names(doc.data)) if doc is not None and isinstance(doc.data, dict) else []


def _channel_names(data: dict[str, Any]) -> Iterable[str]:
    entries = data.get("channels")
    return [str(k) for k in entries] if isinstance(entries, dict) else []


def _raw_sources(data: dict[str, Any]) -> Iterable[str]:
    items = data.get("sources")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            if isinstance(item.get("id"), str):
                yield item["id"]
            tags = item.get("tags")
            yield from (t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


def _source_names(sources: SourcesFile) -> set[str]:
    return {s.id for s in sources.sources} | {t for s in sources.sources for t in s.tags}


def _check_sources(sources: SourcesFile, doc: YamlDoc, problems: list[Problem]) -> None:
    """Unique ids; listing selectors that parsel can compile (else they fail at poll time)."""
    from crawler.selectors import selector_error

    seen: set[str] = set()
    for i, src in enumerate(sources.sources):
        if src.id in seen:
            problems.append(doc.problem(("sources", i, "id"), f"duplicate source id {src.id!r}"))
        seen.add(src.id)
        if isinstance(src, ListingSource):
            for key, query in src.selectors.model_dump(exclude_none=True).items():
                error = selector_error(query)
                if error:
                    problems.append(doc.problem(("sources", i, "selectors", key), error))


def _check_watchlist(
    wl: Watchlist,
    doc: YamlDoc,
    channels: Collection[str],
    names: Collection[str],
    problems: list[Problem],
) -> None:
    """Routes name known channels, ``sources`` known source ids or tags, the expressions parse."""
    for i, route in enumerate(wl.notify):
        if route.channel not in channels:
            loc = ("notify", i, "channel")
            problems.append(doc.problem(loc, _unknown("channel", route.channel, channels)))
    for i, ref in enumerate(wl.sources):
        if ref not in names:
            problems.append(doc.problem(("sources", i), _unknown("source or tag", ref, names)))
    before = len(problems)
    for key in ("match", "exclude"):
        text = getattr(wl, key)
        if text is not None:
            _check_expression(text, key, wl, doc, problems)
    if len(problems) == before:
        from alerts.matcher import Engine

        try:
            Engine.compile_one(wl)
        except ValueError as exc:
            problems.append(doc.problem(("groups",), str(exc)))


def _check_expression(
    text: str, key: str, wl: Watchlist, doc: YamlDoc, problems: list[Problem]
) -> None:
    from alerts.query import QuerySyntaxError, parse

    try:
        parse(text, wl.groups.keys())
    except QuerySyntaxError as exc:
        line, col = _text_position(doc, (key,), text, exc.position)
        problems.append(Problem(doc.display, line, key, str(exc), col))


def _text_position(doc: YamlDoc, loc: Loc, text: str, offset: int) -> tuple[int | None, int | None]:
    """Map an offset in a scalar's value to a (line, column) in the file, best effort."""
    pos = doc.position_of(loc)
    if pos is None:
        return None, None
    line, col = pos
    raw = doc.path.read_text(encoding="utf-8").splitlines()
    src = raw[line - 1] if 0 < line <= len(raw) else ""
    first = text.split("\n", 1)[0]
    # Plain or quoted scalar on one line: find the value text in the source line.
    at = src.find(first, col - 1) if first else -1
    if at >= 0 and offset <= len(first):
        return line, at + offset + 1
    # Block scalar: locate the line that holds the offset.
    before = text[:offset]
    line_in_value = before.count("\n")
    start = line + 1 if src.rstrip().endswith(("|", ">", "|-", ">-", "|+", ">+")) else line
    target = start + line_in_value
    if 0 < target <= len(raw):
        frag = text.split("\n")[line_in_value]
        at = raw[target - 1].find(frag)
        column = offset - (before.rfind("\n") + 1)
        return target, (at if at >= 0 else 0) + column + 1
    return line, None
