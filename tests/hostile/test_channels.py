"""Hostile channels and stops mid-send, against the real daemon (`wirewatch run`, a subprocess).

Each row runs the daemon with two channels, ``good`` (a healthy local webhook) and ``bad``
(the hostile one), four alerts queued on each, a dispatch interval of 1 s, and prints its
figure. Promises checked on every row: no alert lost, none dead-lettered by a fault that
is not clearly permanent, no traceback in the log, and

* a channel that hangs or fails never delays ``good`` by more than one dispatch interval
  (alerts queued while ``bad`` is stuck reach ``good`` within it, plus a little slack for
  a loaded machine);
* a 429 pauses the whole channel for Retry-After counted from the answer: no message
  reaches it before, and the refused one is sent after (not counted as an attempt);
* a SIGTERM stops claiming, lets the sends in flight finish (or, past ``stop_grace``, hands
  them back uncounted) and exits 0; after a SIGKILL or a stop and a restart everything is
  delivered, repeating at most the one message in flight on each channel.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import select

from alerts.models import Delivery
from crawler.db import make_engine, session_factory
from scheduler.migrate import upgrade
from tests.alerts.conftest import (
    SLACK_URL,
    BlackHole,
    HttpReceiver,
    Reply,
    add_delivery,
    add_story,
    start_daemon,
    wait_for,
)

QUEUED = 4
INTERVAL = 1.0
SLACK_S = 1.5  # what a loaded two-core machine may add to one interval (measured ≤ 0.3 s)
RETRY_AFTER = 2


@dataclass(frozen=True)
class Case:
    """``bad``: how the hostile channel behaves; ``action``: what happens to the daemon."""

    bad: Literal["smtp-hang", "http-hang", "http-429", "slack-429", "http-500", "reset", "slow"]
    action: Literal["run", "term", "kill"] = "run"
    timeout: int = 3  # the bad channel's `timeout`
    grace: int = 30  # alerts.stop_grace
    repeats: int = 0  # messages a channel may receive twice


CASES = {
    "SMTP that accepts and never speaks": Case("smtp-hang"),
    "HTTP receiver that never answers": Case("http-hang"),
    "429 storm on a json webhook": Case("http-429"),
    "429 storm on Slack": Case("slack-429"),
    "500 on every POST": Case("http-500"),
    "connection reset on every POST": Case("reset"),
    "SIGTERM while both channels send": Case("slow", "term"),
    "SIGTERM while a send hangs past the grace": Case("http-hang", "term", 30, 2, repeats=1),
    "SIGKILL while both channels send": Case("slow", "kill", repeats=1),
}


def _config(root: Path, good: HttpReceiver, bad_url: str, case: Case) -> None:
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text(
        "data_dir: ./data\nlog: {level: INFO}\n"
        f"alerts: {{dispatch_interval: {INTERVAL:.0f}s, admin_channel: null, "
        f"stop_grace: {case.grace}s}}\n"
    )
    (root / "sources.yaml").write_text("sources: []\n")
    (root / "channels.yaml").write_text(
        f"channels:\n  good:\n    url: json://127.0.0.1:{good.port}/good\n"
        f"  bad:\n    url: '{bad_url}'\n    timeout: {case.timeout}s\n"
    )
    (root / "watchlists" / "ip.yaml").write_text(
        "groups:\n  ip: [TRIPS]\nmatch: ip\nnotify:\n  - channel: good\n  - channel: bad\n"
    )


def _queue(sessions, titles: list[str], channels: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with sessions() as s:
        for title in titles:
            art = add_story(s, title)
            for channel in channels:
                add_delivery(s, art, channel, watchlist="ip", created_at=now)
        s.commit()


def _received(receiver: HttpReceiver) -> Counter[str]:
    """How often each queued title reached a receiver (json and Slack payloads alike)."""
    seen: Counter[str] = Counter()
    for _, payload, _ in receiver.requests:
        text = str(payload)
        seen.update(t for t in TITLES + LATE if t in text)
    return seen


TITLES = [f"TRIPS story {i:02}" for i in range(QUEUED)]
LATE = [f"TRIPS late {i:02}" for i in range(2)]


def _rows(sessions, channel: str) -> list[Delivery]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return list(s.scalars(select(Delivery).where(Delivery.channel == channel)))


def _stop(proc) -> str:  # type: ignore[no-untyped-def]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    return str(out)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_channel(case: Case, tmp_path: Path) -> None:
    good, bad, hole = HttpReceiver(), HttpReceiver(), BlackHole()
    bad_url = f"json://127.0.0.1:{bad.port}/bad"
    slack_port = None
    if case.bad == "smtp-hang":
        bad_url = (
            f"mailto://127.0.0.1:{hole.port}?from=w@example.org&to=o@example.org&mode=insecure"
        )
    elif case.bad == "slack-429":
        bad_url, slack_port = SLACK_URL, bad.port
    if case.bad in ("http-429", "slack-429"):
        throttle = Reply(429, b"rate_limited", {"Retry-After": str(RETRY_AFTER)})
        bad.script = [throttle, throttle, throttle]
    bad.default = {
        "http-hang": Reply(fault="hang"),
        "http-500": Reply(500, b"oops"),
        "reset": Reply(fault="reset"),
    }.get(case.bad, Reply())
    if case.bad == "slow":
        good.delay = bad.delay = 1.0
    root = tmp_path / "config"
    _config(root, good, bad_url, case)
    db = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(db)
    upgrade(engine)
    sessions = session_factory(engine)
    _queue(sessions, TITLES, ("good", "bad"))
    proc = start_daemon(root, db, slack_port)
    try:
        if case.action == "run":
            _run(case, sessions, good, bad, proc)
        else:
            _interrupt(case, sessions, good, bad, proc, root, db)
    finally:
        if proc.poll() is None:
            proc.kill()
            print(proc.communicate()[0])
        bad.release.set()
        for server in (good, bad, hole):
            server.close()
        engine.dispose()


def _run(case: Case, sessions, good: HttpReceiver, bad: HttpReceiver, proc) -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: len(good.requests) >= QUEUED, 60, "the good channel's queue")
    queued_at = time.time()
    _queue(sessions, LATE, ("good",))  # while `bad` hangs, fails or is paused
    wait_for(lambda: len(good.requests) >= QUEUED + len(LATE), 30, "alerts queued later")
    lag = max(t for _, p, t in good.requests if "TRIPS late" in str(p)) - queued_at
    if case.bad in ("http-429", "slack-429"):
        wait_for(lambda: all(r.status == "sent" for r in _rows(sessions, "bad")), 60, "bad sent")
        # every request after a 429 came no earlier than Retry-After after that answer
        gaps = [
            min(t for _, _, t in bad.requests if t > answered) - answered
            for status, answered in bad.answers
            if status == 429
        ]
        print(f"\n{case.bad}: pauses after each 429 {[round(g, 2) for g in gaps]} s")
        assert min(gaps) >= RETRY_AFTER - 0.05
        # one send at a time per channel, so requests and answers pair up in order
        pairs = zip(bad.requests, bad.answers, strict=True)
        accepted = [p for (_, p, _), (status, _) in pairs if status == 200]
        assert sorted(t for t in TITLES for p in accepted if t in str(p)) == TITLES
        assert {r.attempts for r in _rows(sessions, "bad")} == {1}  # a 429 is no attempt
    else:
        tried = lambda: {r.status for r in _rows(sessions, "bad")} == {"failed"}  # noqa: E731
        wait_for(tried, 90, "every bad row tried once and kept for a retry")
        assert all(r.last_error and r.attempts == 1 for r in _rows(sessions, "bad"))
    out = _stop(proc)
    assert "dead" not in {r.status for r in _rows(sessions, "bad")}
    print(f"{case.bad}: good channel lag {lag:.2f} s (interval {INTERVAL:.0f} s)")
    assert lag <= INTERVAL + SLACK_S, out
    assert _received(good) == Counter(dict.fromkeys(TITLES + LATE, 1))


def _interrupt(case: Case, sessions, good: HttpReceiver, bad: HttpReceiver, proc, root, db) -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: len(bad.requests) >= 2 or len(good.requests) >= 2, 60, "sends under way")
    if case.bad == "slow":
        wait_for(lambda: bad.requests and good.requests, 30, "a send on both channels")
    stopped = time.monotonic()
    if case.action == "kill":
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    else:
        out = _stop(proc)
        took = time.monotonic() - stopped
        print(f"\n{case.bad}: SIGTERM → exit 0 after {took:.1f} s (grace {case.grace} s)")
        assert took < case.grace + 10
        with sessions() as s:
            rows = list(s.scalars(select(Delivery)))
        assert all(r.lease_owner is None for r in rows)
        assert all(r.attempts == 0 for r in rows if r.status != "sent"), out
        if case.bad == "slow":  # the sends in flight were waited for and recorded
            assert sum(r.status == "sent" for r in rows) == len(good.requests) + len(bad.requests)
    before = {"good": len(good.requests), "bad": len(bad.requests)}
    bad.default, good.delay, bad.delay = Reply(), 0.0, 0.0
    bad.release.set()
    proc = start_daemon(root, db)
    try:
        wait_for(
            lambda: all(r.status == "sent" for c in ("good", "bad") for r in _rows(sessions, c)),
            90,
            "everything delivered after the restart",
        )
    finally:
        _stop(proc)
    for name, receiver in (("good", good), ("bad", bad)):
        got = _received(receiver)
        repeated = sum(got.values()) - len(got)
        print(
            f"{case.action}: {name}: {sum(got.values())} received ({before[name]} before the "
            f"{case.action}), {len(set(TITLES) - set(got))} lost, {repeated} repeated"
        )
        assert set(got) == set(TITLES)
        assert repeated <= case.repeats
