"""Watchlist definitions from ``watchlists/*.yaml``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from alerts.query import FIELDS, KEYWORDS
from alerts.regex_terms import check_term
from crawler.sources import check_timezone

MAX_TERM_CHARS = 500
MAX_TERMS = 50_000  # per watchlist; compiling 100,000 terms takes ~1.5 s


class RegexTerm(BaseModel):
    """A term given as a regular expression, RE2 syntax (see ``alerts.regex_terms``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regex: str

    _check = field_validator("regex")(check_term)


Term = str | RegexTerm
# Union branch names pydantic puts in error locations; the config loader drops them.
TERM_TAGS = frozenset({"text-term", "regex-term"})


def _term_kind(value: Any) -> str:
    return "regex-term" if isinstance(value, dict | RegexTerm) else "text-term"


# One error per bad term, for the branch the value is meant for (not one per union branch).
_TermField = Annotated[
    Annotated[Annotated[str, StringConstraints(max_length=MAX_TERM_CHARS)], Tag("text-term")]
    | Annotated[RegexTerm, Tag("regex-term")],
    Discriminator(_term_kind),
]
# Words the match expression reads as operators or field scopes, not as group names.
RESERVED_NAMES = KEYWORDS | frozenset(FIELDS)


class Route(BaseModel):
    """Where a watchlist's matches go: a channel, immediately or as a cron-scheduled digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    mode: Literal["immediate", "digest"] = "immediate"
    schedule: str | None = None
    timezone: str = "UTC"

    _check_tz = field_validator("timezone")(check_timezone)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"invalid cron schedule {value!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _digest_needs_schedule(self) -> Route:
        if self.mode == "digest" and not self.schedule:
            raise ValueError("a digest route needs a cron 'schedule', e.g. '0 8 * * 1-5'")
        return self


class Watchlist(BaseModel):
    """One watchlist: named term groups, a boolean ``match`` expression and routes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    description: str = ""
    enabled: bool = True
    groups: dict[str, list[_TermField]] = Field(default_factory=dict)
    match: str
    exclude: str | None = None
    sources: list[str] = Field(default_factory=list)
    notify: list[Route] = Field(default_factory=list)

    @field_validator("groups")
    @classmethod
    def _group_names(cls, value: dict[str, list[Term]]) -> dict[str, list[Term]]:
        total = sum(len(terms) for terms in value.values())
        if total > MAX_TERMS:
            raise ValueError(
                f"{total} terms; a watchlist holds at most {MAX_TERMS} (split it into several)"
            )
        for name, terms in value.items():
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"group name {name!r} must be letters, digits, '_' or '-'")
            if name.lower() in RESERVED_NAMES:
                raise ValueError(f"group name {name!r} is a keyword of the match language")
            if not terms:
                raise ValueError(f"group {name!r} has no terms")
        return value
