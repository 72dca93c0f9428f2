"""Channels from ``channels.yaml``: a name, an apprise URL (or ``console://``), limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crawler.durations import Duration

CONSOLE_URL = "console://"


class RateBudget(BaseModel):
    """At most ``max`` messages per ``per`` on one channel; the rest wait in the outbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max: int = Field(ge=1)
    per: Duration = timedelta(hours=1)


class Channel(BaseModel):
    """A named destination: ``console://`` or any apprise URL (mailto, slack, …)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=3)
    format: Literal["text", "markdown", "html"] | None = None
    rate: RateBudget | None = None
    max_length: int | None = Field(default=None, ge=200)
    timeout: Duration | None = None
    enabled: bool = True

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(seconds=1) <= value <= timedelta(minutes=10):
            raise ValueError("timeout must be between 1s and 10m")
        return value

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value.strip() in {"console", CONSOLE_URL}:
            return CONSOLE_URL
        if "://" not in value:
            raise ValueError("expected an apprise URL like 'mailtos://…' or 'slack://…'")
        from apprise import Apprise  # only for a non-console channel (a large import)

        if Apprise.instantiate(value) is None:
            scheme = value.split("://", 1)[0]
            raise ValueError(f"apprise cannot use this URL (scheme {scheme!r}); check its form")
        return value

    @property
    def is_console(self) -> bool:
        """True for the built-in console channel."""
        return self.url == CONSOLE_URL


class ChannelsFile(BaseModel):
    """The whole ``channels.yaml``."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[str, Channel] = Field(default_factory=dict)
