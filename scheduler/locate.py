"""Where the config directory and the data directory are.

The config directory is the one named by ``--config`` or ``$WIREWATCH_CONFIG`` (which must
exist), else ``./config``, else the per-user config dir (``$XDG_CONFIG_HOME/wirewatch``); a
directory found by looking counts only when it holds a wirewatch file (``wirewatch.yaml`` or
``sources.yaml``), so another program's ``./config`` is passed over, not read as an empty
configuration. Data
follows the config: ``../data`` next to it, or the per-user data dir
(``$XDG_DATA_HOME/wirewatch``) for a config in the per-user config dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from scheduler.yamlsource import ConfigError, Problem

APP_NAME = "wirewatch"
CONFIG_ENV = "WIREWATCH_CONFIG"
DEFAULT_DATA_DIR = "../data"
MARKERS = ("wirewatch.yaml", "sources.yaml")  # what makes a directory found by looking ours


class ConfigNotFound(ConfigError):
    """No config directory where one was looked for; the message names every place."""

    def __init__(self, message: str) -> None:
        super().__init__([Problem("", None, "", message)])
        self.message = message

    def __str__(self) -> str:
        return self.message


def user_config_dir() -> Path:
    """The per-user config directory: ``$XDG_CONFIG_HOME/wirewatch`` (``~/.config/wirewatch``)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_data_dir() -> Path:
    """The per-user data directory: ``$XDG_DATA_HOME/wirewatch`` (``~/.local/share/wirewatch``)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_data_dir(directory: Path) -> Path:
    """Where data goes when ``data_dir`` is not set (see ``Config.data_dir``)."""
    if directory.resolve() == user_config_dir().resolve():
        return user_data_dir()
    return (directory / DEFAULT_DATA_DIR).resolve()


def config_dir(explicit: str | Path | None = None) -> Path:
    """``--config``, else ``$WIREWATCH_CONFIG``, else ``./config``, else the user config dir.

    Raises ConfigNotFound naming every place searched. A directory named explicitly (option
    or variable) must exist: it is never silently replaced by another one.
    """
    named = explicit or os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if path.is_dir():
            return path
        how = "--config" if explicit else f"${CONFIG_ENV}"
        if explicit and os.environ.get(CONFIG_ENV) == str(explicit):
            how = f"--config or ${CONFIG_ENV}"
        raise ConfigNotFound(
            f"config directory {path} (from {how}) not found; "
            f"create it with `wirewatch init {path}`"
        )
    searched = [Path("config"), user_config_dir()]
    for path in searched:
        if any((path / name).is_file() for name in MARKERS):
            return path
    places = f"./config ({searched[0].resolve()}), {searched[1]}"
    raise ConfigNotFound(
        f"no config directory found; searched {places}. Run `wirewatch init` to write the "
        f"starter config to {user_config_dir()}, or name a directory with --config DIR "
        f"or ${CONFIG_ENV}"
    )
