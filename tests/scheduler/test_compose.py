"""docker-compose.yml is checked structurally: no Docker engine runs here."""

from __future__ import annotations

import re

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
    from scheduler.cli import _register_commands, app

    _register_commands()
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
