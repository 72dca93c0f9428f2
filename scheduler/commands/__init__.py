"""CLI command modules; each registers its commands on ``scheduler.cli.app`` when imported."""

from scheduler.commands import (  # noqa: F401
    alerts,
    collect,
    console,
    daemon,
    init,
    sources,
    watch,
)
