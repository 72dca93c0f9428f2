"""The starter config shipped inside the package, and writing it to a directory.

The files are the repository's ``config/`` directory, packaged as ``scheduler/starter``
(a link to it in the source tree, real files in a wheel), read through importlib.resources
so that an installed wirewatch has them without a checkout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def starter_files() -> dict[PurePosixPath, str]:
    """Relative path → text of every starter file (``*.yaml``, ``watchlists/*.yaml``)."""
    root = files("scheduler").joinpath("starter")
    return {rel: node.read_text(encoding="utf-8") for rel, node in _walk(root, PurePosixPath())}


def _walk(node: Traversable, rel: PurePosixPath) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            yield from _walk(child, rel / child.name)
        elif child.name.endswith((".yaml", ".yml")):
            yield rel / child.name, child


def write_starter(target: Path, *, force: bool = False) -> list[Path]:
    """Write the starter files into ``target`` (created); return the paths written.

    Raises FileExistsError when ``target`` holds anything and ``force`` is false; with
    ``force`` the starter files are overwritten and any other file is left alone.
    """
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a directory")
    if not force and target.is_dir() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty; use --force to overwrite its starter files")
    written = []
    for rel, text in starter_files().items():
        path = target.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def variables_used(texts: Iterable[str]) -> dict[str, bool]:
    """The ``${VAR}`` names the files read outside comments → whether each has a default."""
    names: dict[str, bool] = {}
    for text in texts:
        for line in text.splitlines():
            code = "" if line.lstrip().startswith("#") else line.split(" #", 1)[0]
            for m in _VAR.finditer(code):
                names[m.group(1)] = names.get(m.group(1), True) and m.group(2) is not None
    return names
