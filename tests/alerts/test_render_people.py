"""Alert bodies and subjects as people read them: local time, source names, terms as written,
plurals, e-mail subjects that unfold exactly, apprise's log naming the channel."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from apprise import Apprise, AppriseAsset

from alerts.channels import Channel, ChannelSender, build_plugin, fold_subject
from alerts.digest import digest_routes, last_fire
from alerts.outbox import renderer_for
from alerts.render import AlertItem, OtherSource, Renderer
from scheduler.config import load_config
from tests.alerts.conftest import HttpReceiver, SmtpServer

ITEM = AlertItem(
    watchlist="tw-deals",
    title="Taiwan and US sign patent MOU",
    url="https://n.test/1",
    source="moea-en",
    snippet="Taiwan and the US signed an MOU.",
    highlights=[(0, 6)],
    terms=["Taiwan", "=US", "US", "MOU"],
    published_at=datetime(2026, 11, 30, 5, 5, tzinfo=UTC),
    others=(OtherSource("cna-en", "Same story", "https://n.test/2"),),
)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_immediate_alert_in_configured_zone_with_names_and_terms(fmt: str) -> None:
    r = Renderer(timezone="Asia/Taipei", source_names={"moea-en": "MOEA", "cna-en": "CNA"})
    body = r.immediate(ITEM, fmt).body  # type: ignore[arg-type]
    assert "2026-11-30 13:05 CST" in body and "UTC" not in body
    assert "MOEA" in body and "CNA" in body and "moea-en" not in body and "cna-en" not in body
    assert "=US" not in body
    matched = next(line for line in body.splitlines() if "Matched:" in line)
    assert matched.split("Matched:")[1].strip(" </p>") == "Taiwan, US, MOU"


def test_digest_says_one_story() -> None:
    r = Renderer(timezone="Asia/Taipei", source_names={"moea-en": "MOEA"})
    [msg] = r.digest_parts("tw-deals", [ITEM], "text")
    assert msg.title == "[tw-deals] digest: 1 story"
    assert msg.body.startswith("tw-deals: 1 story\n") and "MOEA · 2026-11-30 13:05 CST" in msg.body
    [two] = r.digest_parts("tw-deals", [ITEM, ITEM], "text")
    assert two.title == "[tw-deals] digest: 2 stories"


def _config(tmp_path: Path, route_tz: str = "") -> Path:
    root = tmp_path / "config"
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text(
        f"database_url: sqlite:///{tmp_path / 'w.db'}\ntimezone: Asia/Taipei\n"
    )
    (root / "sources.yaml").write_text(
        "sources:\n  - id: moea-en\n    name: MOEA (English)\n    type: rss\n"
        "    url: https://n.test/feed\n"
    )
    zone = f"\n    timezone: {route_tz}" if route_tz else ""
    (root / "watchlists" / "w.yaml").write_text(
        "groups:\n  us: ['=US']\nmatch: us\nnotify:\n  - channel: console\n"
        f"    mode: digest\n    schedule: '0 8 * * 1-5'{zone}\n"
    )
    return root


def test_digest_route_without_zone_uses_global_timezone(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    [route] = digest_routes(cfg)
    assert route.timezone == "Asia/Taipei"
    # 08:00 in Taipei is 00:00 UTC (not 08:00 UTC = 16:00 Taipei)
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Taipei
    assert last_fire(route, now) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def test_digest_route_own_zone_wins(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, route_tz="Europe/London"))
    assert digest_routes(cfg)[0].timezone == "Europe/London"


def test_renderer_for_uses_config_zone_and_source_names(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    body = renderer_for(cfg).immediate(ITEM, "text").body
    assert "MOEA (English) · 2026-11-30 13:05 CST" in body


def _subjects(n: int) -> list[str]:
    words = [
        "經濟部公告：半導體出口管制新規定將於下月生效",
        "Patent",
        "pool",
        "FRAND",
        "Überlänge",
        "https://example.org/a/very/long/path/that/goes/on/and/on/forever.html",
        "美國商務部",
        "BIS",
        "—",
        "「專利」",
        "x" * 70,
        "標準必要專利授權費率爭議持續延燒至歐洲法院判決",
        "=?utf-8?q?not-an-encoded-word?=",
        "🚀",
        "a",
    ]
    rng = random.Random(88)
    out = ["[tw-deals] " + " ".join(rng.choice(words) for _ in range(rng.randint(1, 14)))]
    while len(out) < n:
        out.append("[tw-deals] " + " ".join(rng.choice(words) for _ in range(rng.randint(1, 14))))
    out[1] = "[tw-deals] " + "台灣" * 120  # one long CJK run with no space at all
    out[2] = "[tw-deals] short"
    return [s[:250].strip() for s in out]


def test_email_subjects_unfold_exactly(smtp: SmtpServer) -> None:
    subjects = _subjects(88)
    sender = ChannelSender("mail", Channel(url=smtp.url(), format="text"))
    assert sender._apprise is not None
    sender._apprise[0].request_rate_per_sec = 0  # apprise spaces e-mails 2 s apart
    r = Renderer()
    for subject in subjects:
        item = AlertItem(
            watchlist="tw-deals",
            title=subject[len("[tw-deals] ") :],
            url="",
            source="s",
            snippet="",
        )
        assert sender.send(r.immediate(item, "text")).ok
    got = [BytesParser(policy=policy.default).parsebytes(raw)["Subject"] for raw in smtp.raw]
    assert got == subjects
    for raw in smtp.raw:
        head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        line = next(x for x in head.split("\r\n") if x.startswith("Subject:"))
        assert line.startswith("Subject: ") and line[len("Subject: ") :].strip()
        assert all(len(x) <= 998 for x in head.split("\r\n"))


def test_fold_subject_never_breaks_after_the_colon() -> None:
    for subject in _subjects(200):
        folded = fold_subject(subject)
        assert folded.split("\r\n")[0] != "Subject:"
        assert not folded.startswith("Subject: \r\n")


def test_apprise_notifying_line_names_the_channel(
    http: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"json://127.0.0.1:{http.port}/h"
    sender = ChannelSender("team-hook", Channel(url=url))
    # apprise logs "Notifying N service(s)." on its threaded path (a service deadline set)
    plugin = build_plugin(url, timedelta(seconds=4))
    plugin.asset = AppriseAsset(service_timeout=5)
    sender._apprise = Apprise(asset=plugin.asset)
    sender._apprise.add(plugin)
    with caplog.at_level(logging.INFO, logger="apprise"):
        assert sender.send(Renderer().immediate(ITEM, "text")).ok
        logging.getLogger("apprise").info("Notifying %d service(s).", 2)  # outside a send
    notes = [r.getMessage() for r in caplog.records if "otifying" in r.getMessage()]
    assert notes == ["channel team-hook: notifying 1 service(s)"]
