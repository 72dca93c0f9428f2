"""Digests on their schedule: one batch, sent together, the same content on retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.digest import due_digests, last_fire, send_digest
from alerts.models import Delivery
from alerts.watchlists import Route
from tests.alerts.conftest import (
    SLACK_URL,
    HttpReceiver,
    Reply,
    add_delivery,
    add_story,
    make_cfg,
    statuses,
)


def _cfg(**opts):  # type: ignore[no-untyped-def]
    return make_cfg(
        {"slack": SLACK_URL},
        routes=[Route(channel="slack", mode="digest", schedule="0 8 * * *")],
        **opts,
    )


def test_last_fire_in_zone() -> None:
    from alerts.digest import DigestRoute

    route = DigestRoute("w", 0, "c", "0 8 * * *", "Asia/Taipei")
    now = datetime(2025, 3, 4, 1, 30, tzinfo=UTC)  # 09:30 in Taipei
    assert last_fire(route, now) == datetime(2025, 3, 4, 0, 0, tzinfo=UTC)


def test_digest_batch_sent_together_and_retry_resends_same_content(db, slack: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _cfg(slack={"max_length": 600})
    created = datetime.now(UTC) - timedelta(days=2)
    with sessions() as s:
        ids = [
            add_delivery(
                s,
                add_story(s, f"TRIPS digest story {i} " + "z" * 60),
                "slack",
                mode="digest",
                created_at=created,
            ).id
            for i in range(8)
        ]
        s.commit()
    now = datetime.now(UTC)
    assert [r.watchlist for r in due_digests(sessions, cfg, now)] == ["tw-ip"]
    slack.script = [Reply(200, b"ok"), Reply(500, b"oops")]  # second part fails
    report = send_digest(sessions, cfg, "tw-ip", 0, now)
    assert report.status == "failed" and report.messages > 1
    first_try = [p for _, p, _ in slack.requests]
    with sessions() as s:
        rows = [s.get(Delivery, i) for i in ids]
        assert {r.batch_id for r in rows} == {report.batch_id}
        assert {r.status for r in rows} == {"failed"}
        retry_at = rows[0].next_attempt_at
    assert due_digests(sessions, cfg, now) == []
    with sessions() as s:  # a late arrival does not join the open batch
        late = add_delivery(s, add_story(s, "TRIPS late"), "slack", mode="digest").id
        s.commit()
    again = send_digest(sessions, cfg, "tw-ip", 0, retry_at)
    assert again.status == "sent" and again.batch_id == report.batch_id
    resent = [p for _, p, _ in slack.requests[len(first_try) :]]
    text = [p["attachments"][0]["text"] for p in resent]
    assert text[:1] == [first_try[0]["attachments"][0]["text"]]
    assert all("TRIPS late" not in t for t in text)
    assert sum(t.count("TRIPS digest story") for t in text) == 8
    st = statuses(sessions)
    assert {st[i] for i in ids} == {"sent"} and st[late] == "pending"
    with sessions() as s:
        assert len({s.get(Delivery, i).sent_at for i in ids}) == 1


def test_empty_and_not_yet_due(db, slack: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = _cfg()
    now = datetime.now(UTC)
    assert send_digest(sessions, cfg, "tw-ip", 0, now).status == "empty"
    with sessions() as s:
        add_delivery(s, add_story(s, "TRIPS fresh"), "slack", mode="digest", created_at=now)
        s.commit()
    # Arrived after the schedule's latest firing: it waits for the next one.
    assert due_digests(sessions, cfg, now) == []
    assert due_digests(sessions, cfg, now + timedelta(days=1, minutes=1))
