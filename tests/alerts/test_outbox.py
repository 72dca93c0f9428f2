"""Outbox faults against real endpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from alerts.channels import senders
from alerts.models import Delivery
from alerts.outbox import dispatch_due, retry
from tests.alerts.conftest import (
    SLACK_URL,
    HttpReceiver,
    Reply,
    SmtpServer,
    add_delivery,
    add_story,
    make_cfg,
    statuses,
)


def _queue(sessions, channel: str, n: int = 1) -> list[int]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        ids = [add_delivery(s, add_story(s, f"TRIPS story {i}"), channel).id for i in range(n)]
        s.commit()
    return ids


def test_smtp_down_then_up_delivers_once(db, smtp: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg({"mail": smtp.url()})
    [did] = _queue(sessions, "mail")
    smtp.down()
    report = dispatch_due(sessions, cfg, owner="w1")
    assert (report.claimed, report.failed, report.sent) == (1, 1, 0)
    with sessions() as s:
        row = s.get(Delivery, did)
        assert row.status == "failed" and row.attempts == 1 and row.last_error
        retry_at = row.next_attempt_at
    assert dispatch_due(sessions, cfg, owner="w1").claimed == 0  # backoff respected
    smtp.up()
    report = dispatch_due(sessions, cfg, owner="w1", now=retry_at + timedelta(seconds=1))
    assert report.sent == 1
    assert dispatch_due(sessions, cfg, owner="w1", now=retry_at + timedelta(hours=9)).claimed == 0
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["Message-ID"] == f"<delivery-{did}.{_story(sessions, did)}@wirewatch>"
    assert statuses(sessions) == {did: "sent"}


def _story(sessions, did: int) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return s.get(Delivery, did).story_id


def test_slack_500_is_retried(db, slack: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg({"slack": SLACK_URL})
    [did] = _queue(sessions, "slack")
    slack.script = [Reply(500, b"server_error")]
    assert dispatch_due(sessions, cfg, owner="w").failed == 1
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert dispatch_due(sessions, cfg, owner="w", now=later).sent == 1
    assert len(slack.requests) == 2 and statuses(sessions) == {did: "sent"}


def test_slack_429_next_attempt_not_before_retry_after(db, slack: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg({"slack": SLACK_URL})
    [did] = _queue(sessions, "slack")
    slack.script = [Reply(429, b"rate_limited", {"Retry-After": "3600"})]
    start = datetime.now(UTC)
    assert dispatch_due(sessions, cfg, owner="w", now=start).failed == 1
    with sessions() as s:
        row = s.get(Delivery, did)
        assert row.next_attempt_at >= start + timedelta(seconds=3600)
        next_at = row.next_attempt_at
    assert dispatch_due(sessions, cfg, owner="w", now=next_at - timedelta(seconds=1)).claimed == 0
    assert dispatch_due(sessions, cfg, owner="w", now=next_at).sent == 1
    assert len(slack.requests) == 2


def test_dead_letter_after_max_attempts_then_retry(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg({"hook": f"json://127.0.0.1:{http.port}/h"}, max_attempts=3)
    [did] = _queue(sessions, "hook")
    http.default = Reply(503, b"")
    now = datetime.now(UTC)
    for _ in range(3):
        dispatch_due(sessions, cfg, owner="w", now=now)
        now += timedelta(days=1)
    assert statuses(sessions) == {did: "dead"}
    assert dispatch_due(sessions, cfg, owner="w", now=now).claimed == 0
    http.default = Reply(200, b"")
    with sessions() as s:
        assert retry(s, all_dead=True) == 1
    assert dispatch_due(sessions, cfg, owner="w", now=now).sent == 1
    assert len(http.requests) == 4


def test_permanent_error_dead_letters_at_once(db, slack: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    [did] = _queue(sessions, "slack")
    slack.default = Reply(404, b"no_service")
    report = dispatch_due(sessions, make_cfg({"slack": SLACK_URL}), owner="w")
    assert report.dead == 1 and statuses(sessions) == {did: "dead"}


def test_rate_budget_makes_rows_wait(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg(
        {"hook": f"json://127.0.0.1:{http.port}/h"}, hook={"rate": {"max": 2, "per": "1h"}}
    )
    ids = _queue(sessions, "hook", 5)
    report = dispatch_due(sessions, cfg, owner="w")
    assert report.sent == 2 and report.over_budget == {"hook": 3}
    assert dispatch_due(sessions, cfg, owner="w").claimed == 0
    with sessions() as s:
        waiting = [s.get(Delivery, i) for i in ids[2:]]
        assert all(d.status == "pending" and d.attempts == 0 for d in waiting)
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    assert dispatch_due(sessions, cfg, owner="w", now=later).sent == 2
    assert len(http.requests) == 4


def test_expired_lease_is_delivered_by_the_next_dispatcher(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    """A dispatcher claimed and died before sending: its lease runs out, another sends."""
    from alerts.outbox import claim_next

    _, sessions = db
    cfg = make_cfg({"hook": f"json://127.0.0.1:{http.port}/h"})
    [did] = _queue(sessions, "hook")
    now = datetime.now(UTC)
    with sessions() as s:
        assert claim_next(s, "hook", cfg.channels["hook"], owner="dead-worker", now=now) == did
    assert dispatch_due(sessions, cfg, owner="w2", now=now).claimed == 0  # lease still live
    report = dispatch_due(sessions, cfg, owner="w2", now=now + timedelta(minutes=6))
    assert report.sent == 1 and len(http.requests) == 1
    with sessions() as s:
        assert s.get(Delivery, did).attempts == 2


def test_concurrent_dispatchers_send_each_row_once(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg({"hook": f"json://127.0.0.1:{http.port}/h"})
    ids = _queue(sessions, "hook", 12)
    out = senders(cfg.channels)
    reports = []

    def run(owner: str) -> None:
        reports.append(dispatch_due(sessions, cfg, owner=owner, limit=4, channel_senders=out))

    for _ in range(3):
        threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sum(r.sent for r in reports) == 12
    assert len(http.requests) == 12
    assert set(statuses(sessions).values()) == {"sent"} and len(ids) == 12
