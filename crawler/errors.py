"""Errors as one line a user reads: ``Type: message`` (the shared form of every reason)."""

from __future__ import annotations


class CollectError(Exception):
    """A page that was fetched but holds nothing usable (the source's poll failed)."""


def one_line(exc: BaseException, limit: int = 300, *, first_line: bool = False) -> str:
    """``Type: message`` with whitespace collapsed, at most ``limit`` characters.

    ``first_line`` keeps only the message's first line (database drivers add DETAIL and
    HINT lines). An exception without a message is just its type name.
    """
    text = str(exc).strip()
    if first_line:
        text = text.splitlines()[0] if text else ""
    text = " ".join(text.split())
    name = type(exc).__name__
    return f"{name}: {text}"[:limit] if text else name
