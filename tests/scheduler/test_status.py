"""Metrics and health from the database (served over HTTP: tests/console/test_http.py)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from alerts.models import AdminNotice, Delivery, Match
from crawler.models import Article, Source, Story
from scheduler.health import health
from scheduler.metrics import Counters, StatusCollector, exposition, registry

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ODD_ID = 'odd"id\\with\nnewline'

# ----- a small parser for the text exposition format --------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|NaN|[+-]Inf)"
HELP_RE = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE_RE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? ({VALUE})(?: -?\d+)?$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """Check every line against the grammar; return ({family: type}, {(name, labels): value})."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: Samples = {}
    for line in text.splitlines():
        if m := HELP_RE.match(line):
            assert m.group(1) not in helps, f"second HELP for {m.group(1)}"
            helps.add(m.group(1))
        elif m := TYPE_RE.match(line):
            name = m.group(1)
            assert name not in types, f"second TYPE for {name}"
            assert not any(key[0] == name for key in samples), "TYPE after its samples"
            types[name] = m.group(2)
        elif m := SAMPLE_RE.match(line):
            name, raw_labels, value = m.groups()
            assert name in types, f"sample {name} without a TYPE line"
            labels = frozenset((k, _unescape(v)) for k, v in LABEL_RE.findall(raw_labels or ""))
            key = (name, labels)
            assert key not in samples, f"duplicate sample {line!r}"
            samples[key] = float(value)
        else:
            raise AssertionError(f"not exposition format: {line!r}")
    assert helps == set(types)
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), name
    return types, samples


def metrics_text(
    sessions: sessionmaker[Session],
    now: datetime,
    *,
    counters: Counters | None = None,
    last_tick: datetime | None = None,
    accept: str | None = None,
) -> str:
    """A scrape's body, as /metrics serves it."""
    collector = StatusCollector(sessions, lambda: now, counters=counters, tick=lambda: last_tick)
    return exposition(registry(collector), accept)[0].decode()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


# ----- fixtures ------------------------------------------------------------------------------


