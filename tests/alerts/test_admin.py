"""Admin notices: once per distinct problem, not once per poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alerts.admin import check_sources, error_fingerprint
from alerts.channels import senders
from crawler.models import AdminNotice, Source
from crawler.sources import SourcesFile
from scheduler.settings import AlertSettings, AppSettings
from tests.alerts.conftest import HttpReceiver, Reply, add_source, make_cfg


def _cfg(port: int):  # type: ignore[no-untyped-def]
    cfg = make_cfg({"ops": f"json://127.0.0.1:{port}/ops"})
    cfg.settings = AppSettings(
        alerts=AlertSettings(admin_channel="ops", failure_threshold=3, silence_factor=10)
    )
    cfg.sources = SourcesFile.model_validate(
        {
            "sources": [
                {"id": "tipo", "type": "rss", "url": "https://tipo.example/feed", "interval": "1h"},
                {"id": "moea", "type": "rss", "url": "https://moea.example/feed", "interval": "1h"},
            ]
        }
    )
    return cfg


def test_fingerprint_ignores_volatile_parts() -> None:
    a = error_fingerprint("Timeout after 30.2 s fetching https://a.example/feed?x=1")
    assert a == error_fingerprint("timeout after 31 s fetching https://a.example/feed?x=2")
    assert a != error_fingerprint("HTTP 403 Forbidden")


def test_failing_source_notified_once_per_distinct_error(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _cfg(http.port)
    out = senders(cfg.channels)
    now = datetime.now(UTC)
    with sessions() as s:
        add_source(
            s,
            "tipo",
            consecutive_failures=3,
            last_error="timeout after 30.1 s",
            last_success_at=now,
        )
        add_source(s, "moea", consecutive_failures=1, last_error="x", last_success_at=now)
        s.commit()
    report = check_sources(sessions, cfg, now, channel_senders=out)
    assert report.queued == ["tipo:failing"] and report.sent == 1
    for i in range(4):  # more polls failing the same way: nothing new
        with sessions() as s:
            src = s.get(Source, "tipo")
            src.consecutive_failures += 1
            src.last_error = f"timeout after {30 + i}.7 s"
            s.commit()
        assert check_sources(sessions, cfg, now, channel_senders=out).queued == []
    with sessions() as s:
        s.get(Source, "tipo").last_error = "HTTP 403 Forbidden"
        s.commit()
    assert check_sources(sessions, cfg, now, channel_senders=out).queued == ["tipo:failing"]
    assert len(http.requests) == 2
    assert "403" in http.requests[-1][1]["message"]


def test_silent_source_and_retry_of_notice(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _cfg(http.port)
    out = senders(cfg.channels)
    now = datetime.now(UTC)
    with sessions() as s:
        add_source(s, "tipo", last_success_at=now, last_new_item_at=now - timedelta(hours=11))
        add_source(s, "moea", last_success_at=now, last_new_item_at=now - timedelta(hours=5))
        s.commit()
    http.script = [Reply(500, b"")]
    report = check_sources(sessions, cfg, now, channel_senders=out)
    assert report.queued == ["tipo:silent"] and report.failed == 1
    with sessions() as s:
        [n] = s.scalars(select(AdminNotice)).all()
        assert n.status == "failed" and n.next_attempt_at > now
        later = n.next_attempt_at
    report = check_sources(sessions, cfg, later, channel_senders=out)
    assert report.queued == [] and report.sent == 1
    assert len(http.requests) == 2
