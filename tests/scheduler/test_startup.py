"""Start-up cost: the CLI entry module loads no heavy library until a command needs it.

Checked through ``sys.modules`` in a fresh interpreter, never by timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    return [name for name in HEAVY if name in modules]


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
