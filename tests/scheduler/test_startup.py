"""Start-up cost: the CLI entry module loads no heavy library until a command needs it.

Checked through ``sys.modules`` in a fresh interpreter, never by timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from benchmarks.newsserver import NewsServer

REPO = Path(__file__).resolve().parents[2]

# Loaded only by the commands that use them (fetching, storing, extracting, delivering).
HEAVY = (
    "scrapy",
    "twisted",
    "trafilatura",
    "apprise",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "alembic",
    "feedparser",
    "lxml",
    "datasketch",
    "numpy",
    "scipy",
    "dateparser",
    "apscheduler",
    "psycopg",
    "starlette",
    "uvicorn",
)


# Loaded by no `wirewatch poll` of feeds: article extraction, delivery, Scrapy's switched-off
# remote control (aiohttp) and cookies (tldextract, requests), dateparser (for foreign dates
# only), scipy and numpy.random (signing needs numpy only).
NOT_FOR_POLL = (
    "trafilatura",
    "htmldate",
    "apprise",
    "alerts.channels.sender",
    "requests",
    "aiohttp",
    "tldextract",
    "dateparser",
    "datasketch",
    "scipy",
    "numpy.random",
)


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _loaded_after(code: str, names: Iterable[str] = HEAVY) -> list[str]:
    modules = _modules_after(code)
    return [name for name in names if name in modules]


def test_cli_entry_module_and_its_commands_load_no_heavy_module() -> None:
    # What `wirewatch --help` imports: the entry module and every command module.
    assert _loaded_after("import scheduler.cli") == []


def test_loading_the_config_opens_no_database_module() -> None:
    code = f"from scheduler.context import AppContext\nAppContext.load({str(REPO / 'config')!r})"
    loaded = _loaded_after(code)
    # apprise validates channel URLs and parsel (lxml) compiles the html sources' selectors;
    # nothing that fetches, stores or extracts is loaded.
    assert set(loaded) <= {"apprise", "lxml"}, loaded


def test_the_probe_sees_a_heavy_import() -> None:
    assert _loaded_after("import sqlalchemy.dialects.postgresql") == [
        "sqlalchemy",
        "sqlalchemy.dialects.postgresql",
    ]


def test_a_poll_of_feeds_loads_no_extraction_delivery_or_scipy(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "watchlists").mkdir(parents=True)
    (config / "wirewatch.yaml").write_text(
        f"database_url: sqlite:///{tmp_path / 'ww.db'}\ncrawl:\n  timeout: 10s\n",
        encoding="utf-8",
    )
    with NewsServer(hosts=2, feeds_per_host=1, items_per_feed=5) as server:
        sources = "".join(
            f"  - {{id: f{i}, type: rss, url: '{url}'}}\n"
            for i, url in enumerate(server.feed_urls())
        )
        (config / "sources.yaml").write_text(f"sources:\n{sources}", encoding="utf-8")
        code = (
            f"import sys\nsys.argv = ['wirewatch', 'poll', '-q', '-c', {str(config)!r}]\n"
            "from scheduler.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code"
        )
        modules = _modules_after(code)
    # The poll did crawl, store and sign (numpy) the items ...
    assert {"scrapy", "crawler.store", "crawler.minhash", "numpy"} <= modules
    # ... and left the rest alone.
    assert [name for name in NOT_FOR_POLL if name in modules] == []


def test_a_database_at_head_is_checked_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    code = (
        "from crawler.db import make_engine\nfrom scheduler.migrate import ensure_schema\n"
        f"assert ensure_schema(make_engine({url!r})) is {{first}}"
    )
    # A fresh database is migrated (with alembic); once at head, alembic stays unloaded.
    assert "alembic" in _modules_after(code.format(first=True))
    assert "alembic" not in _modules_after(code.format(first=False))


def test_the_command_line_collects_garbage_at_its_own_thresholds() -> None:
    # main() sets them before any command runs; --version exits right after
    probe = (
        "import gc, sys\n"
        "from scheduler.cli import GC_THRESHOLDS, main\n"
        "sys.argv = ['wirewatch', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(gc.get_threshold() == GC_THRESHOLDS != (700, 10, 10))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True"
