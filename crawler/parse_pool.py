"""Parser processes: feeds are parsed (and article pages extracted) on another core while
this process stores.

A first pass is CPU-bound in one process: feedparser in worker threads and storage share
the GIL, so a two-core machine ran it on one core. A :class:`ParsePool` keeps up to
``size`` child processes (``python -m crawler.parse_pool``), each running one job at a time
sent over a socket pair. A job is a picklable module-level function with its arguments;
it may ask the parent questions through its ``callback`` (a feed asks which guids are
stored), answered by the calling thread.

A child that runs longer than ``timeout`` between two messages is killed, as is one that
dies; the job then raises :class:`~crawler.collectors.base.CollectError` with the reason and
the next job starts a fresh child. Either way the parent keeps running: a page that hangs or
crashes the parser costs its own source one failed poll (whose validators are not stored,
so nothing is lost), never the pass.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import pickle
import queue
import signal
import site
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from crawler.errors import CollectError

T = TypeVar("T")
logger = logging.getLogger(__name__)

#: Seconds a child may stay silent within a job before it is killed (its page fails).
PARSE_TIMEOUT = 120.0
#: Seconds a new child has to say it is ready.
START_TIMEOUT = 60.0
#: Seconds a child may wait for work before it is ended (a daemon between passes holds
#: no parser process; the next page starts one).
IDLE_SECONDS = 60.0
#: The module a child runs (``python -m``).
CHILD_MODULE = "crawler.parse_pool"
#: Largest page a parser process reads: it sends back all entries at once, so a larger
#: feed is parsed in the crawling process, a batch at a time (memory bound).
POOLED_MAX_BYTES = 1024 * 1024
#: Most parser processes :func:`auto_workers` chooses.
MAX_AUTO_WORKERS = 4
#: Pages waiting or being parsed in the crawling process's threads at which an on-demand
#: pool starts its first process. A poll of a few feeds never gets there and is spared the
#: process (45 MiB and about 0.3 s for a 5-feed poll); a first pass of many feeds gets
#: there within its first second (benchmarks/RESULTS.md).
START_BACKLOG = 8
# A parse allocates many short-lived dicts: collect as rarely as the command line does
# (scheduler.cli.GC_THRESHOLDS, measured there).
GC_THRESHOLDS = (50_000, 20, 20)


def auto_workers() -> int:
    """The pool size for this machine: one process per core beyond the first, at most
    :data:`MAX_AUTO_WORKERS`; 0 (parse in threads) on a single core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, MAX_AUTO_WORKERS))


class PoolUnavailable(Exception):
    """Parser processes cannot start here (no interpreter to run, a child that fails at
    start): callers parse in their own process instead."""


