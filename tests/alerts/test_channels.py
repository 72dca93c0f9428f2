"""The sender over apprise, against a real SMTP server and local HTTP receivers."""

from __future__ import annotations

import io

import pytest

from alerts.channels import (
    Channel,
    ChannelSender,
    Message,
    classify,
    clean_header,
    parse_retry_after,
)
from alerts.redact import redact_url
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


@pytest.mark.parametrize("scheme", ["json", "form", "xml"])
def test_generic_webhooks_report_retry_after(http: HttpReceiver, scheme: str) -> None:
    sender = ChannelSender("hook", Channel(url=f"{scheme}://127.0.0.1:{http.port}/hook"))
    http.script = [Reply(429, b"", {"Retry-After": "45"}), Reply(503, b"", {"Retry-After": "45"})]
    paced = sender.send(Message("t", "b"))
    assert not paced.ok and paced.retryable
    assert (paced.retry_after, paced.throttled) == (45, True)
    down = sender.send(Message("t", "b"))
    assert (down.retryable, down.retry_after, down.throttled) == (True, 45, False)
    assert sender.send(Message("t", "b")).ok


def test_a_call_apprise_could_not_dispatch_is_retried() -> None:
    """No service result at all (e.g. apprise's pool refusing work while the process stops)
    is not a permanent failure: it was the reason alerts went dead on their first attempt."""
    from apprise.result import AppriseResult, AppriseResultStatus

    crashed = classify(AppriseResult(status=AppriseResultStatus.FAILURE, results=[]))
    assert not crashed.ok and crashed.retryable
    assert classify(AppriseResult(status=AppriseResultStatus.NOMATCH, results=[])).retryable
    assert not classify(AppriseResult(status=AppriseResultStatus.FAILURE), [403]).retryable


def test_webhook_messages_are_capped_by_default(http: HttpReceiver) -> None:
    hook = ChannelSender("hook", Channel(url=f"json://127.0.0.1:{http.port}/hook"))
    assert hook.max_length == 32768  # apprise's own limit for the service
    assert ChannelSender("d", Channel(url="discord://1234/abcd")).max_length == 2000
    assert ChannelSender("hook", Channel(url=hook.channel.url, max_length=500)).max_length == 500


def test_channel_timeout_bounds_each_wait() -> None:
    from datetime import timedelta

    from tests.alerts.conftest import BlackHole

    hole = BlackHole()
    try:
        channel = Channel(url=f"json://127.0.0.1:{hole.port}/h", timeout="1s")
        assert channel.timeout == timedelta(seconds=1)
        result = ChannelSender("hook", channel).send(Message("t", "b"))
        assert not result.ok and result.retryable
    finally:
        hole.close()
    with pytest.raises(ValueError, match="timeout"):
        Channel(url="json://127.0.0.1/h", timeout="0s")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "json://h:1/hook?method=POST&%2BX-Token=s3cret&-api_key=k3y&%3Amessage=text",
            "json://h:1/hook?method=POST&+X-Token=***&-api_key=***&:message=text",
        ),
        (
            "workflow://h/w...d/?api-version=2016-06-01&sig=abc",
            "workflow://h/w...d/?api-version=2016-06-01&sig=***",
        ),
        ("slack://T...1/B...2/C...3/", "slack://T...1/B...2/C...3/"),
    ],
)
def test_redact_url_masks_header_payload_and_credential_parameters(url: str, shown: str) -> None:
    assert redact_url(url) == shown
