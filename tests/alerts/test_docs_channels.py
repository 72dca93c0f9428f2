"""docs/channels.md: every recipe sent by the real ``wirewatch notify-test`` to a local receiver.

Receivers: aiosmtpd (plain; STARTTLS with login; implicit TLS with login) and HTTP/HTTPS
servers that record each request. A hosted service (Gmail, Office 365, Slack, Teams,
Telegram, Discord, ntfy.sh) is reached by resolving its host name to the local receiver in
the CLI's process, the only stand-in: the URL apprise builds, the TLS handshake (a test CA
trusted through ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``, a certificate for the service's
name), the login and the request are real. Assertions are on what arrived.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as MimeMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from apprise import Apprise

from alerts.channels import Channel
from tests.alerts.conftest import free_port
from tests.conftest import REPO

TEXT = (REPO / "docs" / "channels.md").read_text(encoding="utf-8")
RECIPES = dict(re.findall(r"<!-- recipe: (\S+) -->\n```yaml\n(.*?)```", TEXT, re.S))
HOSTED = (
    "smtp.gmail.com",
    "smtp.office365.com",
    "hooks.slack.com",
    "slack.com",
    "prod-12.westus.logic.azure.com",
    "api.telegram.org",
    "discord.com",
    "ntfy.sh",
)
TITLE = "wirewatch test alert"  # what notify-test sends

# Resolve the names in TEST_ROUTES ("host:port" → local port), then run the real CLI.
LAUNCH = """
import json, os, socket
routes = json.loads(os.environ.pop("TEST_ROUTES", "{}"))
resolve = socket.getaddrinfo
def getaddrinfo(host, port, *args, **kwargs):
    local = routes.get(f"{host}:{port}")
    if local:
        host, port = "127.0.0.1", local
    return resolve(host, port, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
from scheduler.cli import main
main()
"""


@dataclass
class Tls:
    """A test CA, its certificate file, and a server context for every name used here."""

    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", *HOSTED).configure_cert(server)
    return Tls(ca_file, server)


# --- receivers -------------------------------------------------------------------------------


@dataclass
class Mail:
    """One message as the SMTP server saw it."""

    message: MimeMessage
    mail_from: str
    rcpt_tos: list[str]
    login: tuple[str, str] | None
    tls: bool


@dataclass
class SmtpReceiver:
    """aiosmtpd on loopback: ``mode`` plain, starttls (required, with login) or ssl (login)."""

    mode: str
    tls: Tls
    port: int = field(default_factory=free_port)
    mails: list[Mail] = field(default_factory=list)
    logins: dict[int, tuple[str, str]] = field(default_factory=dict)

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins[id(session)] = (data.login.decode(), data.password.decode())
        return AuthResult(success=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            Mail(
                message_from_bytes(envelope.original_content),
                envelope.mail_from,
                list(envelope.rcpt_tos),
                self.logins.get(id(session)),
                session.ssl is not None,
            )
        )
        return "250 OK"

    def start(self) -> Controller:
        options: dict[str, Any] = {}
        if self.mode == "starttls":
            options = {"tls_context": self.tls.server, "require_starttls": True}
        if self.mode == "ssl":
            # aiosmtpd counts only STARTTLS as TLS for AUTH; the connection here is all TLS.
            options = {"ssl_context": self.tls.server, "auth_require_tls": False}
        if self.mode != "plain":
            options |= {"auth_required": True, "authenticator": self.authenticate}
        controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="localhost", **options
        )
        controller.start()
        return controller


@dataclass
class Request:
    """One HTTP request as the receiver saw it."""

    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# Slack's webhooks answer a plain "ok"; the other services here answer JSON.
ANSWERS = {"hooks.slack.com": b"ok"}


class HttpReceiver:
    """An HTTP (or, given a context, HTTPS) server on loopback answering 200 to every request
    (``ANSWERS`` by host, else ``{"ok": true, "result": {}}``), and recording each."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.requests: list[Request] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                host = self.headers.get("Host", "").split(":")[0]
                receiver.requests.append(
                    Request(
                        self.command,
                        host,
                        url.path,
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                answer = ANSWERS.get(host, b'{"ok": true, "result": {}}')
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_PUT = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def only(self) -> Request:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


@pytest.fixture
def https(tls: Tls) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(tls.server)
    yield receiver
    receiver.close()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp(request: pytest.FixtureRequest, tls: Tls) -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(request.param, tls)
    controller = receiver.start()
    yield receiver
    controller.stop()


# --- running a recipe ------------------------------------------------------------------------


def notify_test(
    recipe: str,
    tmp_path: Path,
    tls: Tls,
    env: dict[str, str],
    routes: dict[str, int] | None = None,
) -> str:
    """Write the recipe as channels.yaml and run ``wirewatch notify-test`` on its channel;
    its output must not show any ``*PASSWORD*``/``*TOKEN*`` value."""
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "channels.yaml").write_text(RECIPES[recipe], encoding="utf-8")
    [channel] = yaml.safe_load(RECIPES[recipe])["channels"]
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    run_env |= {
        **env,
        "WIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'ww.db'}",
        "SSL_CERT_FILE": str(tls.ca_file),
        "REQUESTS_CA_BUNDLE": str(tls.ca_file),
        "TEST_ROUTES": json.dumps(routes or {}),
        "COLUMNS": "300",
    }
    cmd = [sys.executable, "-c", LAUNCH, "notify-test", channel, "-c", str(conf)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=run_env)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
    assert f"sent a test alert through {channel}" in res.stdout
    for secret in (v for k, v in env.items() if "PASSWORD" in k or "TOKEN" in k):
        assert secret not in res.stdout + res.stderr, "secret printed"
    return res.stdout


def test_every_recipe_is_tested_and_parses() -> None:
    tested = {
        name.removeprefix("test_recipe_").replace("_", "-")
        for name in globals()
        if name.startswith("test_recipe_")
    }
    assert tested == set(RECIPES)
    for name, text in RECIPES.items():
        for channel in yaml.safe_load(text)["channels"].values():
            assert "${" in channel["url"], f"{name}: keep secrets and hosts in variables"


# --- e-mail ----------------------------------------------------------------------------------


def _html_and_text(mail: Mail) -> None:
    msg = mail.message
    assert TITLE in msg["Subject"]
    assert msg.get_content_type() == "multipart/alternative"
    kinds = {p.get_content_type() for p in msg.walk() if not p.is_multipart()}
    assert kinds == {"text/plain", "text/html"}


@pytest.mark.parametrize("smtp", ["plain"], indirect=True)
def test_recipe_email_local(smtp: SmtpReceiver, tmp_path: Path, tls: Tls) -> None:
    notify_test(
        "email-local", tmp_path, tls, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)}
    )
    [mail] = smtp.mails
    assert (mail.mail_from, mail.rcpt_tos) == ("wirewatch@example.org", ["ip-team@example.org"])
    assert mail.login is None and not mail.tls
    _html_and_text(mail)


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_recipe_email_starttls(smtp: SmtpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {
        "SMTP_USER": "wirewatch",
        "SMTP_PASSWORD": "p%40ss%3Aw%2Frd",  # URL-encoded, as the doc says
        "SMTP_HOST": "localhost",
        "SMTP_PORT": str(smtp.port),
    }
    notify_test("email-starttls", tmp_path, tls, env)
    [mail] = smtp.mails
    assert mail.tls and mail.login == ("wirewatch", "p@ss:w/rd")
    assert mail.message["From"] == "wirewatch@example.org"
    _html_and_text(mail)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("smtp", ["ssl"], indirect=True)
def test_recipe_email_ssl(smtp: SmtpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {
        "SMTP_USER": "wirewatch",
        "SMTP_PASSWORD": "app-password",
        "SMTP_HOST": "localhost",
        "SMTP_PORT": str(smtp.port),
    }
    notify_test("email-ssl", tmp_path, tls, env)
    [mail] = smtp.mails
    assert mail.login == ("wirewatch", "app-password")
    assert mail.rcpt_tos == ["ip-team@example.org"]


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_recipe_gmail(smtp: SmtpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {"GMAIL_USER": "alice", "GMAIL_APP_PASSWORD": "abcdefghijklmnop"}
    notify_test("gmail", tmp_path, tls, env, {"smtp.gmail.com:587": smtp.port})
    [mail] = smtp.mails
    assert mail.tls and mail.login == ("alice@gmail.com", "abcdefghijklmnop")
    assert mail.mail_from == "alice@gmail.com"
    assert mail.message["From"] == "wirewatch <alice@gmail.com>"
    assert mail.rcpt_tos == ["ip-team@example.org"]


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_recipe_office365(smtp: SmtpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {"O365_USER": "alerts@contoso.com", "O365_APP_PASSWORD": "app-password-365"}
    notify_test("office365", tmp_path, tls, env, {"smtp.office365.com:587": smtp.port})
    [mail] = smtp.mails
    assert mail.tls and mail.login == ("alerts@contoso.com", "app-password-365")
    assert mail.mail_from == "alerts@contoso.com"


# --- chat services ---------------------------------------------------------------------------

SLACK_WEBHOOK = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


def test_recipe_slack_webhook(https: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {"SLACK_WEBHOOK_URL": SLACK_WEBHOOK}
    notify_test("slack-webhook", tmp_path, tls, env, {"hooks.slack.com:443": https.port})
    req = https.only()
    assert (req.method, req.host) == ("POST", "hooks.slack.com")
    assert req.path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    assert TITLE in json.dumps(req.json(), ensure_ascii=False)
    # The paste-as-is form and the slack:// form are the same service.
    assert (
        Apprise.instantiate(SLACK_WEBHOOK).url()
        == Apprise.instantiate("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7").url()
    )


def test_recipe_slack_bot(https: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    token = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
    notify_test(
        "slack-bot", tmp_path, tls, {"SLACK_BOT_TOKEN": token}, {"slack.com:443": https.port}
    )
    req = https.only()
    assert (req.host, req.path) == ("slack.com", "/api/chat.postMessage")
    assert req.headers["authorization"] == f"Bearer {token}"
    assert req.json()["channel"] == "#ip-alerts"


def test_recipe_teams(https: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    url = (
        "https://prod-12.westus.logic.azure.com:443/workflows/a1b2c3d4e5f60718293a4b5c6d7e8f90"
        "/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun"
        "&sv=1.0&sig=AbCdEf-GhIjKl_MnOpQrStUvWxYz0123456789"
    )
    env = {"TEAMS_WORKFLOW_URL": url}
    notify_test("teams", tmp_path, tls, env, {"prod-12.westus.logic.azure.com:443": https.port})
    req = https.only()
    assert req.host == "prod-12.westus.logic.azure.com"
    assert req.path == ("/workflows/a1b2c3d4e5f60718293a4b5c6d7e8f90/triggers/manual/paths/invoke")
    assert req.query["sig"] == ["AbCdEf-GhIjKl_MnOpQrStUvWxYz0123456789"]
    assert req.query["api-version"] == ["2016-06-01"]
    card = req.json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert TITLE in json.dumps(card, ensure_ascii=False)
    with pytest.raises(ValueError, match="apprise cannot use this URL"):
        Channel(url="msteams://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7")


def test_recipe_telegram(https: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    env = {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_CHAT_ID": "-1001234567890"}
    notify_test("telegram", tmp_path, tls, env, {"api.telegram.org:443": https.port})
    sent = [r for r in https.requests if r.path.endswith("/sendMessage")]
    assert len(sent) == 1
    assert (sent[0].host, sent[0].path) == ("api.telegram.org", f"/bot{token}/sendMessage")
    payload = sent[0].json()
    assert str(payload["chat_id"]) == "-1001234567890" and TITLE in payload["text"]


def test_recipe_discord(https: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {"DISCORD_WEBHOOK_ID": "112233445566778899", "DISCORD_WEBHOOK_TOKEN": "AbC-dEf_123"}
    notify_test("discord", tmp_path, tls, env, {"discord.com:443": https.port})
    req = https.only()
    assert (req.host, req.path) == ("discord.com", "/api/webhooks/112233445566778899/AbC-dEf_123")
    assert TITLE in json.dumps(req.json(), ensure_ascii=False)


def test_recipe_ntfy_cloud(https: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {"NTFY_TOPIC": "wirewatch-7f3a9c2e"}
    notify_test("ntfy-cloud", tmp_path, tls, env, {"ntfy.sh:443": https.port})
    req = https.only()
    assert req.host == "ntfy.sh"
    assert "wirewatch-7f3a9c2e" in req.path + json.dumps(req.json())
    assert TITLE in json.dumps(req.json(), ensure_ascii=False)


def test_recipe_ntfy_self_hosted(https: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    token = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"
    env = {"NTFY_TOKEN": token, "NTFY_HOST": f"localhost:{https.port}"}
    notify_test("ntfy-self-hosted", tmp_path, tls, env)
    req = https.only()
    assert req.headers["authorization"] == f"Bearer {token}"
    assert "wirewatch-alerts" in req.path + json.dumps(req.json())


# --- generic webhooks ------------------------------------------------------------------------


def test_recipe_webhook_json(http: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    env = {"HOOK_HOST": f"127.0.0.1:{http.port}", "HOOK_TOKEN": "hook-secret-token"}
    out = notify_test("webhook-json", tmp_path, tls, env)  # the header secret is masked
    assert "X-Wirewatch-Token=***" in out
    req = http.only()
    assert (req.method, req.path) == ("POST", "/wirewatch")
    assert req.headers["x-wirewatch-token"] == "hook-secret-token"
    payload = req.json()
    assert TITLE in payload["title"] and "message" not in payload  # renamed to "text"
    assert "notify-test" in payload["text"] and payload["version"] == "1.0"


def test_recipe_webhook_form(http: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    notify_test("webhook-form", tmp_path, tls, {"HOOK_HOST": f"127.0.0.1:{http.port}"})
    req = http.only()
    assert req.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = parse_qs(req.body.decode())
    assert TITLE in form["title"][0] and form["message"][0]


def test_recipe_webhook_xml(http: HttpReceiver, tmp_path: Path, tls: Tls) -> None:
    notify_test("webhook-xml", tmp_path, tls, {"HOOK_HOST": f"127.0.0.1:{http.port}"})
    body = http.only().body.decode()
    assert "soapenv:Envelope" in body and TITLE in body
