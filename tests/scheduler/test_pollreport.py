"""What a poll pass tells people: failures by name, and "the network looks down" once per outage."""

from __future__ import annotations

from crawler.collect import PollReport
from crawler.state import PollOutcome
from scheduler.daemon import _summary
from scheduler.pollreport import NetworkWatch, failures_text, offline_message


def report(*errors: str | None, http_status: int | None = None) -> PollReport:
    outcomes = []
    for i, error in enumerate(errors):
        status = "ok" if error is None else "failed"
        outcomes.append(PollOutcome(f"src-{i:02d}", status, http_status, error))
    return PollReport(outcomes=outcomes)


def test_failures_are_named_then_counted() -> None:
    text = failures_text(report(*["connection refused"] * 20))
    assert text == (
        "src-00 (connection refused), src-01 (connection refused), src-02 (connection refused)"
        " and 17 more"
    )
    assert failures_text(report(None, "HTTP 404 Not Found")) == "src-01 (HTTP 404 Not Found)"
    assert _summary(report(*["DNS lookup failed"] * 7)).endswith(
        "src-04 (DNS lookup failed) and 2 more"
    )


def test_network_down_only_when_every_source_failed_to_connect() -> None:
    assert offline_message(report("connection refused", "DNS lookup failed", "timed out after 30s"))
    assert offline_message(report("connection refused", None)) is None
    assert offline_message(report("HTTP 503 Service Unavailable", "connection refused")) is None
    assert offline_message(report("connection refused", "x", http_status=500)) is None
    assert offline_message(report("connection refused")) is None  # one source proves little


def test_network_down_is_said_once_per_outage() -> None:
    watch = NetworkWatch()
    down = report("connection refused", "DNS lookup failed")
    said = [watch.note(down) for _ in range(5)]
    assert said[0] and "network looks down" in said[0] and said[1:] == [None] * 4
    assert (
        watch.note(report(None, "connection refused"))
        == "the network is back: sources answer again"
    )
    assert watch.note(report(None, None)) is None
    assert watch.note(down) is not None  # a new outage is said again
