"""Why an entry a poll read was not stored: the words users see, in one place.

Every entry read is either stored or counted under one of these reasons (per source, in
the poll report and ``wirewatch sources``). Duplicate reasons start with :data:`DUPLICATE`.
"""

from __future__ import annotations

DUPLICATE = "duplicate"
FAILED_TO_STORE = "failed to store"
NO_IDENTITY = "no link and no guid"  # no http(s) link and no guid: nothing identifies it

_DUPLICATE_OF = {
    "url": "duplicate: same URL",
    "guid": "duplicate: same guid",
    "content": "duplicate: same content",
    "race": "duplicate: stored concurrently",
}


def duplicate_reason(kind: str) -> str:
    """A duplicate kind ("url", "guid", "content", "race") in words a user sees."""
    return _DUPLICATE_OF.get(kind, f"{DUPLICATE}: {kind}")


def failed_reason(error: str) -> str:
    """A store failure in words a user sees (bounded in length)."""
    return f"{FAILED_TO_STORE}: {error}"[:200]
