"""Logging: JSON lines, and one line per distinct problem per minute."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import event, text

from crawler.db import make_engine
from scheduler.logs import JsonFormatter, Throttle, ThrottledHandler, setup_logging
from tests.scheduler.conftest import Clock


@pytest.fixture
def out(clock: Clock) -> Iterator[tuple[logging.Logger, io.StringIO, ThrottledHandler]]:
    """A logger writing through a throttled handler into a string."""
    stream = io.StringIO()
    handler = ThrottledHandler(stream, Throttle(60, clock))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("wirewatch.test-logs")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger, stream, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def disk_full(tmp_path: Path) -> BaseException:
    """The real error SQLite raises when the disk is full (capped with max_page_count)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    event.listen(engine, "connect", lambda c, _: c.execute("PRAGMA max_page_count = 2"))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v TEXT)"))
            for _ in range(100):
                conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "x" * 4000})
    except Exception as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("the capped database took every write")


def test_repeats_within_a_minute_are_counted_into_the_next_line(out, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    logger, stream, _ = out
    for _ in range(234):  # over 30 s
        logger.warning("source %s is slow", "feed0")
        clock.now += 30 / 234
    logger.warning("source %s is slow", "feed1")  # a different problem
    assert stream.getvalue().splitlines() == [
        "WARNING wirewatch.test-logs: source feed0 is slow",
        "WARNING wirewatch.test-logs: source feed1 is slow",
    ]
    clock.now += 31  # still going a minute after its line
    logger.warning("source %s is slow", "feed0")
    assert stream.getvalue().splitlines()[-1] == (
        "WARNING wirewatch.test-logs: source feed0 is slow (and 233 more like this in the last "
        "minute)"
    )


def test_info_and_config_records_are_never_held_back(out) -> None:  # type: ignore[no-untyped-def]
    logger, stream, _ = out
    config = logging.getLogger("wirewatch.config")
    config.propagate = False
    config.addHandler(out[2])
    try:
        for _ in range(3):
            logger.info("poll: 1 sources")
            config.error("config not reloaded: ip.yaml:6:8: match: unexpected end")
    finally:
        config.removeHandler(out[2])
        config.propagate = True
    assert len(stream.getvalue().splitlines()) == 6


def test_a_database_outage_is_one_line_per_minute_whoever_reports_it(  # type: ignore[no-untyped-def]
    out, clock: Clock, tmp_path: Path
) -> None:
    logger, stream, _ = out
    other = logging.getLogger("wirewatch.test-logs.other")
    exc = disk_full(tmp_path)
    for i in range(234):
        try:
            raise exc
        except Exception:
            (logger if i % 2 else other).exception("collection pass failed")
        clock.now += 30 / 234
    lines = stream.getvalue().splitlines()
    assert lines == [
        "ERROR wirewatch.test-logs.other: collection pass failed: "
        "OperationalError: database or disk is full"
    ]


def test_other_exceptions_keep_their_traceback(out) -> None:  # type: ignore[no-untyped-def]
    logger, stream, _ = out
    try:
        {}["missing"]
    except KeyError:
        logger.exception("match job failed")
    assert "Traceback (most recent call last)" in stream.getvalue()
    assert "KeyError: 'missing'" in stream.getvalue()


def test_a_problem_that_stops_gets_a_closing_count(out, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = out
    for _ in range(5):
        logger.error("channel hook refused")
    clock.now += 59
    logger.info("poll: 1 sources")
    assert "repeated" not in stream.getvalue()
    clock.now += 1
    logger.info("poll: 1 sources")
    assert "channel hook refused (repeated 4 more times, last at " in stream.getvalue()

    logger.error("channel mail refused")
    logger.error("channel mail refused")
    handler.close()  # at exit, what is still held is told
    assert (
        stream.getvalue()
        .splitlines()[-1]
        .startswith(
            "ERROR wirewatch.test-logs: channel mail refused (repeated 1 more time, last at "
        )
    )


def test_json_lines_carry_the_documented_fields_and_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "wirewatch.daemon", "levelno": 30, "levelname": "WARNING", "msg": "slow %s"}
    )
    record.args = ("台灣",)
    record.source = "feed0"
    data = json.loads(JsonFormatter().format(record))
    assert data["level"] == "WARNING" and data["logger"] == "wirewatch.daemon"
    assert data["message"] == "slow 台灣" and data["source"] == "feed0"
    assert data["time"].endswith("+00:00")


def test_skipped_scheduler_runs_are_not_warnings(capfd: pytest.CaptureFixture[str]) -> None:
    """A job still running when its next tick comes (a long poll) is expected, not a warning."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("INFO", "text")
    release, skipped = threading.Event(), threading.Event()
    sched = BackgroundScheduler()
    sched.add_listener(lambda _: skipped.set(), EVENT_JOB_MAX_INSTANCES)
    sched.add_job(release.wait, "interval", seconds=0.2, max_instances=1, args=[30])
    sched.start()
    try:
        assert skipped.wait(60), "APScheduler never skipped a run"
    finally:
        release.set()
        sched.shutdown()
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "maximum number of running instances" not in capfd.readouterr().err
