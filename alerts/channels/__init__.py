"""Channels: where alerts go, and sending one message through one.

- :mod:`~alerts.channels.config`: ``channels.yaml`` models (a name, an apprise URL, limits);
- :mod:`~alerts.channels.message`: a message, per-service outcomes, the send result;
- :mod:`~alerts.channels.sender`: one apprise service per channel, outcomes classified as
  sent, retryable or permanent;
- :mod:`~alerts.channels.wire`: the HTTP answers (status, Retry-After) seen during a send;
- :mod:`~alerts.channels.services`: our replacements for apprise services, one file each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alerts.channels.config import CONSOLE_URL, Channel, ChannelsFile, RateBudget
from alerts.channels.message import Message, SendResult, ServiceOutcome, clean_header

if TYPE_CHECKING:
    from alerts.channels.sender import (
        ChannelSender,
        build_plugin,
        classify,
        default_format,
        senders,
    )

# The sender (apprise, requests and our services) loads on first use: reading the config
# or polling feeds needs none of it.
_SENDER = frozenset({"ChannelSender", "build_plugin", "classify", "default_format", "senders"})


def __getattr__(name: str) -> Any:
    if name in _SENDER:
        from alerts.channels import sender

        return getattr(sender, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONSOLE_URL",
    "Channel",
    "ChannelSender",
    "ChannelsFile",
    "Message",
    "RateBudget",
    "SendResult",
    "ServiceOutcome",
    "build_plugin",
    "classify",
    "clean_header",
    "default_format",
    "senders",
]
