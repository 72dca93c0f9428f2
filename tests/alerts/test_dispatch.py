"""Per-channel sending: the shared pause, the answer time, stopping mid-send, digests on retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import Message as MimeMessage

from alerts.channels import senders
from alerts.digest import send_digest
from alerts.dispatcher import Dispatcher
from alerts.models import ChannelState, Delivery
from alerts.outbox import dispatch_due
from alerts.watchlists import Route
from tests.alerts.conftest import (
    HttpReceiver,
    Reply,
    SmtpServer,
    add_delivery,
    add_story,
    make_cfg,
    statuses,
    wait_for,
)


def _queue(sessions, channels: tuple[str, ...], n: int = 2) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    with sessions() as s:
        for i in range(n):
            art = add_story(s, f"TRIPS story {i}")
            ids += [add_delivery(s, art, c).id for c in channels]
        s.commit()
    return ids


def test_429_pauses_the_channel_for_every_dispatcher(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg({"hook": f"json://127.0.0.1:{http.port}/h", "other": "console://"})
    _queue(sessions, ("hook", "other"), 3)
    http.script = [Reply(429, b"", {"Retry-After": "600"})]
    first = dispatch_due(sessions, cfg, owner="host-a:1")
    assert (first.sent, first.failed) == (3, 1)  # the console channel is not held up
    assert len(http.requests) == 1  # nothing more went to the paused channel
    with sessions() as s:
        state = s.get(ChannelState, "hook")
        answered = state.paused_until - timedelta(seconds=600)
        refused = s.query(Delivery).filter_by(channel="hook", status="failed").one()
        assert refused.attempts == 0 and refused.next_attempt_at == state.paused_until
    # another dispatcher process sharing the database sees the pause too
    assert dispatch_due(sessions, cfg, owner="host-b:2").claimed == 0
    later = answered + timedelta(seconds=599)
    assert dispatch_due(sessions, cfg, owner="host-b:2", now=later).claimed == 0
    done = dispatch_due(sessions, cfg, owner="host-b:2", now=answered + timedelta(seconds=601))
    assert done.sent == 3 and set(statuses(sessions).values()) == {"sent"}
    assert len(http.requests) == 4


def test_sent_at_is_when_the_service_answered(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    [did] = _queue(sessions, ("hook",), 1)
    before = datetime.now(UTC)
    dispatch_due(sessions, make_cfg({"hook": f"json://127.0.0.1:{http.port}/h"}), owner="w")
    [(_, _, answered)] = http.requests
    with sessions() as s:
        sent_at = s.get(Delivery, did).sent_at
    assert before <= datetime.fromtimestamp(answered, UTC) <= sent_at


def test_stop_hands_back_a_send_still_in_flight(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    cfg = make_cfg({"hook": f"json://127.0.0.1:{http.port}/h"})
    ids = _queue(sessions, ("hook",), 3)
    http.hold = 1
    lanes = Dispatcher(sessions, "host:1")
    assert lanes.tick(cfg) == ["hook"]
    wait_for(lambda: len(http.requests) == 1, 30, "the first send")
    released, busy = lanes.finish(grace=0)
    assert (released, busy) == (1, ["hook"])
    with sessions() as s:
        rows = [s.get(Delivery, i) for i in ids]
        assert [(r.status, r.attempts, r.lease_owner) for r in rows] == [("pending", 0, None)] * 3
        assert s.get(ChannelState, "hook").lease_owner is None
    http.release.set()  # the answer arrives after all: recorded, so it is not sent again
    assert lanes.wait(30)
    assert statuses(sessions) == {ids[0]: "sent", ids[1]: "pending", ids[2]: "pending"}
    assert lanes.tick(cfg) == []  # stopped: nothing more is claimed


def test_lanes_send_each_channel_independently(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _, sessions = db
    slow = HttpReceiver()
    try:
        cfg = make_cfg(
            {"hook": f"json://127.0.0.1:{http.port}/h", "slow": f"json://127.0.0.1:{slow.port}/s"}
        )
        _queue(sessions, ("hook", "slow"), 3)
        slow.hold = 1  # the slow channel's first send does not come back until released
        lanes = Dispatcher(sessions, "host:1")
        assert sorted(lanes.tick(cfg)) == ["hook", "slow"]
        wait_for(lambda: len(slow.requests) == 1, 30, "the slow channel's first send")
        wait_for(lambda: len(http.requests) == 3, 30, "the free channel, meanwhile")
        # the free lane may still be recording its last answer: wait until it is idle
        wait_for(lambda: lanes.busy() == ["slow"], 30, "the free lane to finish")
        assert len(slow.requests) == 1
        slow.release.set()
        assert lanes.wait(30) and len(slow.requests) == 3
        assert set(statuses(sessions).values()) == {"sent"}
    finally:
        slow.close()


def test_digest_retry_sends_the_same_message_id_and_content(db, smtp: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    """README: a digest whose send failed is retried with the same content and Message-ID."""
    _, sessions = db
    cfg = make_cfg(
        {"mail": smtp.url()}, routes=[Route(channel="mail", mode="digest", schedule="0 8 * * *")]
    )
    created = datetime.now(UTC) - timedelta(days=2)
    with sessions() as s:
        for i in range(3):
            add_delivery(
                s, add_story(s, f"TRIPS digest {i}"), "mail", mode="digest", created_at=created
            )
        s.commit()
    smtp.refuse = 1  # the server answers DATA with 451 once
    out = senders(cfg.channels)
    first = send_digest(sessions, cfg, "tw-ip", 0, datetime.now(UTC), channel_senders=out)
    assert first.status == "failed"
    with sessions() as s:
        retry_at = s.query(Delivery).first().next_attempt_at
    again = send_digest(sessions, cfg, "tw-ip", 0, retry_at, channel_senders=out)
    assert again.status == "sent" and again.batch_id == first.batch_id
    [refused], [accepted] = smtp.refused, smtp.messages
    assert (
        refused["Message-ID"] == accepted["Message-ID"] == f"<digest-{first.batch_id}.1@wirewatch>"
    )
    assert _parts(refused) == _parts(accepted) and "TRIPS digest 2" in str(_parts(accepted))
    assert refused["Subject"] == accepted["Subject"]


def _parts(mail: MimeMessage) -> list[bytes]:
    return [p.get_payload(decode=True) for p in mail.walk() if not p.is_multipart()]


def test_one_message_in_flight_per_channel_across_dispatchers(db, http: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    """While one dispatcher's send on a channel is unanswered, no other sends on it."""
    _, sessions = db
    cfg = make_cfg({"hook": f"json://127.0.0.1:{http.port}/h"})
    _queue(sessions, ("hook",), 3)
    http.hold = 1
    first = Dispatcher(sessions, "host-a:1")
    first.tick(cfg)
    wait_for(lambda: len(http.requests) == 1, 30, "the first send")
    assert dispatch_due(sessions, cfg, owner="host-b:2").claimed == 0
    assert len(http.requests) == 1
    http.release.set()
    assert first.wait(30)
    dispatch_due(sessions, cfg, owner="host-b:2")
    assert set(statuses(sessions).values()) == {"sent"} and len(http.requests) == 3
