"""Channels from ``channels.yaml`` (a name, an apprise URL, delivery limits) and sending one
message through one, with the outcome classified as sent, retryable or permanent."""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import sys
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, make_msgid, parsedate_to_datetime
from typing import Any, Literal, TextIO

from apprise import Apprise, AppriseAsset
from apprise.manager_plugins import NotificationManager
from apprise.plugins import url_to_dict
from apprise.plugins.base import NotifyBase
from apprise.plugins.email import NotifyEmail
from apprise.plugins.email.smtp import AppriseSMTPController
from apprise.result import AppriseResult, AppriseResultStatus
from pydantic import BaseModel, ConfigDict, Field, field_validator
from requests.adapters import HTTPAdapter

from crawler.durations import Duration

CONSOLE_URL = "console://"


class RateBudget(BaseModel):
    """At most ``max`` messages per ``per`` on one channel; the rest wait in the outbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max: int = Field(ge=1)
    per: Duration = timedelta(hours=1)


class Channel(BaseModel):
    """A named destination: ``console://`` or any apprise URL (mailto, slack, …)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=3)
    format: Literal["text", "markdown", "html"] | None = None
    rate: RateBudget | None = None
    max_length: int | None = Field(default=None, ge=200)
    timeout: Duration | None = None
    enabled: bool = True

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(seconds=1) <= value <= timedelta(minutes=10):
            raise ValueError("timeout must be between 1s and 10m")
        return value

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value.strip() in {"console", CONSOLE_URL}:
            return CONSOLE_URL
        if "://" not in value:
            raise ValueError("expected an apprise URL like 'mailtos://…' or 'slack://…'")
        if Apprise.instantiate(value) is None:
            scheme = value.split("://", 1)[0]
            raise ValueError(f"apprise cannot use this URL (scheme {scheme!r}); check its form")
        return value

    @property
    def is_console(self) -> bool:
        """True for the built-in console channel."""
        return self.url == CONSOLE_URL


class ChannelsFile(BaseModel):
    """The whole ``channels.yaml``."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[str, Channel] = Field(default_factory=dict)


# --- sending ---------------------------------------------------------------------------------
#
# One apprise service per channel, built once, called in the caller's thread: the asset's
# service_timeout is 0, so apprise neither hands the call to its shared worker pool (where a
# hung channel would hold a worker other channels need) nor abandons a still-running send
# whose message may yet arrive. Each wait is bounded by the service's socket timeouts
# (``cto``/``rto``, SMTP's one timeout), which the channel's ``timeout`` overrides.
#
# apprise 2.3 keeps an HTTP answer's status only in a log line and drops ``Retry-After``
# for every service. ``_observe`` wraps requests' transport once so that, inside one of our
# sends (a context variable is set, and apprise copies the context into any thread it uses),
# each answer's status and Retry-After are noted for ``classify``. E-mail gets a thin
# subclass: a ``+Message-ID=…`` URL header is added *next to* apprise's own random
# Message-ID (two headers), so ``_Email`` builds the MIME message itself, with our
# deterministic Message-ID and plain-text part, still sending through apprise's SMTP
# controller (TLS modes, login).

N_MGR = NotificationManager()
_HTTP_STATUS = re.compile(r"error=(\d{3})")
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
THROTTLED = frozenset({429, 503})
THROTTLE_DEFAULT = 30.0  # seconds a 429 without Retry-After pauses the channel


@dataclass(frozen=True)
class Message:
    """One rendered message: ``body`` is in ``body_format``; ``text`` is a plain alternative."""

    title: str
    body: str
    body_format: Literal["text", "markdown", "html"] = "text"
    text: str = ""
    message_id: str | None = None


@dataclass(frozen=True)
class ServiceOutcome:
    """What one apprise service reported for one message."""

    name: str
    url: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class SendResult:
    """The outcome of sending one message through a channel.

    ``retry_after`` (seconds, counted from ``answered_at``) is set when the service asked us
    to slow down (429, or 503 with Retry-After): the whole channel waits that long.
    ``throttled`` (a 429) means the message was refused for pace, not for a fault: it is
    not counted as an attempt.
    """

    ok: bool
    retryable: bool = True
    reason: str = ""
    retry_after: float | None = None
    services: tuple[ServiceOutcome, ...] = ()
    answered_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    throttled: bool = False


@dataclass
class _CallNotes:
    message: Message
    channel: str = ""
    statuses: list[int] = field(default_factory=list)
    retry_after: float | None = None

    def saw(self, status: int, retry_after: str | None) -> None:
        self.statuses.append(status)
        if status in THROTTLED:
            wait = parse_retry_after(retry_after)
            if wait is None and status == 429:
                wait = THROTTLE_DEFAULT
            if wait is not None:
                self.retry_after = max(wait, self.retry_after or 0.0)


_notes: ContextVar[_CallNotes | None] = ContextVar("wirewatch_send_notes", default=None)


def _observe() -> None:
    """Note each HTTP answer made during one of our sends (idempotent)."""
    original = HTTPAdapter.send
    if getattr(original, "_wirewatch", False):
        return

    def send(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, request, *args, **kwargs)
        notes = _notes.get()
        if notes is not None:
            notes.saw(response.status_code, response.headers.get("Retry-After"))
        return response

    send._wirewatch = True  # type: ignore[attr-defined]
    HTTPAdapter.send = send  # type: ignore[method-assign]


_observe()


class _NameChannel(logging.Filter):
    """apprise's "Notifying 1 service(s)." names our channel (or is dropped outside a send)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Notifying %d service(s)"):
            return True
        notes = _notes.get()
        if notes is None or not notes.channel:
            return False
        record.msg = "channel %s: notifying %d service(s)"
        record.args = (notes.channel, *(record.args or ()))  # type: ignore[misc]
        return True


