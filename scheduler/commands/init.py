"""``wirewatch init``: write the starter config where wirewatch will find it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from scheduler.cli import app, fail, out


@app.command()
def init(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIR",
            help="Where to write it (default $WIREWATCH_CONFIG, else ~/.config/wirewatch).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the starter files in a non-empty DIR.")
    ] = False,
) -> None:
    """Write the bundled starter config to DIR and say what to edit next."""
    from scheduler.locate import (
        CONFIG_ENV,
        ConfigNotFound,
        config_dir,
        default_data_dir,
        user_config_dir,
    )
    from scheduler.starter_config import variables_used, write_starter

    target = (directory or Path(os.environ.get(CONFIG_ENV) or user_config_dir())).expanduser()
    try:
        written = write_starter(target, force=force)
    except (FileExistsError, OSError) as exc:
        raise fail(str(exc)) from None
    out.print(f"wrote the starter config to {target}:")
    for path in written:
        out.print(f"  {path}")
    data = default_data_dir(target) / "wirewatch.db"
    out.print(f"the database will be {data} (unless wirewatch.yaml sets data_dir)")
    try:
        found = config_dir().resolve() == target.resolve()
    except ConfigNotFound:
        found = False
    opt = "" if found else f" --config {target}"
    names = variables_used(p.read_text(encoding="utf-8") for p in written)
    out.print("next:")
    out.print(
        f"  1. edit {target / 'sources.yaml'} (what to poll), "
        f"{target / 'watchlists'}/*.yaml (what to alert on) and "
        f"{target / 'channels.yaml'} (where alerts go)"
    )
    required = [n for n, defaulted in names.items() if not defaulted]
    optional = [n for n, defaulted in names.items() if defaulted]
    if required:
        out.print(f"  2. set the environment variables they need: {', '.join(required)}")
    elif optional:
        out.print(f"  2. optionally set the variables they read: {', '.join(optional)}")
    else:
        out.print("  2. keep secrets in environment variables, written ${VAR} in the files")
    out.print(f"  3. wirewatch check{opt}   (validates it all, names file and line of a mistake)")
    out.print(f"  4. wirewatch run{opt}")