def _populate(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        for sid, state, fails, success, enabled in [
            ("ok-1", "ok", 0, NOW - timedelta(minutes=5), True),
            ("ok-2", "ok", 0, NOW - timedelta(hours=1), True),
            ("slow", "degraded", 2, NOW - timedelta(days=1), True),
            (ODD_ID, "failing", 7, None, True),
            ("fresh", "new", 0, None, True),
            ("gone", "ok", 0, NOW - timedelta(days=9), False),
        ]:
            s.add(
                Source(
                    id=sid,
                    type="feed",
                    url="http://127.0.0.1/feed",
                    config_url="x",
                    enabled=enabled,
                    state=state,
                    consecutive_failures=fails,
                    last_success_at=success,
                )
            )
        s.flush()
        stories = [Story(title=f"story {i}", first_seen_at=NOW) for i in range(2)]
        s.add_all(stories)
        s.flush()
        articles = [
            Article(
                source_id="ok-1",
                story_id=stories[i % 2].id,
                url=f"http://127.0.0.1/{i}",
                canonical_url=f"http://127.0.0.1/{i}",
                title=f"a{i}",
                fetched_at=at,
            )
            for i, at in enumerate([NOW, NOW - timedelta(hours=3), NOW - timedelta(days=2)])
        ]
        s.add_all(articles)
        s.flush()
        match = Match(story_id=stories[0].id, article_id=articles[0].id, watchlist="ip")
        s.add(match)
        s.flush()
        for channel, mode, status, age in [
            ("a", "immediate", "pending", timedelta(minutes=10)),
            ("b", "immediate", "failed", timedelta(minutes=5)),
            ("c", "digest", "pending", timedelta(hours=3)),  # waits for its schedule
            ("d", "immediate", "sent", timedelta(days=1)),
            ("e", "immediate", "dead", timedelta(days=2)),
            ("f", "immediate", "dead", timedelta(days=3)),
        ]:
            s.add(
                Delivery(
                    match_id=match.id,
                    story_id=stories[0].id,
                    watchlist="ip",
                    channel=channel,
                    mode=mode,
                    status=status,
                    created_at=NOW - age,
                    next_attempt_at=NOW,
                )
            )
        for i, status in enumerate(["pending", "failed", "sent", "dead"]):
            s.add(
                AdminNotice(
                    source_id="slow",
                    kind="failing",
                    fingerprint=str(i),
                    message="m",
                    channel="console",
                    status=status,
                )
            )


@pytest.fixture
def populated(db: tuple[Any, sessionmaker[Session]]) -> sessionmaker[Session]:
    _, sessions = db
    _populate(sessions)
    return sessions


@pytest.fixture
def counters() -> Counters:
    c = Counters()
    c.inc("polls", 12)
    c.inc("items_new", 3)
    c.inc("poll_failures")
    return c


# ----- metrics -------------------------------------------------------------------------------


def test_metrics_reflect_the_database(populated: sessionmaker[Session], counters: Counters) -> None:
    text = metrics_text(populated, NOW, counters=counters, last_tick=NOW - timedelta(seconds=1))
    types, samples = parse(text)

    assert types["wirewatch_sources"] == "gauge"
    states = {"ok": 2, "degraded": 1, "failing": 1, "new": 1, "disabled": 1}
    for state, n in states.items():
        assert value(samples, "wirewatch_sources", state=state) == n

    assert value(samples, "wirewatch_source_consecutive_failures", source=ODD_ID) == 7
    assert value(samples, "wirewatch_source_consecutive_failures", source="slow") == 2
    assert ("wirewatch_source_consecutive_failures", frozenset({("source", "gone")})) not in samples
    assert (
        value(samples, "wirewatch_source_last_success_timestamp_seconds", source="ok-1")
        == (NOW - timedelta(minutes=5)).timestamp()
    )
    never = ("wirewatch_source_last_success_timestamp_seconds", frozenset({("source", "fresh")}))
    assert never not in samples

    assert value(samples, "wirewatch_articles_stored") == 3
    assert value(samples, "wirewatch_articles_fetched_24h") == 2
    assert value(samples, "wirewatch_stories_stored") == 2
    assert value(samples, "wirewatch_matches_stored") == 1
    for status, n in {"pending": 2, "failed": 1, "sent": 1, "dead": 2}.items():
        assert value(samples, "wirewatch_deliveries", status=status) == n
    assert value(samples, "wirewatch_delivery_lag_seconds") == 600  # the digest row is excluded
    assert value(samples, "wirewatch_dead_letters") == 2
    assert value(samples, "wirewatch_admin_notices_pending") == 2
    assert value(samples, "wirewatch_database_up") == 1
    assert value(samples, "wirewatch_scheduler_last_tick_timestamp_seconds") == NOW.timestamp() - 1

    assert types["wirewatch_polls_total"] == "counter"
    assert value(samples, "wirewatch_polls_total") == 12
    assert value(samples, "wirewatch_items_new_total") == 3
    assert value(samples, "wirewatch_poll_failures_total") == 1
    assert value(samples, "wirewatch_deliveries_sent_total") == 0


def test_metrics_of_an_empty_database(db: tuple[Any, sessionmaker[Session]]) -> None:
    _, samples = parse(metrics_text(db[1], NOW))
    assert value(samples, "wirewatch_sources", state="ok") == 0
    assert value(samples, "wirewatch_deliveries", status="pending") == 0
    assert value(samples, "wirewatch_delivery_lag_seconds") == 0
    assert not any(name.startswith("wirewatch_") and name.endswith("_total") for name, _ in samples)
    assert value(samples, "process_cpu_seconds_total") >= 0  # the standard process metrics


def test_metrics_without_a_database_still_count(counters: Counters) -> None:
    _, samples = parse(metrics_text(_unreachable(), NOW, counters=counters))
    assert value(samples, "wirewatch_database_up") == 0
    assert value(samples, "wirewatch_polls_total") == 12
    assert not any(name == "wirewatch_sources" for name, _ in samples)


def test_openmetrics_when_the_scraper_asks(populated: sessionmaker[Session]) -> None:
    accept = "application/openmetrics-text; version=1.0.0"
    collector = StatusCollector(populated, lambda: NOW, counters=Counters())
    body, content_type = exposition(registry(collector), accept)
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert text.endswith("# EOF\n")
    assert "# TYPE wirewatch_polls counter\n" in text and "wirewatch_polls_total 0.0\n" in text
    assert 'wirewatch_sources{state="failing"} 1.0\n' in text


def test_counters_are_thread_safe() -> None:
    c = Counters()

    def work() -> None:
        for _ in range(5000):
            c.inc("items_new")
            c.inc("deliveries_sent", 2)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = c.snapshot()
    assert snap["items_new"] == 40_000 and snap["deliveries_sent"] == 80_000
    with pytest.raises(KeyError):
        c.inc("nope")
    with pytest.raises(ValueError):
        c.inc("polls", -1)


# ----- health --------------------------------------------------------------------------------


def test_health_ok_then_stale(populated: sessionmaker[Session]) -> None:
    with populated() as s:
        ok, payload = health(s, NOW, NOW - timedelta(seconds=3))
        assert ok is True
        assert payload["status"] == "degraded"  # failing sources are reported, not fatal
        assert payload["sources"]["failing"] == 1 and payload["sources"]["degraded"] == 1
        assert payload["database"] == {"ok": True}
        assert payload["scheduler"]["ok"] is True

        ok, payload = health(s, NOW, NOW - timedelta(minutes=3))
        assert ok is False and payload["status"] == "unhealthy"
        assert payload["scheduler"]["age_seconds"] == 180

        ok, payload = health(s, NOW, None)
        assert ok is False and payload["scheduler"] == {"ok": False, "last_tick": None}

        # The wall clock jumped back an hour: the scheduler waits for it to catch up.
        ok, payload = health(s, NOW, NOW + timedelta(hours=1))
        assert ok is False and payload["scheduler"]["age_seconds"] == -3600


def test_health_of_a_quiet_database(db: tuple[Any, sessionmaker[Session]]) -> None:
    with db[1]() as s:
        ok, payload = health(s, NOW, NOW)
    assert ok is True and payload["status"] == "ok"


def _unreachable() -> sessionmaker[Session]:
    engine = create_engine("sqlite:////nonexistent-wirewatch-dir/none.db")
    return sessionmaker(engine)


def test_health_without_a_database() -> None:
    with _unreachable()() as s:
        ok, payload = health(s, NOW, NOW)
    assert ok is False
    assert payload["database"]["ok"] is False
    assert payload["database"]["error"].startswith("OperationalError")
