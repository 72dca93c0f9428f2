"""The sender over apprise, against a real SMTP server and local HTTP receivers."""

from __future__ import annotations

import io

from alerts.channels import Channel, ChannelSender, Message, clean_header, parse_retry_after
from tests.alerts.conftest import SLACK_URL, HttpReceiver, Reply, SmtpServer


def test_email_has_one_deterministic_message_id_and_both_parts(smtp: SmtpServer) -> None:
    sender = ChannelSender("mail", Channel(url=smtp.url()))
    msg = Message(
        "Subject line", "<p>Hi <b>there</b></p>", "html", "Hi there", "<delivery-7.3@wirewatch>"
    )
    result = sender.send(msg)
    assert result.ok, result
    assert [s.name for s in result.services] == ["E-Mail"]
    [mail] = smtp.messages
    assert mail.get_all("Message-ID") == ["<delivery-7.3@wirewatch>"]
    assert mail.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert parts["text/plain"].strip() == "Hi there"
    assert "<b>there</b>" in parts["text/html"]


def test_email_subject_crlf_injection_stays_one_header(smtp: SmtpServer) -> None:
    sender = ChannelSender("mail", Channel(url=smtp.url()))
    evil = "Patent news\r\nBcc: victim@example.net\r\n\r\nbody"
    assert sender.send(Message(evil, "x", "text", message_id="<a@wirewatch>")).ok
    [mail] = smtp.messages
    assert mail["Bcc"] is None
    assert "\n" not in mail["Subject"] and "Bcc: victim" in mail["Subject"]
    assert smtp.envelopes[0][1] == ["ops@example.org"]
    assert clean_header("a\r\nb\x00c") == "a b c"


def test_smtp_down_is_a_retryable_failure(smtp: SmtpServer) -> None:
    smtp.down()
    result = ChannelSender("mail", Channel(url=smtp.url())).send(Message("t", "b"))
    assert not result.ok and result.retryable
    assert result.services and not result.services[0].ok


def test_slack_429_reports_retry_after(slack: HttpReceiver) -> None:
    slack.script = [Reply(429, b"rate_limited", {"Retry-After": "42"})]
    sender = ChannelSender("slack", Channel(url=SLACK_URL))
    result = sender.send(Message("t", "body", "markdown"))
    assert not result.ok and result.retryable
    assert result.retry_after == 42
    assert slack.requests[0][0] == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    assert sender.send(Message("t", "body", "markdown")).ok


def test_slack_404_is_permanent_and_500_retryable(slack: HttpReceiver) -> None:
    sender = ChannelSender("slack", Channel(url=SLACK_URL))
    slack.script = [Reply(404, b"no_service"), Reply(500, b"oops")]
    gone = sender.send(Message("t", "b", "markdown"))
    assert not gone.ok and not gone.retryable
    busy = sender.send(Message("t", "b", "markdown"))
    assert not busy.ok and busy.retryable and busy.retry_after is None


def test_json_webhook_status_classified(http: HttpReceiver) -> None:
    sender = ChannelSender("hook", Channel(url=f"json://127.0.0.1:{http.port}/hook"))
    http.script = [Reply(503, b"")]
    assert sender.send(Message("t", "b")).retryable
    http.script = [Reply(400, b"")]
    assert not sender.send(Message("t", "b")).retryable
    ok = sender.send(Message("t", "hello"))
    assert ok.ok and http.requests[-1][1]["message"] == "hello"


def test_console_prints() -> None:
    buf = io.StringIO()
    sender = ChannelSender("console", Channel(url="console://"), stream=buf)
    assert sender.send(Message("Title", "<p>x</p>", "html", "plain x")).ok
    assert "Title" in buf.getvalue() and "plain x" in buf.getvalue()


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
