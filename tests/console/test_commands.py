"""``wirewatch console`` and the daemon's listener, run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.alerts.conftest import HttpReceiver, free_port
from tests.conftest import REPO
from tests.console.conftest import open_console
from tests.scheduler.test_cli_check import wirewatch


def _env(db: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    return {**env, "WIREWATCH_DATABASE_URL": db}


def _wait_get(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {proc.communicate()[0]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


def test_console_command_serves_the_archive(
    tmp_path: Path, hooks: tuple[HttpReceiver, HttpReceiver]
) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    config, engine, _, ids = open_console(db, tmp_path / "config", hooks)
    engine.dispose()
    port = free_port()
    cmd = [sys.executable, "-c", "from scheduler.cli import main; main()", "console"]
    proc = subprocess.Popen(
        [*cmd, "-c", str(config.directory), "--listen", f"127.0.0.1:{port}"],
        cwd=REPO, env=_env(db), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        page = _wait_get(f"http://127.0.0.1:{port}/stories/{ids.en}", proc)
        assert "MOEA news" in page and "wirewatch console" in page
        assert '"status": "ok"' in _wait_get(f"http://127.0.0.1:{port}/healthz", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def test_console_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    res = wirewatch(
        "console",
        "--listen",
        "0.0.0.0:0",
        env={"WIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/w.db"},
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs http.token" in lines[0]


def test_daemon_serves_the_console_and_stops_cleanly(
    tmp_path: Path, hooks: tuple[HttpReceiver, HttpReceiver]
) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    port = free_port()
    config, engine, _, ids = open_console(db, tmp_path / "config", hooks)
    engine.dispose()
    settings = config.directory / "wirewatch.yaml"
    settings.write_text(
        settings.read_text().replace(
            "http: {public_url: 'http://console.test:9464'}",
            f"http: {{listen: '127.0.0.1:{port}'}}",
        )
    )
    cmd = [sys.executable, "-c", "from scheduler.cli import main; main()", "run"]
    proc = subprocess.Popen(
        [*cmd, "-c", str(config.directory)], cwd=REPO, env=_env(db),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        page = _wait_get(f"http://127.0.0.1:{port}/stories", proc)
        assert f'href="/stories/{ids.zh}"' in page and "wirewatch console" not in page
        assert "wirewatch_sources" in _wait_get(f"http://127.0.0.1:{port}/metrics", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_daemon_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    root = tmp_path / "config"
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text("http: {listen: '0.0.0.0:0'}\ndata_dir: ./data\n")
    res = wirewatch("run", "-c", str(root))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs http.token" in lines[0], res.stderr
