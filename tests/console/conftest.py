"""A real console on loopback over a seeded archive (SQLite and PostgreSQL legs).

The archive is written the way the daemon writes it: sources synced from the config,
articles stored, ``match_pending`` records matches and queues deliveries, and
``dispatch_due`` sends them to local webhooks, one of which fails so its delivery dies.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from alerts.matcher import Matcher
from alerts.matching import match_pending
from alerts.outbox import dispatch_due
from crawler.db import make_engine, session_factory
from crawler.state import sync_sources
from scheduler.config import Config, load_config
from scheduler.http import HttpServer
from scheduler.migrate import upgrade
from tests.alerts.conftest import HttpReceiver, Reply
from tests.alerts.test_render import EVIL
from tests.factories import add_article

NOW = datetime.now(UTC).replace(microsecond=0)
EN_TITLE = "Taiwan moving to deepen high-tech cooperation with US"
EN_BODY = (
    "Taiwan's Ministry of Economic Affairs (MOEA) had signed six memoranda of understanding "
    "with US firms including Microsoft, Boeing and Micron, among them long-term procurement "
    "and patent licensing pacts."
)
ZH_TITLE = "經濟部與美國企業簽署合作備忘錄"
ZH_BODY = "經濟部產業發展署率團赴美，與美國微軟、波音等企業簽署6項合作備忘錄，包括長期採購。"
WATCHLIST = """\
name: taiwan-us
description: Taiwan–US MOUs.
groups:
  taiwan: [Taiwan, 台灣, 臺灣, 經濟部]
  mou: [MOU, memoranda of understanding, memorandum of understanding]
  us: ["=US", United States, 美國]
match: taiwan AND mou AND us
notify:
  - channel: hook-ok
  - channel: hook-down
"""


def write_config(root: Path, ok: int, down: int, extra: str = "") -> Path:
    """The console's test config: Taipei time, four sources, two webhooks, one watchlist."""
    (root / "watchlists").mkdir(parents=True, exist_ok=True)
    (root / "wirewatch.yaml").write_text(
        "timezone: Asia/Taipei\n"
        "alerts: {admin_channel: null, max_attempts: 1}\n"
        "http: {public_url: 'http://console.test:9464'}\n" + extra
    )
    (root / "sources.yaml").write_text(
        "sources:\n"
        "  - {id: moea-en, name: MOEA news, type: rss, url: 'http://127.0.0.1:9/a', "
        "language: en, tags: [official, tw]}\n"
        "  - {id: focus-en, name: Focus Taiwan, type: rss, url: 'http://127.0.0.1:9/b', "
        "language: en, tags: [media, tw]}\n"
        "  - {id: cna-zh, name: 中央社, type: rss, url: 'http://127.0.0.1:9/c', "
        "language: zh, tags: [media, tw]}\n"
        "  - {id: evil, type: rss, url: 'http://127.0.0.1:9/d', language: en}\n"
    )
    (root / "channels.yaml").write_text(
        "channels:\n"
        f"  hook-ok: {{url: 'json://127.0.0.1:{ok}/ok'}}\n"
        f"  hook-down: {{url: 'json://127.0.0.1:{down}/down'}}\n"
    )
    (root / "watchlists" / "taiwan-us.yaml").write_text(WATCHLIST, encoding="utf-8")
    return root


@dataclass
class Seeded:
    """Ids of the seeded stories."""

    en: int
    zh: int
    mountain: int
    evil: int