class ParsePool:
    """Up to ``size`` parser processes, started when first needed; thread-safe.

    When a child cannot start at all, the pool says so once (an error in the log) and every
    later :meth:`call` raises :class:`PoolUnavailable` at once. A child idle for ``idle``
    seconds is ended. An ``on_demand`` pool is only :meth:`wanted` once parsing backs up in
    the caller's own threads (or while a child runs).
    """

    def __init__(
        self,
        size: int,
        timeout: float = PARSE_TIMEOUT,
        idle: float = IDLE_SECONDS,
        on_demand: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("a parse pool needs at least one process")
        self.size = size
        self.on_demand = on_demand
        self.timeout = timeout
        self.idle = idle
        # Free slots, most recently used last: a running child, or None for one to start.
        self._slots: list[_Child | None] = [None] * size
        self._free = threading.Condition()
        self._children: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.unavailable: str | None = None
        # One thread per child waits for it: callers hand their jobs to these threads
        # instead of blocking a shared pool's (asyncio's default executor also stores).
        self.threads = _WaitingThreads(size)
        threading.Thread(target=self._reap, name="parse_reaper", daemon=True).start()

    def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        callback: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> T:
        """``fn(*args, **kwargs)`` in a parser process (with ``callback=`` a proxy that asks
        this thread's ``callback`` when one is given); its exception is raised here.

        Raises CollectError when the job hung or killed its process, PoolUnavailable when
        no process can start.
        """
        if self.unavailable is not None:
            raise PoolUnavailable(self.unavailable)
        with self._free:
            self._free.wait_for(lambda: bool(self._slots))
            child = self._slots.pop()
        try:
            if child is None or not child.alive():
                child = None
                child = self._start()
            return child.call(fn, args, kwargs, callback, self.timeout)
        except _Broken as exc:
            if child is not None:
                self._discard(child)
                child = None
            raise CollectError(str(exc)) from None
        finally:
            with self._free:
                if child is not None:
                    child.used = time.monotonic()
                self._slots.append(child)
                self._free.notify()

    def wanted(self, backlog: int) -> bool:
        """Whether the next page should go to a parser process, with ``backlog`` pages
        waiting or being parsed in the caller's threads: always for an eager pool; for an
        on-demand one while a child runs or once the backlog reaches :data:`START_BACKLOG`."""
        if self.unavailable is not None:
            return False
        return not self.on_demand or backlog >= START_BACKLOG or bool(self._children)

    def pids(self) -> list[int]:
        """The process ids of the running children."""
        with self._lock:
            return [c.process.pid for c in self._children if c.alive()]

    def close(self) -> None:
        """End every child (they also end by themselves when this process exits)."""
        with self._lock:
            self._closed = True
            children = list(self._children)
            self._children.clear()
        for child in children:
            child.stop()
        self.threads.shutdown(wait=False)

    def _start(self) -> _Child:
        with self._lock:
            if self._closed:
                raise CollectError("the parse pool is closed")
            if self.unavailable is not None:
                raise PoolUnavailable(self.unavailable)
            try:
                child = _Child.spawn()
            except _Unavailable as exc:
                self.unavailable = str(exc)
                logger.error("%s; feeds are parsed in the crawling process", exc)
                raise PoolUnavailable(self.unavailable) from None
            self._children.add(child)
            return child

    def _discard(self, child: _Child) -> None:
        with self._lock:
            self._children.discard(child)
        child.kill()

    def _reap(self) -> None:
        """End the children that waited longer than ``idle`` for work."""
        while not self._closed:
            time.sleep(min(self.idle / 4, 10.0))
            now, idle = time.monotonic(), []
            with self._free:
                for n, child in enumerate(self._slots):
                    if child is not None and now - child.used > self.idle:
                        self._slots[n] = None
                        idle.append(child)
            for child in idle:
                with self._lock:
                    self._children.discard(child)
                child.stop()


_shared: dict[tuple[int, bool], ParsePool] = {}
_shared_lock = threading.Lock()


def shared_pool(size: int, on_demand: bool = False) -> ParsePool | None:
    """This process's pool of ``size`` parser processes (kept across passes, so a daemon
    starts its children once), or None for ``size`` 0."""
    if size < 1:
        return None
    with _shared_lock:
        pool = _shared.get((size, on_demand))
        if pool is None:
            pool = _shared[size, on_demand] = ParsePool(size, on_demand=on_demand)
            # Reap the children at exit: no orphan outlives its daemon, and their CPU time
            # counts in ours (``wait4``).
            atexit.register(pool.close)
        return pool


def _package_root() -> str | None:
    """The directory a child must find ``crawler`` in first: this one's source tree, or None
    when it is installed (on the path already, after the standard library, as it must stay)."""
    root = Path(__file__).resolve().parent.parent
    installed = [*site.getsitepackages(), site.getusersitepackages()]
    if any(Path(d).resolve() == root for d in installed if d):
        return None
    return str(root)


class _Broken(Exception):
    """The child hung or died; it must be replaced."""


class _Unavailable(Exception):
    """No child could start."""


class _WaitingThreads(Executor):
    """Daemon threads that run callables, for waiting on children: unlike a
    ThreadPoolExecutor's, an exiting interpreter does not wait for them (a hung parse would
    hold the exit for the whole timeout); the children are ended at exit instead."""

    def __init__(self, size: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._size = size
        for n in range(size):
            threading.Thread(target=self._work, name=f"parse_{n}", daemon=True).start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` in one of the threads."""
        future: Future[T] = Future()
        self._jobs.put((future, partial(fn, *args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Let the threads end once the jobs before this call are done."""
        for _ in range(self._size):
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, run = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(run())
            except BaseException as exc:  # handed to the waiter, whatever it is
                future.set_exception(exc)


class _Child:
    """One parser process and its end of the socket pair."""

    def __init__(self, process: subprocess.Popen[bytes], conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.used = time.monotonic()  # when its last job ended

    @classmethod
    def spawn(cls) -> _Child:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        root = _package_root()
        if root is not None:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            process = subprocess.Popen(
                # -P: the working directory is not put on the path (no module there
                # may shadow one of ours).
                [sys.executable, "-P", "-m", CHILD_MODULE, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        except OSError as exc:
            ours.close()
            raise _Unavailable(f"cannot start a parser process: {exc}") from None
        finally:
            theirs.close()
        child = cls(process, Connection(ours.detach()))
        if not child.conn.poll(START_TIMEOUT):
            child.kill()
            raise _Unavailable(f"a parser process did not start within {START_TIMEOUT:g} s")
        try:
            child.conn.recv()  # ("ready", pid)
        except (EOFError, OSError):
            raise _Unavailable(child._death().replace("died", "died at start")) from None
        return child

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callback: Callable[[Any], Any] | None,
        timeout: float,
    ) -> T:
        self._send((fn, args, kwargs, callback is not None))
        failure: BaseException | None = None
        while True:
            if not self.conn.poll(timeout):
                raise _Broken(
                    f"parsing took longer than {timeout:g} s; the parser process was stopped"
                )
            try:
                kind, value = self.conn.recv()
            except (EOFError, OSError):
                raise _Broken(self._death()) from None
            if kind == "ask":
                try:
                    answer = ("ok", callback(value))  # type: ignore[misc]
                except Exception as exc:  # told to the job, raised here when it ends
                    failure, answer = exc, ("fail", None)
                self._send(answer)
            elif kind == "ok" and failure is None:
                return value  # type: ignore[no-any-return]
            else:
                raise failure or value

    def _send(self, message: Any) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise _Broken(self._death()) from None

    def _death(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return "the parser process stopped answering"
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return f"the parser process died ({how})"

    def stop(self) -> None:
        self.conn.close()  # the child reads end-of-file and exits
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self.conn.close()
        self.process.kill()
        self.process.wait()


# --------------------------------------------------------------------------- the child


def _serve(conn: Connection) -> None:
    """Run jobs until the parent closes its end."""

    def ask(question: Any) -> Any:
        conn.send(("ask", question))
        kind, answer = conn.recv()
        if kind != "ok":
            raise RuntimeError("the parent could not answer")
        return answer

    while True:
        try:
            fn, args, kwargs, asks = conn.recv()
        except (EOFError, OSError):
            return
        if asks:
            kwargs["callback"] = ask
        try:
            reply = ("ok", fn(*args, **kwargs))
        except Exception as exc:
            reply = ("err", exc)
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send(("err", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({exc})")))


def main(argv: list[str]) -> None:
    """The child's entry point: ``python -m crawler.parse_pool FD``."""
    # A terminal's Ctrl-C or a service manager's SIGTERM is the parent's to act on; the
    # child ends when the parent closes the socket (or dies).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.set_threshold(*GC_THRESHOLDS)
    conn = Connection(int(argv[0]))
    conn.send(("ready", os.getpid()))
    _serve(conn)


if __name__ == "__main__":
    main(sys.argv[1:])