if not any(isinstance(f, _NameChannel) for f in logging.getLogger("apprise").filters):
    logging.getLogger("apprise").addFilter(_NameChannel())


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Email(NotifyEmail):
    """apprise's e-mail plugin with a caller-chosen Message-ID and plain-text part."""

    def send(self, body: str, title: str = "", *args: Any, **kwargs: Any) -> bool:
        notes = _notes.get()
        if notes is None or kwargs.get("attach") or not self.targets:
            return bool(super().send(body, title, *args, **kwargs))
        msg = notes.message
        self.throttle()
        failed = False
        try:
            with AppriseSMTPController(
                host=self.smtp_host,
                port=self.port,
                secure_mode=self.secure_mode,
                user=self.user,
                password=self.password,
                verify_certificate=self.verify_certificate,
                socket_connect_timeout=self.socket_connect_timeout,
            ) as smtp:
                for name, to in self.targets:
                    mime = self._build(msg, body, title, name, to)
                    rcpt = [to, *sorted((self.cc | self.bcc) - {to})]
                    if not smtp.sendmail(self.from_addr[1], rcpt, mime.as_string()):
                        self.logger.warning("Sending email to %s failed.", to)
                        failed = True
        except (OSError, smtplib.SMTPException, RuntimeError) as exc:
            self.logger.warning("Connection error while submitting email: %s", exc)
            failed = True
        return not failed

    def _build(
        self, msg: Message, body: str, title: str, name: str | None, to: str
    ) -> EmailMessage:
        mime = EmailMessage(policy=MAIL_POLICY)
        for key, value in self.headers.items():
            mime[key] = clean_header(value)
        mime["Subject"] = clean_header(title)
        mime["From"] = formataddr((self.from_addr[0] or "", self.from_addr[1]))
        mime["To"] = formataddr((name or "", to))
        if self.cc - self.bcc - {to}:
            mime["Cc"] = ", ".join(sorted(self.cc - self.bcc - {to}))
        if self.reply_to:
            mime["Reply-To"] = ", ".join(sorted(self.reply_to))
        mime["Message-ID"] = msg.message_id or make_msgid(domain="wirewatch")
        mime["Date"] = format_datetime(datetime.now(UTC))
        mime["X-Application"] = self.app_id
        if msg.body_format == "html":
            mime.set_content(msg.text or body)
            mime.add_alternative(body, subtype="html")
        else:
            mime.set_content(body)
        return mime


_SUBCLASSES: dict[type[NotifyBase], type[NotifyBase]] = {NotifyEmail: _Email}


def fold_subject(subject: str, width: int = 78) -> str:
    """``Subject: …`` folded so that unfolding gives back exactly ``subject``.

    The stdlib folder may break right after the colon or double a space next to an encoded
    word (" [tw-deals] …" once unfolded). Plain ASCII is folded only at its own single spaces
    (never before the first word); anything else becomes UTF-8 encoded words, whose folding
    whitespace a reader drops (RFC 2047).
    """
    if subject.isascii() and "=?" not in subject and "  " not in subject:
        lines, line = [], "Subject:"
        for word in subject.split(" "):
            if len(line) + 1 + len(word) > width and line != "Subject:":
                lines.append(line)
                line = ""
            line += " " + word
        return "\r\n".join([*lines, line])
    encoded = Header(subject, "utf-8", header_name="Subject").encode(
        linesep="\r\n", maxlinelen=width
    )
    return f"Subject: {encoded}"


