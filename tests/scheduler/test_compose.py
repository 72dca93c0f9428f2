"""docker-compose.yml is checked structurally: no Docker engine runs here."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}")


def expand(value: str) -> str:
    """Compose-style ``${VAR:-default}`` expansion with an empty environment."""
    return ENV_REF.sub(lambda m: m.group(3) or "", value)


def test_services_present() -> None:
    assert {"postgres", "wirewatch", "mailcatcher"} <= set(SERVICES)
    assert set(COMPOSE) <= {"services", "volumes", "networks", "configs", "secrets", "name"}


def test_every_service_has_an_image_or_a_build() -> None:
    for name, svc in SERVICES.items():
        assert ("image" in svc) ^ ("build" in svc), name
        if "build" in svc:
            ctx = REPO / (
                svc["build"] if isinstance(svc["build"], str) else svc["build"]["context"]
            )
            assert (ctx / "Dockerfile").is_file()


def test_dependencies_exist_and_postgres_is_waited_for() -> None:
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", {})
        for dep in deps:
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
    assert SERVICES["wirewatch"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["postgres"]


def test_database_url_matches_postgres_service() -> None:
    pg = SERVICES["postgres"]["environment"]
    url = expand(SERVICES["wirewatch"]["environment"]["WIREWATCH_DATABASE_URL"])
    m = re.fullmatch(r"postgresql://([^:]+):([^@]+)@([^:/]+):(\d+)/(\w+)", url)
    assert m, url
    user, password, host, port, db = m.groups()
    assert (user, password, db) == (
        pg["POSTGRES_USER"],
        expand(pg["POSTGRES_PASSWORD"]),
        pg["POSTGRES_DB"],
    )
    assert host == "postgres" and port == "5432"


def test_config_is_mounted_and_valid() -> None:
    svc = SERVICES["wirewatch"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
    target = svc["environment"]["WIREWATCH_CONFIG"]
    assert target in mounts
    host_dir = REPO / mounts[target]
    assert (host_dir / "sources.yaml").is_file()
    named = {src for src in mounts.values() if not src.startswith((".", "/"))}
    assert named <= set(COMPOSE.get("volumes", {}))

    from scheduler.config import load_config

    load_config(host_dir, env={})


def test_command_is_a_wirewatch_command() -> None:
    from scheduler.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert SERVICES["wirewatch"]["command"][0] in names


def test_ports_are_well_formed() -> None:
    for svc in SERVICES.values():
        for port in svc.get("ports", []):
            assert re.fullmatch(r"(\d+\.\d+\.\d+\.\d+:)?\d+:\d+", str(port)), port


def test_dockerfile_installs_the_project() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "pip install" in text and 'ENTRYPOINT ["wirewatch"]' in text
    for path in re.findall(r"^COPY (\S+)", text, re.M):
        assert (REPO / path).exists(), path


def compose_env(service: str = "wirewatch") -> dict[str, str]:
    """A service's environment as the container sees it (compose defaults applied)."""
    return {k: expand(str(v)) for k, v in SERVICES[service]["environment"].items()}


def test_every_compose_variable_has_a_default_or_is_documented() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for m in ENV_REF.finditer(text):
        name, default = m.group(1), m.group(2)
        assert default or name in header, f"${{{name}}} has no default and is not documented"


def test_config_variables_resolve_from_the_compose_environment() -> None:
    """What config/ needs from the environment: the compose service sets it or it has a
    default, so the mounted config loads in the container with nothing else set."""
    from scheduler.config import load_config

    cfg = load_config(REPO / "config", env=compose_env())
    email = cfg.channels["email"].url
    m = re.match(r"mailto://([^:/?]+):(\d+)\?", email)
    assert m and m.group(1) in SERVICES, email  # the mail catcher, by service name
    assert m.group(2) == "1025"  # mailpit's SMTP port
    assert m.group(1) == "mailcatcher"


def test_healthcheck_reads_healthz_where_the_daemon_listens() -> None:
    from scheduler.config import load_config
    from scheduler.http import check_exposure

    check = SERVICES["wirewatch"]["healthcheck"]
    assert check["test"][:3] == ["CMD", "python", "-c"]
    [url] = re.findall(r"http://[^'\"]+", check["test"][3])
    settings = load_config(REPO / "config", env=compose_env()).settings.http
    assert settings.listen and url == f"http://{settings.listen}/healthz"
    # The daemon starts its listener there: loopback needs no token.
    check_exposure(settings.listen, settings.token)
    assert re.search(r"^FROM python:", (REPO / "Dockerfile").read_text(), re.M)


@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 1)])
def test_healthcheck_command_exit_code(status: int, code: int) -> None:
    """The health check's command, run against a local /healthz answering ``status``."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        command = SERVICES["wirewatch"]["healthcheck"]["test"][3]
        local = command.replace("127.0.0.1:9464", f"127.0.0.1:{server.server_port}")
        assert local != command
        res = subprocess.run([sys.executable, "-c", local], capture_output=True, timeout=30)
        assert res.returncode == code, res.stderr
    finally:
        server.shutdown()
        server.server_close()


def test_bundled_email_channel_reaches_an_smtp_server(bundled_config: Path) -> None:
    """The compose setup, locally: ``notify-test email`` with SMTP_HOST/SMTP_PORT pointing
    at an SMTP server (aiosmtpd here, the mail catcher there) delivers the sample alert."""
    from tests.alerts.conftest import SmtpServer
    from tests.scheduler.test_cli_check import wirewatch

    smtp = SmtpServer()
    smtp.up()
    try:
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)}
        res = wirewatch("notify-test", "email", "-c", str(bundled_config), env=env)
    finally:
        smtp.down()
    assert res.returncode == 0, res.stdout + res.stderr
    [mail] = smtp.messages
    assert "wirewatch test alert" in mail["Subject"]
    assert smtp.envelopes == [("wirewatch@example.org", ["ip-team@example.org"])]
