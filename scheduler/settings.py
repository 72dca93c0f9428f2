"""Daemon-wide settings from ``wirewatch.yaml``."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crawler.crawl_settings import CrawlSettings
from crawler.durations import Duration
from crawler.sources import check_timezone


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSettings(_Section):
    """Logging level and format."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class AlertSettings(_Section):
    """Outbox and admin-alert behaviour."""

    admin_channel: str | None = "console"
    failure_threshold: int = Field(default=5, ge=1)
    silence_factor: float = Field(default=10.0, gt=1)
    max_attempts: int = Field(default=10, ge=1, le=100)
    dispatch_interval: Duration = timedelta(seconds=10)
    stop_grace: Duration = timedelta(seconds=30)  # how long a stop waits for sends in flight


class RetentionSettings(_Section):
    """How long the archive keeps articles (``null`` keeps them forever)."""

    articles: Duration | None = timedelta(days=365)


class HttpSettings(_Section):
    """The HTTP listener: the web console, /healthz and /metrics.

    ``listen`` null: the daemon serves nothing (``wirewatch console`` uses 127.0.0.1:9464).
    A listen address other than loopback needs ``token``; ``public_url`` is where people
    reach the console, used for the story links in alert messages.
    """

    listen: str | None = Field(default=None, pattern=r"^[\w.\[\]:-]+:\d{1,5}$")
    token: str | None = Field(default=None, min_length=16)
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value


class AppSettings(_Section):
    """The whole ``wirewatch.yaml``."""

    database_url: str | None = None
    data_dir: str | None = None  # None: see Config.data_dir
    timezone: str = "UTC"
    log: LogSettings = LogSettings()
    crawl: CrawlSettings = CrawlSettings()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()
    http: HttpSettings = HttpSettings()

    _check_tz = field_validator("timezone")(check_timezone)
