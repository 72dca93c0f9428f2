"""Sending one message through one channel, the outcome classified as sent, retryable or
permanent.

One apprise service per channel, built once, called in the caller's thread: the asset's
service_timeout is 0, so apprise neither hands the call to its shared worker pool (where a
hung channel would hold a worker other channels need) nor abandons a still-running send
whose message may yet arrive. Each wait is bounded by the service's socket timeouts
(``cto``/``rto``, SMTP's one timeout), which the channel's ``timeout`` overrides. Where we
replace an apprise service (:mod:`alerts.channels.services`), :func:`build_plugin` builds
our subclass instead; HTTP answers are noted by :mod:`alerts.channels.wire`.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Literal, TextIO

from alerts.channels.config import Channel
from alerts.channels.message import Message, SendResult, ServiceOutcome

if TYPE_CHECKING:
    from apprise import Apprise
    from apprise.manager_plugins import NotificationManager
    from apprise.plugins.base import NotifyBase
    from apprise.result import AppriseResult

_HTTP_STATUS = re.compile(r"error=(\d{3})")


@cache
def _services() -> NotificationManager:
    """apprise's service registry, our overrides and the HTTP-answer observer, loaded once.

    On first use: a console channel needs none of apprise (a large import).
    """
    from apprise.manager_plugins import NotificationManager

    from alerts.channels import wire  # noqa: F401 (installs the observer on import)
    from alerts.channels.services import load_all

    manager = NotificationManager()
    load_all()
    return manager


def build_plugin(url: str, timeout: timedelta | None = None) -> NotifyBase:
    """Instantiate the apprise service for ``url`` (our subclass where we have one)."""
    from apprise import AppriseAsset
    from apprise.plugins import url_to_dict

    from alerts.channels.services import OVERRIDES

    services = _services()
    results = url_to_dict(url, secure_logging=True)
    if results is None or results.get("schema") not in services:
        raise ValueError("apprise cannot use this URL; check its form")
    base = services[results["schema"]]
    cls = OVERRIDES.get(base, base)
    results["tag"] = set()
    results["asset"] = AppriseAsset(service_timeout=0)
    plugin = cls(**results)
    if timeout is not None:
        plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout.total_seconds()
    return plugin


def default_format(channel: Channel) -> Literal["text", "markdown", "html"]:
    """The body format for a channel: its ``format``, else by service."""
    if channel.format:
        return channel.format
    if channel.is_console:
        return "text"
    scheme = channel.url.split("://", 1)[0].lower()
    if scheme in {"mailto", "mailtos"}:
        return "html"
    if scheme in {"slack", "discord", "mmost", "mmosts", "rocket", "rockets", "tgram"}:
        return "markdown"
    return "text"


class ChannelSender:
    """Sends messages through one channel; reports each service's result."""

    def __init__(self, name: str, channel: Channel, *, stream: TextIO | None = None) -> None:
        self.name = name
        self.channel = channel
        self.format = default_format(channel)
        self._stream = stream
        self._apprise: Apprise | None = None
        self.max_length = channel.max_length
        if not channel.is_console:
            from apprise import Apprise

            plugin = build_plugin(channel.url, channel.timeout)
            self._apprise = Apprise(asset=plugin.asset)
            self._apprise.add(plugin)
            if self.max_length is None and plugin.body_maxlen > 0:
                # the service's own limit (32 KiB for webhooks, 2,000 for Discord, …)
                self.max_length = max(int(plugin.body_maxlen), 200)

    def send(self, message: Message) -> SendResult:
        """Send ``message``; never raises for delivery problems."""
        if self._apprise is None:
            return self._print(message)
        from alerts.channels import wire

        with wire.noting(message, self.name) as notes:
            try:
                result = self._apprise.notify(
                    body=message.body, title=message.title, body_format=message.body_format
                )
            except Exception as exc:  # a plugin bug must not take the dispatcher down
                return SendResult(False, True, f"apprise raised {type(exc).__name__}: {exc}")
        return classify(result, notes.statuses, notes.retry_after)

    def _print(self, message: Message) -> SendResult:
        stream = self._stream or sys.stdout
        text = message.text or message.body
        stream.write(f"== {message.title}\n{text}\n")
        stream.flush()
        return SendResult(True, services=(ServiceOutcome("console", "console://", True),))


def classify(
    result: AppriseResult, statuses: Sequence[int] = (), retry_after: float | None = None
) -> SendResult:
    """Turn apprise's per-service result into ok / retryable / permanent.

    Only a clear refusal of the request itself is permanent: every HTTP answer a 4xx other
    than 408/425/429. Anything else (timeouts, resets, 5xx, SMTP errors, a call apprise
    could not even dispatch) is retried with backoff until ``max_attempts``.
    """
    from apprise.result import AppriseResultStatus

    services = []
    codes = [s for s in statuses if not 200 <= s < 400]
    for svc in result:
        lines = [e.message for e in svc.logs() if e.level in {"WARNING", "ERROR"}]
        codes += [int(m) for line in lines for m in _HTTP_STATUS.findall(line)]
        detail = lines[-1] if lines else svc.status.name.lower()
        services.append(ServiceOutcome(svc.name, svc.url, bool(svc), "" if svc else detail))
    if result.status == AppriseResultStatus.SUCCESS and services and all(s.ok for s in services):
        return SendResult(True, services=tuple(services))
    failed = [s for s in services if not s.ok]
    reason = "; ".join(f"{s.name}: {s.detail}" for s in failed)
    if not reason:
        logs = [e.message for e in result.call_logs()]
        reason = logs[-1] if logs else f"apprise reported {result.status.name.lower()}"
    permanent = bool(codes) and all(400 <= c < 500 and c not in {408, 425, 429} for c in codes)
    return SendResult(
        False, not permanent, reason[:500], retry_after, tuple(services), throttled=429 in codes
    )


def senders(channels: Mapping[str, Channel]) -> dict[str, ChannelSender]:
    """A sender per enabled channel (channels apprise cannot load are left out)."""
    out: dict[str, ChannelSender] = {}
    for name, ch in channels.items():
        if ch.enabled:
            with contextlib.suppress(ValueError):
                out[name] = ChannelSender(name, ch)
    return out
