"""Admin notices: once per distinct problem, not once per poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alerts.admin import check_sources, error_fingerprint
from alerts.channels import senders
from alerts.models import AdminNotice
from crawler.models import Source
from crawler.sources import SourcesFile
from scheduler.settings import AlertSettings, AppSettings
from tests.alerts.conftest import HttpReceiver, Reply, add_source, make_cfg
from tests.factories import add_article


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


def _sources_cfg(port: int, ids: list[str], interval: str = "1m"):  # type: ignore[no-untyped-def]
    cfg = _cfg(port)
    cfg.sources = SourcesFile.model_validate(
        {
            "sources": [
                {"id": i, "type": "rss", "url": f"https://{i}.example/feed", "interval": interval}
                for i in ids
            ]
        }
    )
    return cfg


def _baseline(s, source_id: str, newest: datetime, every: timedelta, fetched: datetime) -> None:  # type: ignore[no-untyped-def]
    """A first poll's items, published every ``every`` up to ``newest``, all fetched at once."""
    for k in range(20):
        n = next(_urls)
        add_article(
            s,
            n,
            f"{source_id} item {k}",
            when=fetched,
            source_id=source_id,
            published_at=newest - k * every,
            baseline=True,
        )


_urls = iter(range(1, 10**9))


def test_fresh_source_with_dated_baseline_is_not_silent(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    # Twelve minutes after the first poll, polled every minute: the old fallback called this
    # "nothing new for 0.2 h (usually every 0.0 h)".
    _, sessions = db
    cfg = _sources_cfg(http.port, ["fresh"])
    now = datetime.now(UTC)
    start = now - timedelta(minutes=12)
    with sessions() as s:
        add_source(s, "fresh", last_success_at=now, last_new_item_at=start)
        _baseline(s, "fresh", start - timedelta(minutes=40), timedelta(hours=2), start)
        s.commit()
    assert check_sources(sessions, cfg, now, channel_senders=senders(cfg.channels)).queued == []
    assert http.requests == []


def test_silence_judged_on_the_sources_own_cadence(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _sources_cfg(http.port, ["hourly", "weekly"])
    now = datetime.now(UTC)
    polled = now - timedelta(minutes=10)
    with sessions() as s:
        # Hourly until three days ago, nothing since (though polled fine): silent.
        add_source(s, "hourly", last_success_at=now, last_new_item_at=polled)
        _baseline(s, "hourly", now - timedelta(days=3), timedelta(hours=1), polled)
        # Weekly, last item three days ago: a normal pause for this source.
        add_source(s, "weekly", last_success_at=now, last_new_item_at=polled)
        _baseline(s, "weekly", now - timedelta(days=3), timedelta(days=7), polled)
        s.commit()
    report = check_sources(sessions, cfg, now, channel_senders=senders(cfg.channels))
    assert report.queued == ["hourly:silent"] and report.sent == 1
    [(_, payload, _)] = http.requests
    assert "hourly has had nothing new for 72.0 h (usually every 1.0 h)" in payload["message"]
    # A later check in the same silent stretch repeats nothing.
    later = now + timedelta(hours=1)
    assert check_sources(sessions, cfg, later, channel_senders=senders(cfg.channels)).queued == []
    assert len(http.requests) == 1


def test_usual_gap_has_a_floor(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _sources_cfg(http.port, ["wire"], interval="30s")
    now = datetime.now(UTC)
    with sessions() as s:
        # A wire publishing every minute, polled every 30 s, then quiet for 40 minutes: a lull
        # within the floor (1 h × silence_factor 10), not silence.
        add_source(s, "wire", last_success_at=now)
        _baseline(s, "wire", now, timedelta(minutes=1), now)
        s.commit()
    lull = now + timedelta(minutes=40)
    assert check_sources(sessions, cfg, lull, channel_senders=senders(cfg.channels)).queued == []
    report = check_sources(
        sessions, cfg, now + timedelta(hours=10, minutes=1), channel_senders=senders(cfg.channels)
    )
    assert report.queued == ["wire:silent"]


def test_many_problems_at_once_are_one_message(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    ids = [f"src{i:03d}" for i in range(200)]
    cfg = _sources_cfg(http.port, ids)
    now = datetime.now(UTC)
    with sessions() as s:
        for i, sid in enumerate(ids):
            if i < 150:  # silent: daily items until 30 days ago
                add_source(s, sid, last_success_at=now)
                _baseline(s, sid, now - timedelta(days=30), timedelta(days=1), now)
            elif i < 180:  # failing
                add_source(
                    s, sid, consecutive_failures=3, last_error="HTTP 500", last_success_at=now
                )
                _baseline(s, sid, now - timedelta(hours=1), timedelta(hours=1), now)
            else:  # fine
                add_source(s, sid, last_success_at=now)
                _baseline(s, sid, now - timedelta(hours=1), timedelta(hours=1), now)
        s.commit()
    http.script = [Reply(500, b"")]  # the grouped message fails once: all rows retry together
    report = check_sources(sessions, cfg, now, channel_senders=senders(cfg.channels))
    assert len(report.queued) == 180 and report.failed == 180
    with sessions() as s:
        later = max(n.next_attempt_at for n in s.scalars(select(AdminNotice)))
    report = check_sources(sessions, cfg, later, channel_senders=senders(cfg.channels))
    assert report.queued == [] and report.sent == 180
    assert len(http.requests) == 2  # the failed try and its retry: one message each
    payload = http.requests[-1][1]
    assert payload["title"] == "[wirewatch] 180 source problems: 30 failing, 150 silent"
    text = payload["message"]
    listed = [sid for sid in ids[:180] if f"source {sid} " in text]
    named = [sid for sid in ids[:180] if sid in text]
    assert len(listed) == 50 and len(named) == 180
    assert not any(sid in text for sid in ids[180:])
    assert "… and 130 more:" in text
    with sessions() as s:
        assert {n.status for n in s.scalars(select(AdminNotice))} == {"sent"}
    report = check_sources(sessions, cfg, later, channel_senders=senders(cfg.channels))
    assert report.queued == [] and report.sent == 0 and len(http.requests) == 2
