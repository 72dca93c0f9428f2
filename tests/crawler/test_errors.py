"""Errors as one line: the shared form of reasons shown to users."""

from __future__ import annotations

from crawler.errors import one_line


def test_type_and_message_with_whitespace_collapsed_and_capped() -> None:
    assert one_line(ValueError("bad\n  value\there")) == "ValueError: bad value here"
    assert one_line(OSError("x" * 500)) == ("OSError: " + "x" * 500)[:300]
    assert one_line(ValueError("abcdef"), 12) == "ValueError: "
    assert one_line(KeyboardInterrupt()) == "KeyboardInterrupt"


def test_first_line_drops_driver_detail() -> None:
    exc = RuntimeError("could not connect\nDETAIL: the server is down\nHINT: start it")
    assert one_line(exc, first_line=True) == "RuntimeError: could not connect"
    assert one_line(RuntimeError("  \n"), first_line=True) == "RuntimeError"
