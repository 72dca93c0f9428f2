"""E-mail: apprise's ``mailto://`` service with our Message-ID and plain-text part.

A ``+Message-ID=…`` URL header is added *next to* apprise's own random Message-ID (two
headers), so this override builds the MIME message itself, with our deterministic
Message-ID and plain-text part, still sending through apprise's SMTP controller (TLS
modes, login). Outside one of our sends (no message noted) it is apprise's plugin.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from apprise.plugins.email import NotifyEmail
from apprise.plugins.email.smtp import AppriseSMTPController

from alerts.channels import wire
from alerts.channels.message import Message, clean_header
from alerts.channels.services import ServiceOverride


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


class EmailOverride(ServiceOverride, NotifyEmail):
    """apprise's e-mail plugin with a caller-chosen Message-ID and plain-text part."""

    def send(self, body: str, title: str = "", *args: Any, **kwargs: Any) -> bool:
        notes = wire.current()
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
