"""E-mail: apprise's ``mailto://`` service with our Message-ID and plain-text part.

A ``+Message-ID=…`` URL header is added *next to* apprise's own random Message-ID (two
headers), so this override builds the MIME message itself, with our deterministic
Message-ID and plain-text part, still sending through apprise's SMTP controller (TLS
modes, login). Outside one of our sends (no message noted) it is apprise's plugin.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from apprise.plugins.email import NotifyEmail
from apprise.plugins.email.smtp import AppriseSMTPController

from alerts.channels import wire
from alerts.channels.message import Message, clean_header
from alerts.channels.services import ServiceOverride


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
        mime = EmailMessage(policy=email_policy.SMTP)
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
