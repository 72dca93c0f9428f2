"""``wirewatch alerts``, ``alerts retry`` and ``notify-test`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import scheduler.cli as cli_module
from scheduler.cli import _register_commands, app
from tests.alerts.conftest import HttpReceiver, Reply, add_delivery, add_story, statuses


@pytest.fixture
def cli(db, http: HttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    engine, sessions = db
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "channels.yaml").write_text(
        f"channels:\n  hook:\n    url: json://127.0.0.1:{http.port}/h\n"
        "  down:\n    url: json://127.0.0.1:9/h\n"
    )
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("WIREWATCH_CONFIG", str(conf))
    monkeypatch.setattr(cli_module.out, "width", 200)  # a wide terminal: no folded cells
    _register_commands()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args)), sessions


def test_ledger_and_retry(cli) -> None:  # type: ignore[no-untyped-def]
    run, sessions = cli
    with sessions() as s:
        a = add_delivery(s, add_story(s, "TRIPS one"), "hook")
        b = add_delivery(s, add_story(s, "TRIPS two"), "hook")
        a.status, a.attempts, a.last_error = "dead", 10, "Custom JSON: error=503"
        b.status = "sent"
        s.commit()
        ids = (a.id, b.id)
    res = run("alerts")
    assert res.exit_code == 0, res.output
    assert "dead" in res.output and "sent" in res.output and "error=503" in res.output
    res = run("alerts", "--status", "sent", "--limit", "5")
    assert res.exit_code == 0 and "dead" not in res.output
    res = run("alerts", "retry", str(ids[0]), str(ids[1]))
    assert res.exit_code == 0 and "re-queued 1 delivery" in res.output
    assert statuses(sessions) == {ids[0]: "pending", ids[1]: "sent"}
    res = run("alerts", "retry", "--all-dead")
    assert res.exit_code == 0 and "re-queued 0" in res.output
    assert run("alerts", "retry").exit_code == 1


def test_notify_test(cli, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    run, _ = cli
    res = run("notify-test", "hook")
    assert res.exit_code == 0, res.output
    assert "ok" in res.output and "sent a test alert" in res.output
    assert "wirewatch test alert" in http.requests[0][1]["title"]
    http.script = [Reply(401, b"")]
    res = run("notify-test", "hook")
    assert res.exit_code == 1 and "permanent failure" in res.output
    res = run("notify-test", "down")
    assert res.exit_code == 1 and "retryable failure" in res.output
    res = run("notify-test", "nope")
    assert res.exit_code == 1 and "no channel 'nope'" in res.output


def test_notify_test_cuts_the_message_like_the_sender(cli, http: HttpReceiver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A channel without max_length uses its service's limit (32,768 for a JSON webhook), in
    notify-test as in real deliveries; a user template makes the sample longer than that."""
    templates = tmp_path / "config" / "templates"
    templates.mkdir()
    (templates / "immediate.txt.j2").write_text("{{ item.title }} " + "x" * 40_000)
    run, _ = cli
    res = run("notify-test", "hook")
    assert res.exit_code == 0, res.output
    body = http.requests[0][1]["message"]
    assert body.startswith("wirewatch test alert xxx") and len(body) == 32_768
