"""Rendering: untrusted article text is neutralised per format; templates can be overridden."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.channels import Channel, ChannelSender
from alerts.outbox import load_item
from alerts.render import AlertItem, OtherSource, Renderer, md_escape, safe_url
from tests.alerts.conftest import (
    SLACK_URL,
    HttpReceiver,
    SmtpServer,
    add_delivery,
    add_story,
)

EVIL = AlertItem(
    watchlist="tw-ip",
    title="TRIPS <!channel> <http://evil.example|trusted> & <script>alert(1)</script>",
    url="https://news.example/a?b=1&c=<x>",
    source="src-a",
    snippet="see @here and <!here> under TRIPS",
    highlights=[(28, 33)],
    terms=["TRIPS"],
    others=(
        OtherSource("src-b", "copy", "javascript:alert(1)"),
        OtherSource("src-c", "copy", "https://c.example/x"),
    ),
)


def test_slack_payload_has_no_mentions_or_foreign_links(slack: HttpReceiver) -> None:
    sender = ChannelSender("slack", Channel(url=SLACK_URL))
    msg = Renderer().immediate(EVIL, sender.format)
    assert sender.send(msg).ok
    [(_, payload, _)] = slack.requests
    text = payload["attachments"][0]["text"] + payload["attachments"][0]["title"]
    for bad in ("<!channel>", "<!here>", "<http://evil.example|trusted>", "<script>", "@here"):
        assert bad not in text
    assert "&lt;!channel&gt;" in text
    assert "<https://news.example/a?b=1&amp;c=%3Cx%3E|" in text  # our link survives
    assert "javascript:" not in text and "<https://c.example/x|src-c>" in text


def test_email_html_escaped_and_subject_single_line(smtp: SmtpServer) -> None:
    sender = ChannelSender("mail", Channel(url=smtp.url()))
    title = "TRIPS\r\nBcc: victim@example.net <script>x</script>"
    item = AlertItem(**{**EVIL.__dict__, "title": title})
    assert sender.send(Renderer().immediate(item, "html", message_id="<d-1.1@wirewatch>")).ok
    [mail] = smtp.messages
    assert mail["Bcc"] is None and "victim" in mail["Subject"]
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode()
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "javascript:" not in body
    assert "<mark>TRIPS</mark>" in body
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    assert "src-c" in text.get_payload(decode=True).decode()  # other sources listed


def test_escape_helpers() -> None:
    assert md_escape("<!channel> a-b") == "\\<\\!channel\\> a-b"
    assert "@\u2060here" in md_escape("@here")
    assert safe_url("javascript:alert(1)") == ""
    assert safe_url("https://a.example/x y|z") == "https://a.example/x%20y%7Cz"


def test_user_template_overrides_by_name_and_stays_escaped(tmp_path: Path) -> None:
    (tmp_path / "immediate.md.j2").write_text("CUSTOM {{ item.title }}")
    r = Renderer(tmp_path)
    body = r.immediate(EVIL, "markdown").body
    assert body.startswith("CUSTOM ") and "<!channel>" not in body
    assert "src-a" in r.immediate(EVIL, "text").body  # others still from the built-in set


def test_digest_split_to_max_length_is_deterministic() -> None:
    items = [
        AlertItem(
            "tw-ip", f"Story {i} " + "x" * 80, f"https://a.example/{i}", "src", "snippet " * 10
        )
        for i in range(12)
    ]
    r = Renderer()
    parts = r.digest_parts("tw-ip", items, "markdown", max_length=400, batch_id="abc")
    assert len(parts) > 1 and all(len(p.body) <= 400 for p in parts)
    again = r.digest_parts("tw-ip", items, "markdown", max_length=400, batch_id="abc")
    assert [p.body for p in parts] == [p.body for p in again]
    assert parts[0].message_id == "<digest-abc.1@wirewatch>"
    assert sum(p.body.count("a.example") for p in parts) == 12


def test_publisher_missing_date_and_text_as_published(db: Any) -> None:
    """A stored Google News article: alerts name its publisher and say it has no date."""
    _, sessions = db
    fetched = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    title = "TRIPS 備忘錄，涵蓋專利授權（首批）"
    with sessions() as s, s.begin():
        art = add_story(s, title, source="gnews")
        art.publisher, art.fetched_at, art.published_at = "Reuters", fetched, None
        other = add_story(s, "TRIPS copy", source="gnews", story=art.story)
        other.publisher = "Focus Taiwan"
        match_id = add_delivery(s, art, "console").match_id
    with sessions() as s:
        item = load_item(s, match_id)
    r = Renderer()
    for fmt in ("text", "markdown", "html"):
        # Markdown escapes the punctuation that could start markup: read it unescaped.
        body = r.immediate(item, fmt).body.replace("\\", "")  # type: ignore[arg-type]
        assert "Reuters via gnews" in body and "Focus Taiwan via gnews" in body, fmt
        assert "no date (fetched 2026-03-01 12:00 UTC)" in body, fmt
        assert "備忘錄，涵蓋專利授權（首批）" in body, fmt  # full-width punctuation kept
        digest = r.digest_parts("tw-ip", [item], fmt)[0].body.replace("\\", "")  # type: ignore[arg-type]
        assert "Reuters via gnews" in digest and "no date (fetched" in digest, fmt
    dated = AlertItem(**{**item.__dict__, "published_at": fetched, "publisher": None})
    assert "gnews · 2026-03-01 12:00 UTC" in r.immediate(dated, "text").body


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_story_without_title_is_shown_as_no_title(fmt: str) -> None:
    item = AlertItem(**{**EVIL.__dict__, "title": " "})
    msg = Renderer().immediate(item, fmt)
    assert msg.title == "[tw-ip] (no title)"
    assert ("\\(no title\\)" if fmt == "markdown" else "(no title)") in msg.body
