"""Installed, not cloned: config lookup, ``wirewatch init`` and a real wheel install.

The lookup order is ``--config``, ``$WIREWATCH_CONFIG``, ``./config``, then the XDG config
dir; data follows the config into the XDG data dir. ``init`` writes the starter config that
ships inside the package (the repository's ``config/``), and the wheel test proves it is
there in a plain, non-editable install run from an empty directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scheduler.config import load_config
from scheduler.locate import ConfigNotFound, config_dir, user_data_dir
from tests.conftest import REPO

LAUNCH = "from scheduler.cli import main; main()"
STARTER = sorted(
    p.relative_to(REPO / "config").as_posix() for p in (REPO / "config").rglob("*.yaml")
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An empty working directory and XDG dirs inside tmp_path; no WIREWATCH_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIREWATCH_", "XDG_"))}
    env |= {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "COLUMNS": "300",
    }
    work = tmp_path / "work"
    work.mkdir()
    for key in list(os.environ):
        if key.startswith(("WIREWATCH_", "XDG_")):
            monkeypatch.delenv(key)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.chdir(work)
    return env


def run(env: dict[str, str], *args: str, python: str = sys.executable, **extra: str):
    return subprocess.run(
        [python, "-c", LAUNCH, *args],
        cwd=Path.cwd(),
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lookup_order(home: dict[str, str], tmp_path: Path, monkeypatch) -> None:
    xdg = tmp_path / "xdg-config" / "wirewatch"
    xdg.mkdir(parents=True)
    (xdg / "wirewatch.yaml").write_text("")
    assert config_dir() == xdg
    Path("config").mkdir()
    assert config_dir() == xdg  # another program's ./config is passed over
    Path("config/sources.yaml").write_text("sources: []\n")
    assert config_dir() == Path("config")
    env_dir = tmp_path / "from-env"
    env_dir.mkdir()
    monkeypatch.setenv("WIREWATCH_CONFIG", str(env_dir))
    assert config_dir() == env_dir
    assert config_dir(str(xdg)) == xdg


def test_not_found_names_every_place_searched(home: dict[str, str], tmp_path: Path) -> None:
    res = run(home, "check")
    assert res.returncode == 1
    [line] = res.stderr.strip().splitlines()
    assert f"./config ({tmp_path / 'work' / 'config'})" in line
    assert str(tmp_path / "xdg-config" / "wirewatch") in line
    assert "wirewatch init" in line and "--config DIR" in line and "$WIREWATCH_CONFIG" in line


def test_a_named_directory_must_exist(home: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "xdg-config" / "wirewatch").mkdir(parents=True)  # never used instead
    with pytest.raises(ConfigNotFound, match=r"nope \(from --config\) not found.*init"):
        config_dir("nope")
    res = run(home, "check", WIREWATCH_CONFIG=str(tmp_path / "gone"))
    assert res.returncode == 1
    assert f"{tmp_path / 'gone'} (from --config or $WIREWATCH_CONFIG) not found" in res.stderr


def test_init_then_check_then_data_in_the_xdg_data_dir(home: dict[str, str], tmp_path) -> None:
    res = run(home, "init")
    assert res.returncode == 0, res.stderr
    target = tmp_path / "xdg-config" / "wirewatch"
    for rel in STARTER:
        written = (target / rel).read_text(encoding="utf-8")
        assert written == (REPO / "config" / rel).read_text(encoding="utf-8")
        assert str(target / rel) in res.stdout
    assert "wirewatch check\n" in res.stdout.replace("   (", "\n(")  # found without --config
    assert "MAIL_TO" in res.stdout  # variables the files read, named
    data = tmp_path / "xdg-data" / "wirewatch"
    assert f"the database will be {data / 'wirewatch.db'}" in res.stdout
    res = run(home, "check")
    assert res.returncode == 0, res.stderr
    assert f"configuration in {target} is valid" in res.stdout
    cfg = load_config(target)
    assert cfg.data_dir == data == user_data_dir()
    assert run(home, "db", "upgrade").returncode == 0
    assert (data / "wirewatch.db").is_file()


def test_init_refuses_a_non_empty_directory_unless_forced(home: dict[str, str], tmp_path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    (target / "sources.yaml").write_text("sources: []\n")
    res = run(home, "init", str(target))
    assert res.returncode == 1
    assert "not empty; use --force" in res.stderr
    assert (target / "sources.yaml").read_text() == "sources: []\n"
    res = run(home, "init", str(target), "--force")
    assert res.returncode == 0, res.stderr
    assert (target / "notes.txt").read_text() == "keep me"
    assert (target / "sources.yaml").read_bytes() == (REPO / "config/sources.yaml").read_bytes()
    # Not where wirewatch looks by default: the next steps say --config.
    assert f"wirewatch check --config {target}" in res.stdout
    assert f"wirewatch run --config {target}" in res.stdout
    assert load_config(target).data_dir == tmp_path / "data"


def test_clone_keeps_using_dot_config() -> None:
    """README's first command: from a clone, ./config and ./data."""
    cfg = load_config(REPO / "config", env={})
    assert cfg.data_dir == REPO / "data"


def test_wheel_ships_the_starter_config_and_runs_from_an_empty_directory(
    home: dict[str, str], tmp_path: Path
) -> None:
    """A real (non-editable) wheel: the starter files are real files inside it, equal to
    config/; installed alone (--target), it inits and checks in an empty directory."""
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = dist.glob("wirewatch-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for rel in STARTER:
            name = f"scheduler/starter/{rel}"
            assert name in names
            assert zf.read(name) == (REPO / "config" / rel).read_bytes()
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    env = {**home, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import scheduler; print(scheduler.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))  # the installed copy, not the checkout
    assert run(env, "check").returncode == 1
    # The README's "installed" commands before `run` (which .ci/run smoke-tests), in order.
    for args in readme_installed_commands()[:-1]:
        res = run(env, *args)
        assert res.returncode == 0, f"wirewatch {' '.join(args)}: {res.stderr}"
    assert "taiwan-us-ip" in res.stdout
    assert run(env, "db", "upgrade").returncode == 0
    assert (tmp_path / "xdg-data" / "wirewatch" / "wirewatch.db").is_file()


def readme_installed_commands() -> list[list[str]]:
    """The ``wirewatch …`` lines of the README block marked ``<!-- installed -->``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- installed -->\n```sh\n", 1)[1].split("```", 1)[0]
    lines = block.strip().splitlines()
    assert lines[0].split("#")[0].strip() == "pipx install wirewatch"
    commands = [line.split()[1:] for line in lines[1:]]
    assert commands == [["init"], ["check"], ["run"]]
    return commands
