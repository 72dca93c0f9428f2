"""YAML loading that remembers where every value came from, with ``${ENV}`` interpolation."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}|\$\$")


@dataclass
class Problem:
    """One configuration mistake, located by file, line, column and field path."""

    file: str
    line: int | None
    field: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        if not self.file:
            return self.message
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    """Raised with every problem found; ``str()`` lists one per line.

    ``doc`` is what could be read anyway (a file with a missing ``${VAR}``), so that the
    names it defines are still known and nothing else is reported as unknown.
    """

    def __init__(self, problems: list[Problem], doc: YamlDoc | None = None) -> None:
        self.problems = problems
        self.doc = doc
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class YamlDoc:
    """A parsed YAML file: plain data plus the position of each path's node."""

    path: Path
    display: str
    data: Any
    marks: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    secrets: set[Loc] = field(default_factory=set)

    def line_of(self, loc: Loc) -> int | None:
        """The 1-based line of the deepest known node on ``loc``."""
        pos = self.position_of(loc)
        return pos[0] if pos else None

    def position_of(self, loc: Loc) -> tuple[int, int] | None:
        """(line, column), both 1-based, of the deepest known node on ``loc``."""
        for n in range(len(loc), -1, -1):
            mark = self.marks.get(tuple(loc[:n]))
            if mark:
                return mark
        return None

    def problem(self, loc: Loc, message: str, column_offset: int | None = None) -> Problem:
        """A Problem at ``loc``; ``column_offset`` is added to the value's column."""
        pos = self.position_of(loc)
        column = None
        if pos and column_offset is not None:
            column = pos[1] + column_offset
        return Problem(self.display, pos[0] if pos else None, format_loc(loc), message, column)


def format_loc(loc: Loc) -> str:
    """``('notify', 0, 'channel')`` → ``notify[0].channel``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_yaml(
    path: Path, display: str | None = None, env: Mapping[str, str] | None = None
) -> YamlDoc:
    """Parse ``path`` into a YamlDoc, interpolating ``${VAR}`` / ``${VAR:-default}`` in strings.

    Raises ConfigError naming the file and line for syntax errors, duplicate keys and
    missing environment variables.
    """
    env = os.environ if env is None else env
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(shown, None, "", f"not UTF-8 text ({exc.reason})")]) from exc
    except OSError as exc:
        raise ConfigError([Problem(shown, None, "", f"cannot read: {exc.strerror}")]) from exc
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise ConfigError([Problem(shown, line, "", f"YAML syntax error: {msg}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(shown, None, "", f"YAML error: {exc}")]) from exc
    doc = YamlDoc(path, shown, None)
    builder = _Builder(doc, env)
    doc.data = builder.build(node, ()) if node is not None else None
    if builder.problems:
        raise ConfigError(builder.problems, doc)
    return doc


# libyaml when PyYAML was built with it: it composes a 1,000-source file in 0.05 s, the
# pure-Python parser in 0.33 s (marks, tags and values are the same).
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> yaml.Node | None:
    """The document's node tree (line and column marks on every node)."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        # Rejected: the pure-Python parser words the error better (the character that
        # cannot start a token, the undefined alias's name, the line of an unclosed
        # bracket), and it decides should the two parsers ever disagree.
        return yaml.compose(text, Loader=yaml.SafeLoader)


class _Builder:
    """Turns a composed node tree into plain data, recording marks and interpolating."""

    def __init__(self, doc: YamlDoc, env: Mapping[str, str]) -> None:
        self.doc, self.env = doc, env
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        doc = self.doc
        doc.marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(
                        doc.problem(loc, "YAML merge keys ('<<') are not supported")
                    )
                    continue
                key = self._constructor.construct_object(key_node, deep=True)
                if key in out:
                    line = key_node.start_mark.line + 1
                    self.problems.append(
                        Problem(doc.display, line, format_loc((*loc, key)), "duplicate key")
                    )
                    continue
                out[key] = self.build(value_node, (*loc, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        value = self._constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "$" in value:
            value = self._interpolate(value, loc)
        return value

    def _interpolate(self, value: str, loc: Loc) -> str:
        def repl(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in self.env:
                self.doc.secrets.add(loc)
                return self.env[name]
            if default is not None:
                return default
            self.problems.append(self.doc.problem(loc, f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(repl, value)
