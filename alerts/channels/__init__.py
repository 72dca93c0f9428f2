"""Channels: where alerts go, and sending one message through one.

- :mod:`~alerts.channels.config`: ``channels.yaml`` models (a name, an apprise URL, limits);
- :mod:`~alerts.channels.message`: a message, per-service outcomes, the send result;
- :mod:`~alerts.channels.sender`: one apprise service per channel, outcomes classified as
  sent, retryable or permanent;
- :mod:`~alerts.channels.wire`: the HTTP answers (status, Retry-After) seen during a send;
- :mod:`~alerts.channels.services`: our replacements for apprise services, one file each.
"""

from __future__ import annotations

from alerts.channels.config import CONSOLE_URL, Channel, ChannelsFile, RateBudget
from alerts.channels.message import Message, SendResult, ServiceOutcome, clean_header
from alerts.channels.sender import ChannelSender, build_plugin, classify, default_format, senders

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
