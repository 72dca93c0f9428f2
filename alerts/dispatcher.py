"""Channels sent independently: one lane (a thread) per channel, started when it has work.

``tick`` runs every dispatch interval: for each enabled, unpaused channel with something
due (immediate rows, a digest) whose lane is idle it starts a lane, which drains that
channel (``outbox.drain_channel``, then its due digests) and ends. A channel that hangs or
fails occupies only its own lane, so the others are sent within one interval. A lane sends
one message at a time (the channel's send lease), so channels run concurrently but a
crash repeats at most one message per channel.

Stopping: ``stop_claiming`` makes every lane finish its current send and claim nothing
more; ``finish(grace)`` waits for them up to ``grace`` and hands back whatever is still in
flight (``channel_state.release_owner``: not counted as an attempt). Lanes are daemon
threads, so a send hung past the grace never keeps the process from exiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts import channel_state
from alerts.channels import Channel, ChannelSender
from alerts.digest import DigestConfig, due_digests, send_digest
from alerts.models import Delivery, DeliveryStatus
from alerts.outbox import LEASE, DispatchReport, drain_channel, is_due
from crawler.models import utcnow

log = logging.getLogger("wirewatch.dispatch")
Count = Callable[[str, int], None]


class Dispatcher:
    """Per-channel sending lanes of one dispatcher process (see the module docstring)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        *,
        count: Count | None = None,
    ) -> None:
        self.sessions = sessions
        self.owner = owner
        self._count = count or (lambda _name, _n: None)
        self._lanes: dict[str, threading.Thread] = {}
        self._senders: dict[str, tuple[Channel, ChannelSender | None]] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def tick(self, config: DigestConfig, now: datetime | None = None) -> list[str]:
        """Start a lane for each channel with due work and no running lane; return their names."""
        now = now or utcnow()
        with self.sessions() as s:
            waiting = set(
                s.scalars(
                    select(Delivery.channel)
                    .where(is_due(now), Delivery.mode == "immediate")
                    .distinct()
                )
            )
            paused = channel_state.paused(s, now)
        waiting |= {r.channel for r in due_digests(self.sessions, config, now)}
        started = []
        with self._lock:
            for name in sorted(waiting - set(paused)):
                channel = config.channels.get(name)
                if self._stopping.is_set() or channel is None or not channel.enabled:
                    continue
                lane = self._lanes.get(name)
                if lane is not None and lane.is_alive():
                    continue
                lane = threading.Thread(
                    target=self._drain,
                    args=(name, config, self._sender(name, channel)),
                    name=f"lane-{name}",
                    daemon=True,
                )
                self._lanes[name] = lane
                lane.start()
                started.append(name)
        return started

    def _sender(self, name: str, channel: Channel) -> ChannelSender | None:
        """The channel's sender, rebuilt only when its configuration changed."""
        known = self._senders.get(name)
        if known is None or known[0] != channel:
            try:
                sender: ChannelSender | None = ChannelSender(name, channel)
            except ValueError:
                sender = None  # reported per row: "channel is not configured or cannot be loaded"
            known = self._senders[name] = (channel, sender)
        return known[1]

    def _drain(self, name: str, config: DigestConfig, sender: ChannelSender | None) -> None:
        report = DispatchReport()
        try:
            drain_channel(
                self.sessions,
                config,
                name,
                sender,
                owner=self.owner,
                report=report,
                lease=LEASE,
                stopping=self._stopping.is_set,
            )
            for route in due_digests(self.sessions, config):
                if route.channel != name or self._stopping.is_set():
                    continue
                done = send_digest(
                    self.sessions,
                    config,
                    route.watchlist,
                    route.index,
                    owner=self.owner,
                    channel_senders={name: sender} if sender else {},
                )
                if done.status == DeliveryStatus.SENT:
                    self._count("deliveries_sent", done.rows)
                elif done.status in (DeliveryStatus.FAILED, DeliveryStatus.DEAD):
                    self._count("delivery_failures", done.rows)
        except Exception as exc:
            if self._stopping.is_set():  # the database may already be closing
                log.warning("channel %s stopped mid-send: %s", name, exc)
            else:
                log.exception("sending on channel %s failed; it will be retried", name)
        finally:
            self._count("deliveries_sent", report.sent)
            self._count("delivery_failures", report.failed + report.dead)
            for error in report.errors:
                log.warning("channel %s: %s", name, error)

    def busy(self) -> list[str]:
        """Channels whose lane is sending now."""
        with self._lock:
            return [name for name, lane in self._lanes.items() if lane.is_alive()]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every lane is idle (at most ``timeout`` seconds); True if they are."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                lanes = [lane for lane in self._lanes.values() if lane.is_alive()]
            if not lanes:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            lanes[0].join(left)

    def run_once(self, config: DigestConfig) -> None:
        """Send everything due now on every channel, and return when done (``run --once``)."""
        self.tick(config)
        self.wait()

    def stop_claiming(self) -> None:
        """From now on no lane claims anything new; sends in flight go on."""
        with self._lock:
            self._stopping.set()

    def finish(self, grace: float) -> tuple[int, list[str]]:
        """Stop claiming, wait up to ``grace`` s for sends in flight, hand back the rest.

        Returns (deliveries handed back, channels still sending)."""
        self.stop_claiming()
        if self.wait(grace):
            return 0, []
        with self.sessions() as s:
            released = channel_state.release_owner(s, self.owner)
        return released, self.busy()
