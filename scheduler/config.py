"""Load and validate the whole config directory, naming file, line and field on every error."""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from alerts.channels import CONSOLE_URL, Channel, ChannelsFile
from alerts.watchlists import TERM_TAGS, Watchlist
from crawler.sources import SOURCE_TYPES, SourcesFile
from scheduler.settings import AppSettings
from scheduler.yamlsource import ConfigError, Loc, Problem, YamlDoc, load_yaml

CONFIG_ENV = "WIREWATCH_CONFIG"
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

    @property
    def database_url(self) -> str:
        """``WIREWATCH_DATABASE_URL``, else ``database_url``, else SQLite in ``data_dir``."""
        url = os.environ.get(DATABASE_ENV) or self.settings.database_url
        if url:
            return url
        return f"sqlite:///{self.data_dir / 'wirewatch.db'}"

    @property
    def data_dir(self) -> Path:
        """The data directory; relative paths are relative to the config directory."""
        return (self.directory / self.settings.data_dir).resolve()

    def watchlist(self, name: str) -> Watchlist:
        """The watchlist called ``name``; KeyError naming the known ones otherwise."""
        for wl in self.watchlists:
            if wl.name == name:
                return wl
        known = ", ".join(w.name for w in self.watchlists) or "none"
        raise KeyError(f"no watchlist {name!r} (known: {known})")


def config_dir(explicit: str | Path | None = None) -> Path:
    """``--config``, else ``$WIREWATCH_CONFIG``, else ``./config``."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or "config")


def load_config(
    directory: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load ``wirewatch.yaml``, ``sources.yaml``, ``channels.yaml`` and ``watchlists/*.yaml``.

    Raises ConfigError listing every problem found, each with file:line and field.
    """
    root = config_dir(directory)
    if not root.is_dir():
        raise ConfigError([Problem(str(root), None, "", "config directory not found")])
    problems: list[Problem] = []
    docs: dict[str, YamlDoc | None] = {}
    for name in FILES:
        docs[name] = _read(root / name, root, env, problems)
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
        watchlists.append(wl)

    if docs["sources.yaml"] is not None:
        _check_sources(sources, docs["sources.yaml"], problems)
    for wl in watchlists:
        _check_watchlist(wl, wl_origin[wl.name], channels, sources, problems)
    admin = settings.alerts.admin_channel
    if admin and admin not in channels and docs["wirewatch.yaml"] is not None:
        problems.append(
            docs["wirewatch.yaml"].problem(
                ("alerts", "admin_channel"), _unknown("channel", admin, channels)
            )
        )
    if problems:
        raise ConfigError(problems)
    files = {d.display: d.path for d in [*docs.values(), *wl_docs] if d is not None}
    return Config(
        root, settings, sources, channels, watchlists, files, fingerprint(watched_files(root))
    )


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
            _check_watchlist(wl, doc, config.channels, config.sources, problems)
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
    path: Path, root: Path, env: Mapping[str, str] | None, problems: list[Problem]
) -> YamlDoc | None:
    if not path.exists():
        return None
    try:
        return load_yaml(path, str(path), env)
    except ConfigError as exc:
        problems.extend(exc.problems)
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
        for err in exc.errors(include_input=False, include_url=False):
            loc = _clean_loc(err["loc"], data)
            if err["type"] == "union_tag_invalid":
                loc = (*loc, "type")
            problems.append(doc.problem(loc, _message(err)))
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
        return f"required field 'type' missing ({_one_of(SOURCE_TYPES)})"
    return msg.removeprefix("Value error, ")


def _one_of(names: Iterable[str]) -> str:
    """``a, b or c``."""
    names = list(names)
    return " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f"unknown {kind} {name!r}{hint}"


def _check_sources(sources: SourcesFile, doc: YamlDoc, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for i, src in enumerate(sources.sources):
        if src.id in seen:
            problems.append(doc.problem(("sources", i, "id"), f"duplicate source id {src.id!r}"))
        seen.add(src.id)


def _check_watchlist(
    wl: Watchlist,
    doc: YamlDoc,
    channels: Mapping[str, Channel],
    sources: SourcesFile,
    problems: list[Problem],
) -> None:
    for i, route in enumerate(wl.notify):
        if route.channel not in channels:
            loc = ("notify", i, "channel")
            problems.append(doc.problem(loc, _unknown("channel", route.channel, channels)))
    names = {s.id for s in sources.sources} | {t for s in sources.sources for t in s.tags}
    for i, ref in enumerate(wl.sources):
        if ref not in names:
            problems.append(doc.problem(("sources", i), _unknown("source or tag", ref, names)))
    before = len(problems)
    for key in ("match", "exclude"):
        text = getattr(wl, key)
        if text is not None:
            _check_expression(text, key, wl, doc, problems)
    if len(problems) == before:
        from alerts.matcher import Matcher

        try:
            Matcher.compile_one(wl)
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