class _MailPolicy(EmailPolicy):
    """SMTP policy whose Subject folding keeps the subject exact (see ``fold_subject``)."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        # Kept verbatim: the default parse would decode "=?utf-8?q?…?=" written in a title.
        if name.lower() == "subject" and isinstance(value, str) and "\n" not in value:
            return name, value
        return super().header_store_parse(name, value)  # type: ignore[no-any-return]

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject":
            return fold_subject(str(value)) + self.linesep
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject":
            return self.fold(name, value).encode("ascii")
        return bytes(super().fold_binary(name, value))


MAIL_POLICY = _MailPolicy(linesep="\r\n")


def clean_header(value: str) -> str:
    """One header line: control characters (CR/LF included) become spaces, runs collapse."""
    return " ".join(_CTRL.sub(" ", value.replace("\r", " ").replace("\n", " ")).split())


def build_plugin(url: str, timeout: timedelta | None = None) -> NotifyBase:
    """Instantiate the apprise service for ``url`` (our subclass where we have one)."""
    results = url_to_dict(url, secure_logging=True)
    if results is None or results.get("schema") not in N_MGR:
        raise ValueError("apprise cannot use this URL; check its form")
    base = N_MGR[results["schema"]]
    cls = _SUBCLASSES.get(base, base)
    results["tag"] = set()
    results["asset"] = AppriseAsset(service_timeout=0)
    plugin = cls(**results)
    if timeout is not None:
        plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout.total_seconds()
    return plugin


def default_format(channel: Channel) -> Literal["text", "markdown", "html"]:
    """The body format for a channel: its ``format``, else by service."""
    if channel.format:
        return channel.format
    if channel.is_console:
        return "text"
    scheme = channel.url.split("://", 1)[0].lower()
    if scheme in {"mailto", "mailtos"}:
        return "html"
    if scheme in {"slack", "discord", "mmost", "mmosts", "rocket", "rockets", "tgram"}:
        return "markdown"
    return "text"


class ChannelSender:
    """Sends messages through one channel; reports each service's result."""

    def __init__(self, name: str, channel: Channel, *, stream: TextIO | None = None) -> None:
        self.name = name
        self.channel = channel
        self.format = default_format(channel)
        self._stream = stream
        self._apprise: Apprise | None = None
        self.max_length = channel.max_length
        if not channel.is_console:
            plugin = build_plugin(channel.url, channel.timeout)
            self._apprise = Apprise(asset=plugin.asset)
            self._apprise.add(plugin)
            if self.max_length is None and plugin.body_maxlen > 0:
                # the service's own limit (32 KiB for webhooks, 2,000 for Discord, …)
                self.max_length = max(int(plugin.body_maxlen), 200)

    def send(self, message: Message) -> SendResult:
        """Send ``message``; never raises for delivery problems."""
        if self._apprise is None:
            return self._print(message)
        notes = _CallNotes(message, self.name)
        token = _notes.set(notes)
        try:
            result = self._apprise.notify(
                body=message.body, title=message.title, body_format=message.body_format
            )
        except Exception as exc:  # a plugin bug must not take the dispatcher down
            return SendResult(False, True, f"apprise raised {type(exc).__name__}: {exc}")
        finally:
            _notes.reset(token)
        return classify(result, notes.statuses, notes.retry_after)

    def _print(self, message: Message) -> SendResult:
        stream = self._stream or sys.stdout
        text = message.text or message.body
        stream.write(f"== {message.title}\n{text}\n")
        stream.flush()
        return SendResult(True, services=(ServiceOutcome("console", "console://", True),))


def classify(
    result: AppriseResult, statuses: Sequence[int] = (), retry_after: float | None = None
) -> SendResult:
    """Turn apprise's per-service result into ok / retryable / permanent.

    Only a clear refusal of the request itself is permanent: every HTTP answer a 4xx other
    than 408/425/429. Anything else (timeouts, resets, 5xx, SMTP errors, a call apprise
    could not even dispatch) is retried with backoff until ``max_attempts``.
    """
    services = []
    codes = [s for s in statuses if not 200 <= s < 400]
    for svc in result:
        lines = [e.message for e in svc.logs() if e.level in {"WARNING", "ERROR"}]
        codes += [int(m) for line in lines for m in _HTTP_STATUS.findall(line)]
        detail = lines[-1] if lines else svc.status.name.lower()
        services.append(ServiceOutcome(svc.name, svc.url, bool(svc), "" if svc else detail))
    if result.status == AppriseResultStatus.SUCCESS and services and all(s.ok for s in services):
        return SendResult(True, services=tuple(services))
    failed = [s for s in services if not s.ok]
    reason = "; ".join(f"{s.name}: {s.detail}" for s in failed)
    if not reason:
        logs = [e.message for e in result.call_logs()]
        reason = logs[-1] if logs else f"apprise reported {result.status.name.lower()}"
    permanent = bool(codes) and all(400 <= c < 500 and c not in {408, 425, 429} for c in codes)
    return SendResult(
        False, not permanent, reason[:500], retry_after, tuple(services), throttled=429 in codes
    )


def senders(channels: Mapping[str, Channel]) -> dict[str, ChannelSender]:
    """A sender per enabled channel (channels apprise cannot load are left out)."""
    out: dict[str, ChannelSender] = {}
    for name, ch in channels.items():
        if ch.enabled:
            with contextlib.suppress(ValueError):
                out[name] = ChannelSender(name, ch)
    return out
