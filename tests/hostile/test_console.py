"""Hostile archive text through the web console: every page shows it as text, links only
http(s). The titles are the alert tests' hostile cases plus markup aimed at HTML pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from markupsafe import escape

from crawler.db import make_engine, session_factory
from scheduler.config import load_config
from scheduler.http import HttpServer
from scheduler.migrate import upgrade
from tests.alerts.test_render import EVIL
from tests.console.conftest import Client, Running, write_config
from tests.factories import add_article, add_source

# (title, url, body): each title ends in "Taiwan MOU US" so search and try-out show it too.
CASES: list[tuple[str, str, str]] = [
    (EVIL.title, EVIL.url, EVIL.snippet),
    (EVIL.title, "javascript:alert(1)", "see @here"),
    ('"><img src=x onerror=alert(1)>', "https://ok.example/a", "<svg onload=alert(1)>"),
    ("{{ 7*7 }} {% raw %}", "https://ok.example/b", "{{ config }}"),
    ('<div hx-post="/logout" hx-trigger="load">', "data:text/html,<b>x</b>", "x"),
    ("&lt;script&gt; pre-escaped", 'https://ok.example/c?a=<x>&b="y"', "&amp;"),
    ("\u202eevil override\u202c", "https://ok.example/d", "\x00\x1b[31m"),
    ("</textarea><script>alert(1)</script>", "vbscript:msgbox(1)", "</title>"),
]
# Raw tags from the archive, event handlers inside a tag, or a link to a script scheme.
MARKUP = re.compile(
    r"<(script|img|svg|div hx-)|<[^<>]*\son(error|load)="
    r"|(href|src)=\"\s*(javascript|vbscript|data):"
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root: Path = tmp_path_factory.mktemp("hostile")
    config = load_config(write_config(root / "config", 9, 9))
    engine = make_engine(f"sqlite:///{root / 'w.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        add_source(s, "evil")
        for i, (title, url, body) in enumerate(CASES):
            art = add_article(
                s, i, f"{title} Taiwan MOU US", f"{body} Taiwan MOU US",
                when=now - timedelta(minutes=i), source_id="evil",
            )  # fmt: skip
            art.url = url
    running = Running(HttpServer("127.0.0.1:0", lambda: config, sessions, daemon=False))
    try:
        yield Client(running.server.url)
    finally:
        running.close()
        engine.dispose()


def _pages(client: Client, n: int) -> list[str]:
    story = re.findall(r'<a href="/stories/(\d+)">', client.get("/stories")[2])[n]
    tryout = client.post(
        "/watchlists/taiwan-us/try",
        {"yaml": "groups: {m: [MOU]}\nmatch: m\n", "days": "30"},
    )[2]
    return [
        client.get("/stories")[2],
        client.get(f"/stories/{story}")[2],
        client.get("/stories?q=MOU")[2],
        tryout,
    ]


@pytest.mark.parametrize("n", range(len(CASES)))
def test_hostile_text_is_inert_on_every_page(client: Client, n: int) -> None:
    title = CASES[n][0]
    for page in _pages(client, n):
        body = page.split("<main>", 1)[1]
        assert not MARKUP.search(body), MARKUP.search(body)
        assert "{{" not in body or "{{ 7*7 }}" in body  # template syntax stays text
        assert "49 " not in body
        assert str(escape(title))[:12] in body  # shown, as text
