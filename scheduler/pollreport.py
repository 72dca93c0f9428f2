"""What a poll pass tells people: per-source rows, the new items, a summary line, and
whether the network itself looks down.

"The network looks down" is said when every source a pass polled (two or more) failed with a
connection-class error (refused, DNS, timeout, unreachable; no HTTP answer at all), since then
the sources are not the problem. ``NetworkWatch`` says it once per outage: again only after a
pass in which some source answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from scheduler.output import plural

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NAMED_FAILURES = 3
# Substrings of crawler.spiders.poll.describe_failure's reasons that mean "no answer at all".
_CONNECTION = (
    "connection refused",
    "dns lookup failed",
    "timed out after",
    "no route",
    "unreachable",
    "connecterror",
    "tcptimedout",
    "connectingcancelled",
)


class _Outcome(Protocol):
    source_id: str
    status: str
    error: str | None
    http_status: int | None
    failed: bool


class _Report(Protocol):
    @property
    def outcomes(self) -> Sequence[Any]: ...

    @property
    def failed(self) -> Sequence[Any]: ...


def new_items(session: Session, ids: Iterable[int]) -> dict[str, list[dict[str, Any]]]:
    """The articles a pass stored, by source id, in id order."""
    from sqlalchemy import select

    from crawler.models import Article

    ids = list(ids)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        query = select(
            Article.id,
            Article.source_id,
            Article.story_id,
            Article.title,
            Article.url,
            Article.published_at,
        ).where(Article.id.in_(chunk))
        for a in session.execute(query.order_by(Article.id)):
            by_source.setdefault(a.source_id, []).append(
                {
                    "id": a.id,
                    "story_id": a.story_id,
                    "title": a.title,
                    "url": a.url or None,
                    "published_at": a.published_at,
                }
            )
    return by_source


def poll_rows(
    report: _Report, items: Mapping[str, list[dict[str, Any]]], sources: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One row per polled source (the fields of ``docs/output.md``)."""
    rows = []
    for o in report.outcomes:
        src = sources.get(o.source_id)
        rows.append(
            {
                "source_id": o.source_id,
                "source": src.label if src is not None else o.source_id,
                "status": o.status,
                "baseline": o.baseline,
                "http_status": o.http_status,
                "found": o.found,
                "new": o.new,
                "duplicates": o.duplicates,
                "skipped": dict(o.skipped),
                "error": o.error,
                "note": (o.refused or o.warnings or [None])[0],
                "new_items": items.get(o.source_id, []),
            }
        )
    return rows


def skipped_text(skipped: dict[str, int] | None, *, duplicates: bool = True) -> str:
    """``{"duplicate: same guid": 7}`` as "7 duplicate: same guid", largest first."""
    pairs = sorted((skipped or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(
        f"{n} {why}" for why, n in pairs if duplicates or not why.startswith("duplicate")
    )


def failures_text(report: _Report, named: int = NAMED_FAILURES) -> str:
    """``a (connection refused), b (HTTP 404) and 17 more``; "" without failures."""
    failed = list(report.failed)
    text = ", ".join(f"{o.source_id} ({o.error or 'failed'})" for o in failed[:named])
    return text + (f" and {len(failed) - named} more" if len(failed) > named else "")


def summary(report: Any) -> str:
    """The closing line of ``wirewatch poll``: counts, then the failures by name."""
    failed = len(report.failed)
    others = sum(report.skipped.values()) - report.duplicates
    skipped = skipped_text(report.skipped, duplicates=False)
    line = (
        f"{report.new} new, {report.duplicates} already seen, "
        + (f"{others} skipped ({skipped}), " if others else "")
        + f"{len(report.outcomes) - failed} ok, {failed} failed in {report.seconds:.1f}s"
    )
    return line + (f": {failures_text(report)}" if failed else "")


def is_connection_error(outcome: _Outcome) -> bool:
    """True when the source never answered (no HTTP status, a connection-class reason)."""
    error = (outcome.error or "").lower()
    return outcome.http_status is None and any(k in error for k in _CONNECTION)


def offline_message(report: _Report) -> str | None:
    """One line when every polled source (two or more) failed to connect, else None."""
    polled = [o for o in report.outcomes if o.status != "skipped"]
    if len(polled) < 2 or not all(o.failed and is_connection_error(o) for o in polled):
        return None
    return (
        f"the network looks down: none of the {plural(len(polled), 'source')} could be "
        f"reached ({polled[0].error}); check this machine's connection or proxy"
    )


class NetworkWatch:
    """Says "the network looks down" once per outage (see the module docstring)."""

    def __init__(self) -> None:
        self.down = False

    def note(self, report: _Report) -> str | None:
        """The line to log for this pass, if any: the outage once, then its end once."""
        message = offline_message(report)
        if message is not None:
            if self.down:
                return None
            self.down = True
            return message
        answered = any(o.status in ("ok", "not_modified") for o in report.outcomes)
        if self.down and answered:
            self.down = False
            return "the network is back: sources answer again"
        return None
