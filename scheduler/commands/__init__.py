"""CLI command modules; each registers its commands on ``scheduler.cli.app`` when imported."""

from scheduler.commands import alerts, collect, console, daemon, sources, watch  # noqa: F401
