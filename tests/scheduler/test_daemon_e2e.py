"""The real daemon against local feed servers and a webhook: every alert arrives exactly once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from benchmarks.newsserver import NewsServer
from tests.alerts.conftest import HttpReceiver, SmtpServer, smtp
from tests.scheduler.harness import (
    Archive,
    Daemon,
    alerts_with,
    hook,
    slack,
    two_hosts,
    wait_for,
    write_config,
)

__all__ = ["hook", "slack", "smtp", "two_hosts"]  # fixtures

STORY = (
    "Taiwan's Ministry of Economic Affairs signed six memoranda of understanding with US "
    "firms including Microsoft and Boeing, among them long-term patent licensing pacts, "
    "before the delegation wound up its week-long visit on Thursday. "
)


def mails_with(smtp: SmtpServer, text: str) -> int:
    return sum(text in str(m["Subject"]) for m in smtp.messages)


def test_daemon_end_to_end(
    tmp_path: Path,
    two_hosts: NewsServer,
    hook: HttpReceiver,
    slack: HttpReceiver,
    smtp: SmtpServer,
) -> None:
    news = two_hosts
    root = tmp_path / "config"
    write_config(root, news, hook, "taiwan AND mou AND us", smtp)
    db = f"sqlite:///{tmp_path / 'w.db'}"
    feeds = news.feed_ids()
    daemon = Daemon(root, db, slack_port=slack.port)
    archive = Archive(db)
    daemons = [daemon]
    try:
        wait_for(lambda: archive.baselined(2), 60, "the silent baseline of both feeds")
        assert hook.requests == []  # the baseline alerts nobody

        # A story and its syndicated copy on the other host: one alert.
        item = news.publish(feeds[0], "Taiwan signs six MOUs with US firms", STORY, STORY * 3)
        news.syndicate(item, [feeds[1]])
        wait_for(lambda: alerts_with(hook, "six MOUs") >= 1, 60, "the first alert")

        # Hot reload: a new term takes effect without a restart.
        write_config(root, news, hook, "(taiwan AND mou AND us) OR chips", smtp)
        daemon.wait_log("configuration reloaded")
        news.publish(feeds[1], "New semiconductor export rules", "Semiconductor rules. " * 20)
        wait_for(lambda: alerts_with(hook, "semiconductor export") >= 1, 60, "alert after reload")

        # A second daemon on the same SQLite database refuses to start.
        second = Daemon(root, db, slack_port=slack.port)
        daemons.append(second)
        assert second.wait(timeout=60) == 1
        assert "already using this SQLite database" in second.stderr()

        # Killed without warning, restarted: a new story is still alerted, once. (A body
        # reusing STORY would be the same story, which must not alert again.)
        daemon.kill()
        news.publish(
            feeds[0],
            "Taiwan MOU on patent licensing with United States",
            "A Taiwanese research institute and a United States university signed an MOU "
            "covering joint patent licensing of battery chemistry, officials said on Monday.",
        )
        daemon = Daemon(root, db, slack_port=slack.port)
        daemons.append(daemon)
        wait_for(lambda: alerts_with(hook, "patent licensing with United") >= 1, 90, "restart")
        wait_for(lambda: len(smtp.messages) >= 3 and len(slack.requests) >= 3, 60, "mail, slack")
        time.sleep(6)  # several more poll and dispatch cycles: nothing may repeat
    except BaseException:
        for d in daemons:
            d.kill()
            print(d.stderr())  # shown by pytest on failure
        raise
    finally:
        archive.close()
    assert daemon.stop(signal.SIGTERM) == 0, daemon.stderr()
    assert alerts_with(hook, "six MOUs") == 1, hook.requests
    assert alerts_with(hook, "semiconductor export") == 1
    assert alerts_with(hook, "patent licensing with United") == 1
    assert len(hook.requests) == 3, [p for _, p, _ in hook.requests]
    for title in ("six MOUs", "semiconductor export", "patent licensing with United"):
        assert mails_with(smtp, title) == 1, [m["Subject"] for m in smtp.messages]
        assert alerts_with(slack, title) == 1
    assert len(smtp.messages) == 3 and len(slack.requests) == 3
    assert len({m["Message-ID"] for m in smtp.messages}) == 3