def seed(sessions: sessionmaker[Session], config: Config, fillers: int = 0) -> Seeded:
    """The bilingual MOU stories, a near miss, a hostile story; then match and dispatch."""
    with sessions.begin() as s:
        sync_sources(s, config.sources.sources)
        for i in range(fillers):
            add_article(
                s, 1000 + i, f"Filler story {i}", "Nothing to see.",
                when=NOW - timedelta(days=2, minutes=i), source_id="focus-en", language="en",
            )  # fmt: skip
        en = add_article(
            s, 1, EN_TITLE, EN_BODY, when=NOW - timedelta(hours=2), source_id="moea-en",
            language="en",
        )  # fmt: skip
        en.story.article_count = 2  # type: ignore[union-attr]
        add_article(
            s, 2, EN_TITLE + " (Focus Taiwan)", EN_BODY, when=NOW - timedelta(hours=1),
            story=en.story, source_id="focus-en", language="en",
        )  # fmt: skip
        zh = add_article(
            s, 3, ZH_TITLE, ZH_BODY, when=NOW - timedelta(hours=3), source_id="cna-zh",
            language="zh",
        )  # fmt: skip
        mountain = add_article(
            s, 4, "Mountain hiking near Taipei", "The US team hiked a mountain in Taiwan.",
            when=NOW - timedelta(hours=4), source_id="moea-en", language="en",
        )  # fmt: skip
        evil = add_article(
            s, 5, EVIL.title + " Taiwan MOU US", EVIL.snippet + " Taiwan signs MOU with US",
            when=NOW - timedelta(hours=5), source_id="evil", language="en",
        )  # fmt: skip
        evil.url = "javascript:alert(1)"
        ids = Seeded(en.story_id, zh.story_id, mountain.story_id, evil.story_id)  # type: ignore[arg-type]
    matcher = Matcher.compile(config.watchlists)
    with sessions() as s:
        match_pending(s, matcher, config, now=NOW)
    dispatch_due(sessions, config, owner="test", now=NOW + timedelta(seconds=1))
    return ids


class Client:
    """urllib with cookies against the console; never raises on HTTP errors."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def request(
        self,
        path: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.headers, err.read().decode()

    def get(self, path: str, **headers: str) -> tuple[int, Any, str]:
        return self.request(path, headers=headers)

    def csrf(self) -> str:
        if not any(c.name == "wirewatch_csrf" for c in self.jar):
            self.get("/login")
        return next(c.value or "" for c in self.jar if c.name == "wirewatch_csrf")

    def post(self, path: str, data: dict[str, str] | None = None, **headers: str) -> Any:
        return self.request(path, {"csrf": self.csrf(), **(data or {})}, headers)


class Running:
    """An HttpServer served on a loop in a background thread (the daemon uses its own loop)."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> None:
            server.start()

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.server.stop()


@dataclass
class Console:
    """A served, seeded console and what is behind it."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    ids: Seeded
    client: Client
    server: HttpServer
    hooks: tuple[HttpReceiver, HttpReceiver]


@pytest.fixture
def hooks() -> Iterator[tuple[HttpReceiver, HttpReceiver]]:
    """Two webhook receivers: one answers 200, the other 500 (its deliveries die)."""
    ok, down = HttpReceiver(), HttpReceiver()
    down.default = Reply(status=500, body=b"receiver down")
    try:
        yield ok, down
    finally:
        ok.close()
        down.close()


def open_console(
    db_url: str, root: Path, hooks: tuple[HttpReceiver, HttpReceiver], fillers: int = 0
) -> tuple[Config, Engine, sessionmaker[Session], Seeded]:
    """Config, migrated database and seeded archive (no server yet)."""
    config = load_config(write_config(root, hooks[0].port, hooks[1].port))
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    return config, engine, sessions, seed(sessions, config, fillers)


@pytest.fixture
def console(
    db_url: str, tmp_path: Path, hooks: tuple[HttpReceiver, HttpReceiver]
) -> Iterator[Console]:
    """The seeded console on 127.0.0.1, SQLite and PostgreSQL."""
    config, engine, sessions, ids = open_console(db_url, tmp_path / "config", hooks)
    server = HttpServer(
        "127.0.0.1:0", lambda: config, sessions, daemon=False, tick=lambda: datetime.now(UTC)
    )
    running = Running(server)
    try:
        yield Console(config, engine, sessions, ids, Client(server.url), server, hooks)
    finally:
        running.close()
        engine.dispose()
