"""The watchlist try-out: the same validation as ``check``, the same replay as ``backtest``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from scheduler.config import check_watchlist_text, load_config
from scheduler.yamlsource import ConfigError
from tests.console.conftest import WATCHLIST, ZH_TITLE, Console

WITH_CHINESE = WATCHLIST.replace(
    "mou: [MOU, memoranda of understanding, memorandum of understanding]",
    "mou: [MOU, memoranda of understanding, memorandum of understanding, 合作備忘錄]",
)


def tryout(console: Console, text: str, days: str = "30", **headers: str) -> tuple[int, str]:
    code, _, page = console.client.post(
        "/watchlists/taiwan-us/try", {"yaml": text, "days": days}, **headers
    )
    return code, page


def test_the_saved_watchlist_finds_what_it_matched(console: Console) -> None:
    code, page = tryout(console, WATCHLIST)
    assert code == 200 and "<html" in page  # a plain form post gets the whole page
    assert "<strong>2</strong> stories would have matched in the last 30 days" in page
    assert "0 of them not matched by the saved watchlist" in page
    assert f'href="/stories/{console.ids.en}"' in page and ZH_TITLE not in page


def test_adding_a_chinese_term_finds_the_chinese_story(console: Console) -> None:
    code, page = tryout(console, WITH_CHINESE, **{"HX-Request": "true"})
    assert code == 200 and "<html" not in page  # htmx gets the results fragment only
    assert "<strong>3</strong> stories" in page and "1 of them not matched" in page
    row = re.search(rf'href="/stories/{console.ids.zh}">(.*?)</tr>', page, re.S)
    assert row is not None and ZH_TITLE in row.group(1)
    assert "<mark>合作備忘錄</mark>" in row.group(1) and 'class="badge new"' in row.group(1)


def test_errors_are_the_ones_check_prints(console: Console, tmp_path: Path) -> None:
    broken = WATCHLIST.replace("match: taiwan AND mou AND us", "match: taiwan AND mou AND")
    broken = broken.replace("channel: hook-ok", "channel: hook-okk")
    code, page = tryout(console, broken)
    assert code == 200 and "Not valid" in page
    copy = tmp_path / "copy"
    shutil.copytree(console.config.directory, copy)
    (copy / "watchlists" / "taiwan-us.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(copy)
    expected = [str(p).split("/copy/", 1)[1] for p in info.value.problems]
    assert sorted(e.split(":")[1:3] for e in expected) == [["7", "23"], ["9", " notify[0].channel"]]
    for problem in expected:  # same file, line, column and message
        assert problem.replace("'", "&#39;") in page


def test_yaml_and_field_errors(console: Console) -> None:
    wl, problems = check_watchlist_text("groups: [\n", console.config, "watchlists/x.yaml")
    assert wl is None and "YAML syntax error" in str(problems[0])
    wl, problems = check_watchlist_text(
        "match: a\ngroups: {a: [x]}\nnotify: [{channel: nope}]\n",
        console.config,
        "watchlists/x.yaml",
    )
    assert wl is None and str(problems[0]).startswith("watchlists/x.yaml:3: notify[0].channel")
    wl, problems = check_watchlist_text(WATCHLIST, console.config, "watchlists/taiwan-us.yaml")
    assert wl is not None and wl.name == "taiwan-us" and problems == []


def test_days_are_bounded(console: Console) -> None:
    assert tryout(console, WATCHLIST, days="0")[0] == 400
    assert tryout(console, WATCHLIST, days="abc")[0] == 400
    code, page = tryout(console, WATCHLIST, days="1")
    assert code == 200 and "in the last 1 days" in page


def test_nothing_is_saved(console: Console) -> None:
    path = console.config.directory / "watchlists" / "taiwan-us.yaml"
    before = path.read_text(encoding="utf-8")
    tryout(console, WITH_CHINESE)
    assert path.read_text(encoding="utf-8") == before
    assert "合作備忘錄" not in console.client.get("/watchlists/taiwan-us")[2]
