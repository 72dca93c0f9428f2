"""The systemd notify protocol against real unix datagram sockets."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler import sdnotify


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket on a filesystem path, named in NOTIFY_SOCKET."""
    # A short directory: unix socket paths are limited to about 108 bytes.
    with tempfile.TemporaryDirectory(prefix="sd") as tmp:
        path = str(Path(tmp) / "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        try:
            yield sock
        finally:
            sock.close()


@pytest.fixture
def abstract_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket in the abstract namespace, named as ``@name``."""
    name = f"wirewatch-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        yield sock
    finally:
        sock.close()


def _recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_lifecycle_messages(receiver: socket.socket) -> None:
    assert sdnotify.ready() is True
    assert _recv(receiver) == "READY=1"
    assert sdnotify.watchdog() is True
    assert _recv(receiver) == "WATCHDOG=1"
    assert sdnotify.status("polling 12 sources") is True
    assert _recv(receiver) == "STATUS=polling 12 sources"
    assert sdnotify.stopping() is True
    assert _recv(receiver) == "STOPPING=1"


def test_abstract_namespace(abstract_receiver: socket.socket) -> None:
    assert sdnotify.ready() is True
    assert _recv(abstract_receiver) == "READY=1"
    assert sdnotify.notify("STATUS=a\nWATCHDOG=1") is True
    assert _recv(abstract_receiver) == "STATUS=a\nWATCHDOG=1"


def test_status_is_one_line(receiver: socket.socket) -> None:
    sdnotify.status("two\nlines  and\ttabs")
    assert _recv(receiver) == "STATUS=two lines and tabs"


def test_reloading_carries_a_monotonic_timestamp(receiver: socket.socket) -> None:
    assert sdnotify.reloading() is True
    first, second = _recv(receiver).split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC" and int(value) > 0


def test_no_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.ready() is False
    assert sdnotify.watchdog() is False


@pytest.mark.parametrize("value", ["", "vsock:2:1234", "relative/path"])
def test_unusable_addresses_are_ignored(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", value)
    assert sdnotify.ready() is False


def test_send_errors_do_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", f"/nonexistent-{uuid.uuid4().hex}/notify")
    assert sdnotify.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", f"@nobody-listens-{uuid.uuid4().hex}")
    assert sdnotify.ready() is False


def test_empty_state_is_not_sent(receiver: socket.socket) -> None:
    assert sdnotify.notify("") is False


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    assert sdnotify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    for bad in ("0", "-5", "soon", ""):
        monkeypatch.setenv("WATCHDOG_USEC", bad)
        assert sdnotify.watchdog_interval() is None
