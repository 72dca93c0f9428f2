"""The real daemon against local feed servers and a webhook: every alert arrives exactly once."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from benchmarks.newsserver import NewsServer
from crawler.db import make_engine, session_factory
from crawler.models import Source
from tests.alerts.conftest import SLACK_URL, HttpReceiver, SmtpServer, start_daemon, wait_for

STORY = (
    "Taiwan's Ministry of Economic Affairs signed six memoranda of understanding with US "
    "firms including Microsoft and Boeing, among them long-term patent licensing pacts, "
    "before the delegation wound up its week-long visit on Thursday. "
)


@pytest.fixture
def news() -> Iterator[NewsServer]:
    with NewsServer(hosts=2, feeds_per_host=1, items_per_feed=5, multi="port") as server:
        yield server


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def slack() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.up()
    yield server
    server.down()


def write_config(
    root: Path,
    news: NewsServer,
    hook: HttpReceiver,
    match: str,
    smtp: SmtpServer | None = None,
) -> None:
    (root / "watchlists").mkdir(parents=True, exist_ok=True)
    (root / "wirewatch.yaml").write_text(
        "data_dir: ./data\n"
        "log: {level: INFO}\n"
        "crawl: {retries: 0, timeout: 5s}\n"
        "alerts: {dispatch_interval: 1s, admin_channel: null}\n"
    )
    sources = "sources:\n" + "".join(
        f"  - id: feed{i}\n    type: rss\n    url: {url}\n    interval: 5s\n"
        for i, url in enumerate(news.feed_urls())
    )
    (root / "sources.yaml").write_text(sources)
    channels = f"channels:\n  hook:\n    url: json://127.0.0.1:{hook.port}/hook\n"
    routes = "  - channel: hook\n"
    if smtp is not None:
        channels += f"  mail:\n    url: '{smtp.url()}'\n    format: html\n"
        channels += f"  slack:\n    url: {SLACK_URL}\n"
        routes += "  - channel: mail\n  - channel: slack\n"
    (root / "channels.yaml").write_text(channels)
    (root / "watchlists" / "ip.yaml").write_text(
        "groups:\n"
        "  taiwan: [Taiwan, 台灣]\n"
        "  mou: [MOU, memoranda of understanding]\n"
        "  us: ['=US', United States]\n"
        "  chips: [semiconductor]\n"
        f"match: {match}\n"
        "notify:\n" + routes
    )


def alerts_with(hook: HttpReceiver, text: str) -> int:
    return sum(text in str(payload) for _, payload, _ in hook.requests)


def mails_with(smtp: SmtpServer, text: str) -> int:
    return sum(text in str(m["Subject"]) for m in smtp.messages)


def test_daemon_end_to_end(
    tmp_path: Path, news: NewsServer, hook: HttpReceiver, slack: HttpReceiver, smtp: SmtpServer
) -> None:
    root = tmp_path / "config"
    write_config(root, news, hook, "taiwan AND mou AND us", smtp)
    db = f"sqlite:///{tmp_path / 'w.db'}"
    feeds = news.feed_ids()
    proc = start_daemon(root, db, slack.port)
    engine = make_engine(db)
    sessions = session_factory(engine)
    procs = [proc]
    try:

        def baselined() -> bool:
            try:
                with sessions() as s:
                    rows = s.scalars(select(Source)).all()
                    return len(rows) == 2 and all(r.baseline_done for r in rows)
            except Exception:
                return False

        wait_for(baselined, 60, "the silent baseline of both feeds")
        assert hook.requests == []  # the baseline alerts nobody

        # A story and its syndicated copy on the other host: one alert.
        item = news.publish(feeds[0], "Taiwan signs six MOUs with US firms", STORY, STORY * 3)
        news.syndicate(item, [feeds[1]])
        wait_for(lambda: alerts_with(hook, "six MOUs") >= 1, 60, "the first alert")

        # Hot reload: a new term takes effect without a restart.
        write_config(root, news, hook, "(taiwan AND mou AND us) OR chips", smtp)
        time.sleep(4)
        news.publish(feeds[1], "New semiconductor export rules", "Semiconductor rules. " * 20)
        wait_for(lambda: alerts_with(hook, "semiconductor export") >= 1, 60, "alert after reload")

        # A second daemon on the same SQLite database refuses to start.
        second = start_daemon(root, db, slack.port)
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "already using this SQLite database" in out

        # Killed without warning, restarted: a new story is still alerted, once. (A body
        # reusing STORY would be the same story, which must not alert again.)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        news.publish(
            feeds[0],
            "Taiwan MOU on patent licensing with United States",
            "A Taiwanese research institute and a United States university signed an MOU "
            "covering joint patent licensing of battery chemistry, officials said on Monday.",
        )
        proc = start_daemon(root, db, slack.port)
        procs.append(proc)
        wait_for(lambda: alerts_with(hook, "patent licensing with United") >= 1, 90, "restart")
        wait_for(lambda: len(smtp.messages) >= 3 and len(slack.requests) >= 3, 60, "mail, slack")
        time.sleep(6)  # several more poll and dispatch cycles
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            print(p.communicate(timeout=60)[0])  # shown by pytest on failure
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        engine.dispose()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert alerts_with(hook, "six MOUs") == 1, hook.requests
    assert alerts_with(hook, "semiconductor export") == 1
    assert alerts_with(hook, "patent licensing with United") == 1
    assert len(hook.requests) == 3, [p for _, p, _ in hook.requests]
    for title in ("six MOUs", "semiconductor export", "patent licensing with United"):
        assert mails_with(smtp, title) == 1, [m["Subject"] for m in smtp.messages]
        assert alerts_with(slack, title) == 1
    assert len(smtp.messages) == 3 and len(slack.requests) == 3
    assert len({m["Message-ID"] for m in smtp.messages}) == 3
