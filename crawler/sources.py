"""Source definitions from ``sources.yaml``: one model per source ``type``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crawler.durations import Duration

SOURCE_ID = r"^[a-z0-9][a-z0-9_.-]*$"


def check_timezone(value: str) -> str:
    """Validate an IANA timezone name."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r}") from exc
    return value


def check_regex(value: str | None) -> str | None:
    """Validate a regular expression, reporting the position of a syntax error."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
    return value


class _SourceBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SOURCE_ID, max_length=80)
    name: str = ""
    url: str
    interval: Duration = timedelta(minutes=30)
    enabled: bool = True
    language: str | None = None
    timezone: str = "UTC"
    fetch_article: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)

    _check_tz = field_validator("timezone")(check_timezone)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("interval")
    @classmethod
    def _min_interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=5):
            raise ValueError("interval must be at least 5s")
        return value

    @property
    def label(self) -> str:
        """The display name: ``name`` or the id."""
        return self.name or self.id

    @property
    def tz(self) -> ZoneInfo:
        """The zone for dates that carry none."""
        return ZoneInfo(self.timezone)


class FeedSource(_SourceBase):
    """An RSS 0.9x/1.0/2.0, RDF or Atom feed."""

    type: Literal["rss", "atom"]


class Selectors(BaseModel):
    """Selectors for a listing page: CSS, or XPath when starting with ``/``, ``(`` or ``./``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    list: str
    link: str | None = None
    title: str | None = None
    date: str | None = None
    next_page: str | None = None


class ListingSource(_SourceBase):
    """An HTML news listing page scraped with selectors."""

    type: Literal["html"]
    selectors: Selectors
    link_pattern: str | None = None
    dayfirst: bool = False
    max_pages: int = Field(default=1, ge=1, le=50)

    _check_pattern = field_validator("link_pattern")(check_regex)


class SitemapSource(_SourceBase):
    """A sitemap, sitemap index or Google News sitemap."""

    type: Literal["sitemap"]
    link_pattern: str | None = None
    max_urls: int = Field(default=500, ge=1, le=50_000)

    _check_pattern = field_validator("link_pattern")(check_regex)


Source = Annotated[FeedSource | ListingSource | SitemapSource, Field(discriminator="type")]
SOURCE_TYPES: dict[str, type[_SourceBase]] = {
    "rss": FeedSource,
    "atom": FeedSource,
    "html": ListingSource,
    "sitemap": SitemapSource,
}


class SourcesFile(BaseModel):
    """The whole ``sources.yaml``."""

    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(default_factory=list)
