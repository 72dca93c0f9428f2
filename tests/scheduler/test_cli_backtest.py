"""``wirewatch backtest`` over a real archive, with and without --deliver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from alerts.models import Delivery
from crawler.db import make_engine, session_factory
from scheduler.migrate import upgrade
from tests.factories import add_article, add_source
from tests.scheduler.test_cli_check import wirewatch

MOEA = (
    "As part of its efforts to enforce the 'Reconnect USA' policy, a delegation organized by "
    "Taiwan's Ministry of Economic Affairs (MOEA) had signed six memoranda of understanding "
    "with US firms including Microsoft, Boeing and Micron, among them long-term procurement "
    "and patent licensing pacts."
)
ZH = "經濟部產業發展署率團赴美，與美國微軟、波音等企業簽署6項合作備忘錄，包括長期採購及專利授權。"


def seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with session_factory(engine).begin() as s:
        add_source(s, "moea-en-news")
        rows = [
            ("Taiwan moving to deepen high-tech cooperation with US", MOEA, now),
            ("經濟部與美國企業簽署合作備忘錄", ZH, now - timedelta(days=3)),
            ("Mountain hiking near Taipei", "The US team hiked a mountain in Taiwan.", now),
            ("Old MOU story", MOEA, now - timedelta(days=60)),
        ]
        for i, (title, body, when) in enumerate(rows):
            add_article(
                s,
                i,
                title,
                body,
                when=when,
                source_id="moea-en-news",
                baseline=True,
                matched_at=when,
            )
    engine.dispose()


def test_backtest_and_deliver(bundled_config: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    seed(url)
    env = {"WIREWATCH_DATABASE_URL": url}
    res = wirewatch(
        "backtest", "taiwan-us-ip", "--since", "30d", "-c", str(bundled_config), env=env
    )
    assert res.returncode == 0, res.stderr
    assert "Taiwan moving to deepen" in res.stdout and "經濟部與美國企業" in res.stdout
    assert "Mountain" not in res.stdout and "Old MOU" not in res.stdout
    assert "2 stories matched; nothing was sent" in res.stdout

    args = ("backtest", "taiwan-us-ip", "--since", "30d", "--deliver", "-c", str(bundled_config))
    res = wirewatch(*args, env=env)
    assert "2 queued for delivery" in res.stdout, res.stdout + res.stderr
    res = wirewatch(*args, env=env)
    assert "0 queued for delivery (2 had already alerted)" in res.stdout
    engine = make_engine(url)
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 2
    engine.dispose()

    res = wirewatch("backtest", "nope", "-c", str(bundled_config), env=env)
    assert res.returncode == 1 and "no watchlist 'nope'" in res.stderr
