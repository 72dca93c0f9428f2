"""Watchlist definitions from ``watchlists/*.yaml``."""

from __future__ import annotations

import re
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
# A plain term that reads like a regular expression: alternation (a|b), an escape
# class (\d \w \s \b), a wildcard run (.* .+), a character range ([0-9]), or a "re:" prefix.
_REGEX_LOOK = re.compile(r"\||\\[dwsbDWSB]|\.[*+]|\[[^\]]+-[^\]]+\]")
_REGEX_PREFIX = re.compile(r"^(?:re|regex)\s*:\s*", re.I)


def regex_lookalike(term: str) -> str | None:
    """The pattern a plain ``term`` seems meant as (``re:"Tai(wan|pei)"``), or None.

    A plain term is matched literally, so such a term almost never matches anything.
    """
    m = _REGEX_PREFIX.match(term)
    if m:
        return term[m.end() :].strip().strip("\"'") or None
    return term if _REGEX_LOOK.search(term) else None


# Words the match expression reads as operators or field scopes, not as group names.
RESERVED_NAMES = frozenset({"and", "or", "not", "near", "title", "summary", "body"})


class Route(BaseModel):
    """Where a watchlist's matches go: a channel, immediately or as a cron-scheduled digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    mode: Literal["immediate", "digest"] = "immediate"
    schedule: str | None = None
    timezone: str | None = None  # None: the global ``timezone`` of wirewatch.yaml

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

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

    def in_zone(self, timezone: str) -> Watchlist:
        """This watchlist with ``timezone`` for every route that names no zone of its own."""
        if all(r.timezone for r in self.notify):
            return self
        routes = [
            r if r.timezone else r.model_copy(update={"timezone": timezone}) for r in self.notify
        ]
        return self.model_copy(update={"notify": routes})

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
