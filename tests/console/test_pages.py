"""Every console page over a real server and a seeded archive, SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from alerts.models import Delivery
from crawler.models import Source
from tests.alerts.conftest import HttpReceiver
from tests.console.conftest import (
    EN_TITLE,
    NOW,
    ZH_TITLE,
    Client,
    Console,
    Running,
    open_console,
)

TAIPEI = ZoneInfo("Asia/Taipei")


def story_ids(page: str) -> list[int]:
    """Story ids in the order the list shows them."""
    return [int(m) for m in re.findall(r'<a href="/stories/(\d+)">', page)]


def test_story_list_newest_first_with_times_in_the_configured_zone(console: Console) -> None:
    code, headers, page = console.client.get("/stories")
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    ids = console.ids
    assert story_ids(page) == [ids.en, ids.zh, ids.mountain, ids.evil]
    assert "Times in Asia/Taipei" in page
    first_seen = (NOW - timedelta(hours=2)).astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M")
    assert first_seen in page
    assert 'class="badge">taiwan-us<' in page
    assert "moea-en, focus-en" in page  # every source carrying the story


def test_story_list_filters(console: Console) -> None:
    ids, get = console.ids, console.client.get
    assert story_ids(get("/stories?watchlist=taiwan-us")[2]) == [ids.en, ids.evil]
    assert story_ids(get("/stories?source=cna-zh")[2]) == [ids.zh]
    assert story_ids(get("/stories?tag=official")[2]) == [ids.en, ids.mountain]
    assert story_ids(get("/stories?tag=official&source=cna-zh")[2]) == []
    assert story_ids(get("/stories?lang=zh")[2]) == [ids.zh]
    today = NOW.astimezone(TAIPEI).date()
    later = (today + timedelta(days=1)).isoformat()
    assert story_ids(get(f"/stories?from={later}")[2]) == []
    assert len(story_ids(get(f"/stories?to={today.isoformat()}")[2])) == 4
    code, _, page = get("/stories?from=yesterday")
    assert code == 400 and "not a date" in page


def test_search_uses_the_watchlist_language(console: Console) -> None:
    ids, get = console.ids, console.client.get
    assert story_ids(get("/stories?q=MOU")[2]) == [ids.evil]  # EN says "memoranda"
    found = story_ids(get("/stories?q=%22memoranda%20of%20understanding%22%20OR%20MOU")[2])
    assert found == [ids.en, ids.evil]
    assert story_ids(get("/stories?q=%E5%90%88%E4%BD%9C%E5%82%99%E5%BF%98%E9%8C%84")[2]) == [
        ids.zh
    ]  # 合作備忘錄
    assert story_ids(get("/stories?q=mountain%20AND%20NOT%20MOU")[2]) == [ids.mountain]
    page = get("/stories?q=taiwan%20mou")[2]
    assert "adjacent terms are not implicitly ANDed" in page and "column 8" in page
    assert story_ids(get("/stories?q=MOU&source=moea-en")[2]) == []


def test_story_page(console: Console) -> None:
    code, _, page = console.client.get(f"/stories/{console.ids.en}")
    assert code == 200
    assert "MOEA news" in page and "Focus Taiwan" in page  # every article with its source
    published = (NOW - timedelta(hours=2)).astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M")
    assert published in page
    assert 'href="https://n.test/1"' in page and 'href="https://n.test/2"' in page
    assert "<mark>memoranda of understanding</mark>" in page
    assert re.search(r'<span class="group">mou</span> memoranda of understanding', page)
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"<tr>\s*<td>(hook-[a-z]+)</td>.*?</tr>", page, re.S)
    }
    assert "status-sent" in rows["hook-ok"] and "Retry" not in rows["hook-ok"]
    assert "status-dead" in rows["hook-down"] and "Retry" in rows["hook-down"]
    assert "500" in rows["hook-down"]  # the last error


def test_alerts_link_to_the_story_page(console: Console) -> None:
    ok, _ = console.hooks
    link = f"http://console.test:9464/stories/{console.ids.en}"
    assert any(link in str(payload) for _, payload, _ in ok.requests), ok.requests


def test_missing_story_and_bad_cursor(console: Console) -> None:
    assert console.client.get("/stories/999999")[0] == 404
    code, _, page = console.client.get("/stories?after=garbage")
    assert code == 400 and "invalid cursor" in page


def test_retry_a_dead_delivery(console: Console) -> None:
    with console.sessions() as s:
        dead = s.scalars(select(Delivery).where(Delivery.status == "dead")).all()
        sent = s.scalars(select(Delivery).where(Delivery.status == "sent")).first()
    assert dead and sent is not None
    client = console.client
    code, headers, _ = client.request(f"/alerts/{dead[0].id}/retry", {"csrf": "forged"})
    assert code == 403
    code, headers, _ = client.post(f"/alerts/{dead[0].id}/retry")
    assert code == 303 and headers["Location"] == f"/alerts?retried={dead[0].id}"
    with console.sessions() as s:
        row = s.get(Delivery, dead[0].id)
        assert row is not None and row.status == "pending" and row.attempts == 0
    assert client.post(f"/alerts/{sent.id}/retry")[0] == 409
    assert client.post("/alerts/999999/retry")[0] == 404
    page = client.get(f"/alerts?retried={dead[0].id}")[2]
    assert f"Delivery {dead[0].id} is queued again" in page


def test_alerts_ledger_filters_and_pages(console: Console) -> None:
    get = console.client.get
    page = get("/alerts?status=dead")[2]
    assert "status-dead" in page and "status-sent" not in page and "hook-down" in page
    page = get("/alerts?channel=hook-ok")[2]
    assert "hook-ok" in page and "status-dead" not in page
    assert get("/alerts?status=bogus")[0] == 400
    with console.sessions() as s:
        top = max(s.scalars(select(Delivery.id)))
    page = get(f"/alerts?before={top}")[2]
    assert f'id="delivery-{top}"' not in page


def test_sources_page_and_poll_now(console: Console) -> None:
    page = console.client.get("/sources")[2]
    for sid in ("moea-en", "focus-en", "cna-zh", "evil"):
        assert f'id="source-{sid}"' in page
    # moea-en's articles were fetched 2 h and 4 h before NOW: one or two Taipei days
    days = Counter((NOW - timedelta(hours=h)).astimezone(TAIPEI).date() for h in (2, 4))
    row = re.search(r'id="source-moea-en".*?</tr>', page, re.S)
    assert row is not None and 'aria-label="2 items in 30 days"' in row.group(0)
    for day, n in days.items():
        assert f"<title>{day.isoformat()}: {n}</title>" in row.group(0)
    code, headers, _ = console.client.post("/sources/moea-en/poll")
    assert code == 303 and headers["Location"].startswith("/sources?polled=moea-en")
    with console.sessions() as s:
        row = s.get(Source, "moea-en")
        assert row is not None and row.next_poll_at is not None
        assert row.next_poll_at <= datetime.now(UTC)
    assert console.client.post("/sources/nope/poll")[0] == 404


def test_watchlist_page_shows_the_file_and_recent_matches(console: Console) -> None:
    code, _, page = console.client.get("/watchlists/taiwan-us")
    assert code == 200
    assert "taiwan AND mou AND us" in page and "watchlists/taiwan-us.yaml" in page
    assert f'href="/stories/{console.ids.en}"' in page
    assert console.client.get("/watchlists/nope")[0] == 404
    assert "taiwan-us" in console.client.get("/watchlists")[2]


def test_cursor_paging_visits_every_story_once(
    db_url: str, tmp_path: Path, hooks: tuple[HttpReceiver, HttpReceiver]
) -> None:
    from scheduler.http import HttpServer

    config, engine, sessions, _ = open_console(db_url, tmp_path / "cfg", hooks, fillers=120)
    running = Running(HttpServer("127.0.0.1:0", lambda: config, sessions, daemon=False))
    try:
        client = Client(running.server.url)
        seen: list[int] = []
        path = "/stories"
        while True:
            page = client.get(path)[2]
            seen += story_ids(page)
            nxt = re.search(r'rel="next" href="([^"]+)"', page)
            if not nxt:
                break
            path = html.unescape(nxt.group(1))
        assert len(seen) == 124 and len(set(seen)) == 124
        assert seen.index(max(seen)) < seen.index(min(seen))
    finally:
        running.close()
        engine.dispose()


def test_titles_are_what_the_source_published(console: Console) -> None:
    page = console.client.get("/stories")[2]
    assert html.escape(EN_TITLE) in page and ZH_TITLE in page
