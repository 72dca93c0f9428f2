"""Running the real ``wirewatch`` console script against a test config directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))


def wirewatch(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``wirewatch ARGS`` with ``WIREWATCH_CONFIG=config`` (no database URL from outside)."""
    env = {**os.environ, "COLUMNS": "300", "WIREWATCH_CONFIG": str(config)}
    env.pop("WIREWATCH_DATABASE_URL", None)
    return subprocess.run(
        [WIREWATCH, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )
