"""Whole processes, start-up included: ``wirewatch check``, ``poll`` and ``run --once``.

Each side is one child process timed from fork to exit, its peak RSS read from the kernel
(``wait4``'s ``ru_maxrss``; forked from a small launcher) and, with its own child processes
(wirewatch's parser processes), sampled from /proc; rows report the larger. The baseline
process is the 16-thread urllib + feedparser pool of :mod:`benchmarks.threadpool`, on the
same feeds, run in turn with wirewatch in alternating rounds.

Rows:

* ``startup-check``: ``wirewatch check`` of a config with 5 local feeds (no baseline: the
  targets are absolute, < 1 s and < 120 MiB).
* ``startup-poll``: ``wirewatch poll`` of those 5 feeds on a fresh database vs the pool.
* ``poll-process`` / ``poll-process-304``: ``wirewatch poll`` of 1,000 feeds on 100 hosts
  (50 ms latency), then again (every answer a 304), vs the pool with validators.
* ``daemon-rss``: ``wirewatch run --once`` (poll, match the example watchlist, deliver to
  the console) over the same 1,000 feeds on a fresh database: its peak RSS, target ≤ 150 MiB;
  the baseline column is the pool's peak RSS.

Both sides run as ``pip install .`` leaves them: their modules byte-compiled
(:func:`compile_project`). An editable install run with ``PYTHONDONTWRITEBYTECODE`` set
(as on CI machines) would otherwise compile every module from source at every start.
"""

from __future__ import annotations

import compileall
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_poll import CRAWL, LATENCY, REPO, worker_env
from benchmarks.newsserver import NewsServer
from benchmarks.registry import Result, RunOptions, register

WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))
URLWATCH = shutil.which("urlwatch", path=str(Path(sys.executable).parent)) or shutil.which(
    "urlwatch"
)
WATCHLIST = REPO / "config" / "watchlists" / "taiwan-us-ip.yaml"
_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Run:
    """One child process: wall seconds from fork to exit, peak RSS, exit code, CPU seconds.

    Under a shared CPU the wall time stretches; the CPU time (user + system) much less.
    ``peak_mib`` is the kernel's peak of the largest single process; ``tree_mib`` the peak
    of the summed RSS of the process and its children (its parser processes), sampled
    every 20 ms. ``cpu`` counts the children that were waited for (wirewatch reaps its own).
    """

    seconds: float
    peak_mib: float
    code: int
    cpu: float = 0.0
    tree_mib: float = 0.0

    @property
    def footprint_mib(self) -> float:
        """The memory the command held at its peak, its child processes included."""
        return max(self.peak_mib, self.tree_mib)


# A small launcher between us and the measured command: on Linux a child's peak RSS counts
# the image it was forked (or vforked) from, so the command is forked from this small
# interpreter, not from the benchmark process. It times the command from fork to exit,
# samples the summed RSS of the command's process tree in a thread, and writes
# "seconds maxrss_kib exit_code cpu_seconds tree_peak_kib" to the file named first.
_LAUNCHER = """
import os, sys, threading, time


def tree(pid):
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total


started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
peak, running = [0], True


def sample():
    while running:
        peak[0] = max(peak[0], tree(pid))
        time.sleep(0.02)


sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
running = False
sampler.join()
with open(sys.argv[1], "w") as out:
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    out.write(f"{seconds} {usage.ru_maxrss} {code} {cpu} {peak[0]}")
"""


def compile_project() -> None:
    """Byte-compile the repository's packages (wirewatch's and the baseline's) into their
    ``__pycache__`` (ignored by git), as ``pip install .`` does for an installed copy."""
    for package in ("alerts", "benchmarks", "crawler", "scheduler"):
        compileall.compile_dir(REPO / package, quiet=1)


def measured(args: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run ``args`` to completion (output discarded); its wall time and peak RSS."""
    with tempfile.NamedTemporaryFile("r", prefix="wirewatch-run-", suffix=".txt") as report:
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, report.name, *args],
            cwd=REPO,
            env=env or worker_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_TIMEOUT,
            check=True,
        )
        seconds, kib, code, cpu, tree = report.read().split()
    return Run(float(seconds), int(kib) / 1024, int(code), float(cpu), int(tree) / 1024)


def write_config(root: Path, urls: Sequence[str], watchlist: bool = False) -> Path:
    """A config directory polling ``urls`` into a fresh SQLite file under ``root``."""
    config = root / "config"
    if config.exists():
        shutil.rmtree(config)
    (config / "watchlists").mkdir(parents=True)
    crawl = "".join(f"  {k}: {v}\n" for k, v in CRAWL.items())
    (config / "wirewatch.yaml").write_text(
        f"database_url: sqlite:///{root / 'ww.db'}\nlog:\n  level: WARNING\n"
        f"http:\n  listen: null\ncrawl:\n{crawl}",
        encoding="utf-8",
    )
    lines = "".join(
        f"  - {{id: f{i:05d}, type: {'atom' if u.endswith('.atom') else 'rss'}, url: '{u}'}}\n"
        for i, u in enumerate(urls)
    )
    (config / "sources.yaml").write_text("sources:\n" + lines, encoding="utf-8")
    if watchlist:
        shutil.copy(WATCHLIST, config / "watchlists" / WATCHLIST.name)
    return config


def _fresh_db(root: Path) -> None:
    for leftover in root.glob("ww.db*"):
        leftover.unlink()


def wirewatch(config: Path, *args: str) -> Run:
    """``wirewatch ARGS -c CONFIG`` as a child process."""
    run = measured([WIREWATCH, *args, "-c", str(config)])
    if run.code != 0:
        raise RuntimeError(f"wirewatch {' '.join(args)} exited {run.code}")
    return run


def pool(urls_file: Path, validators_file: Path) -> Run:
    """The thread-pool baseline as a child process (validators kept in ``validators_file``)."""
    run = measured(
        [sys.executable, "-m", "benchmarks.threadpool", str(urls_file), str(validators_file)]
    )
    if run.code != 0:
        raise RuntimeError(f"the pool baseline exited {run.code}")
    return run


@dataclass
class Sides:
    """Rounds of one comparison: wirewatch runs and baseline runs."""

    ours: list[Run]
    theirs: list[Run]

    def best(self) -> tuple[Run, Run]:
        return min(self.ours, key=_secs), min(self.theirs, key=_secs)

    def describe(self) -> str:
        ours = ", ".join(_describe(r) for r in self.ours)
        theirs = ", ".join(_describe(r) for r in self.theirs)
        return f"wirewatch {ours}; baseline {theirs}"


def _describe(run: Run) -> str:
    return f"{run.seconds:.2f} s ({run.cpu:.2f} s CPU)/{run.footprint_mib:.0f} MiB"


def _secs(run: Run) -> float:
    return run.seconds


Baseline = Callable[[Path, Sequence[str]], Callable[[], Run]]


def pool_side(root: Path, urls: Sequence[str]) -> Callable[[], Run]:
    """The thread-pool process over ``urls``; validators persist until the files are reset."""
    urls_file = root / "urls.json"
    urls_file.write_text(json.dumps(list(urls)), encoding="utf-8")
    validators = root / "validators.json"
    validators.unlink(missing_ok=True)
    return lambda: pool(urls_file, validators)


def urlwatch_side(root: Path, urls: Sequence[str]) -> Callable[[], Run]:
    """urlwatch over ``urls`` (one job per feed, its cache kept across passes)."""
    jobs = root / "urls.yaml"
    jobs.write_text("\n---\n".join(f'url: "{u}"' for u in urls) + "\n", encoding="utf-8")
    for name in ("cache.db", "urlwatch.yaml"):
        (root / name).unlink(missing_ok=True)
    args = [URLWATCH or "urlwatch", "--urls", str(jobs), "--config", str(root / "urlwatch.yaml")]
    return lambda: measured([*args, "--cache", str(root / "cache.db")])


def compare(
    root: Path,
    urls: Sequence[str],
    rounds: int,
    command: tuple[str, ...],
    passes: int = 1,
    baseline: Baseline = pool_side,
) -> list[Sides]:
    """``passes`` passes of ``wirewatch COMMAND`` and the baseline, alternating per round.

    Each round starts on a fresh database and a fresh baseline state; pass 2 sees 304s.
    """
    config = write_config(root, urls, watchlist=command[0] == "run")
    sides = [Sides([], []) for _ in range(passes)]
    for round_ in range(rounds):
        _fresh_db(root)
        theirs = baseline(root, urls)
        for index in range(passes):
            order = ("ours", "theirs") if round_ % 2 == 0 else ("theirs", "ours")
            for side in order:
                if side == "ours":
                    sides[index].ours.append(wirewatch(config, *command))
                else:
                    sides[index].theirs.append(theirs())
    return sides


@dataclass
class Measured:
    """Everything the rows of this module report."""

    check: list[Run]
    startup: Sides
    poll: list[Sides]
    daemon: Sides
    feeds: int
    hosts: int


_CACHE: dict[bool, Measured] = {}


def measure(quick: bool, rounds: int | None = None) -> Measured:
    """All runs of this module (cached per run of ``python -m benchmarks``)."""
    if quick in _CACHE:
        return _CACHE[quick]
    hosts, per_host = (10, 5) if quick else (100, 10)
    rounds = rounds or (1 if quick else 3)
    compile_project()
    with (
        tempfile.TemporaryDirectory(prefix="wirewatch-proc-") as tmp,
        NewsServer(hosts=5, feeds_per_host=1, items_per_feed=20) as small,
    ):
        root = Path(tmp)
        config = write_config(root, small.feed_urls())
        check = [wirewatch(config, "check") for _ in range(rounds)]
        (startup,) = compare(root, small.feed_urls(), rounds, ("poll",))
        with NewsServer(hosts=hosts, feeds_per_host=per_host, latency=LATENCY) as server:
            urls = server.feed_urls()
            big_rounds = 1
            poll = compare(root, urls, big_rounds, ("poll",), passes=2)
            (daemon,) = compare(root, urls, 1, ("run", "--once"))
    result = Measured(check, startup, poll, daemon, hosts * per_host, hosts)
    _CACHE[quick] = result
    return result


@register("startup-check", "`wirewatch check` of a 5-feed config: whole process, start-up included")
def run_check(options: RunOptions) -> Result:
    m = measure(options.quick, options.rounds)
    seconds = statistics.median(r.seconds for r in m.check)
    peak = max(r.footprint_mib for r in m.check)
    runs = ", ".join(_describe(r) for r in m.check)
    return Result(
        name="startup-check",
        wirewatch=seconds,
        baseline=None,
        unit="s (median)",
        higher_is_better=False,
        target="< 1 s and < 120 MiB",
        notes=f"peak RSS {peak:.0f} MiB; runs {runs}; no baseline (absolute target)",
    )


@register("startup-poll", "`wirewatch poll` of 5 local feeds vs the 16-thread pool, as processes")
def run_startup_poll(options: RunOptions) -> Result:
    m = measure(options.quick, options.rounds)
    what = "5 feeds on 5 hosts, fresh database each round"
    return _sides_row("startup-poll", m.startup, "< 1 s and < 120 MiB", what)


def _sides_row(name: str, sides: Sides, target: str, what: str) -> Result:
    """A row comparing the best wirewatch process with the best baseline process."""
    ours, theirs = sides.best()
    return Result(
        name=name,
        wirewatch=ours.seconds,
        baseline=theirs.seconds,
        unit="s / process",
        higher_is_better=False,
        target=target,
        notes=(
            f"{what}; whole processes (start-up, config, database, crawl); peak RSS (child "
            f"processes included) wirewatch {max(r.footprint_mib for r in sides.ours):.0f} MiB, "
            f"baseline {max(r.footprint_mib for r in sides.theirs):.0f} MiB; best of "
            "alternating rounds "
            f"({sides.describe()})"
        ),
    )


def _poll_row(m: Measured, index: int, name: str, target: str) -> Result:
    what = "first pass, fresh database" if index == 0 else "second pass, every answer a 304"
    what = f"{m.feeds} feeds on {m.hosts} hosts, {LATENCY * 1000:.0f} ms latency, {what}"
    return _sides_row(name, m.poll[index], target, what)


@register("poll-process", "`wirewatch poll` of 1,000 feeds vs the 16-thread pool, as processes")
def run_poll_process(options: RunOptions) -> Result:
    return _poll_row(measure(options.quick, options.rounds), 0, "poll-process", "≥ 0.5×")


@register("poll-process-304", "the same, second pass (304s), both sides send validators")
def run_poll_process_304(options: RunOptions) -> Result:
    return _poll_row(measure(options.quick, options.rounds), 1, "poll-process-304", "≥ 2×")


@register("daemon-rss", "peak RSS of `wirewatch run --once` over 1,000 feeds vs the pool's")
def run_daemon_rss(options: RunOptions) -> Result:
    m = measure(options.quick, options.rounds)
    ours, theirs = m.daemon.ours[0], m.daemon.theirs[0]
    return Result(
        name="daemon-rss",
        wirewatch=ours.footprint_mib,
        baseline=theirs.footprint_mib,
        unit="MiB peak RSS (child processes included)",
        higher_is_better=False,
        target="≤ 150 MiB",
        notes=(
            f"{m.feeds} feeds on {m.hosts} hosts, fresh database, the example watchlist, "
            f"console channel; run --once took {ours.seconds:.1f} s, the pool "
            f"{theirs.seconds:.1f} s (parse only); the largest single wirewatch process peaked "
            f"at {ours.peak_mib:.0f} MiB"
        ),
    )


@register("urlwatch", "`wirewatch poll` vs urlwatch (optional extra `bench`), as processes")
def run_urlwatch(options: RunOptions) -> Result:
    if URLWATCH is None:
        return Result(
            "urlwatch", None, None, "s / process", notes="urlwatch not installed (extra `bench`)"
        )
    hosts, per_host = (10, 5) if options.quick else (100, 10)
    with (
        tempfile.TemporaryDirectory(prefix="wirewatch-urlwatch-") as tmp,
        NewsServer(hosts=hosts, feeds_per_host=per_host, latency=LATENCY) as server,
    ):
        first, second = compare(
            Path(tmp), server.feed_urls(), 1, ("poll",), passes=2, baseline=urlwatch_side
        )
    what = (
        f"{hosts * per_host} feeds on {hosts} hosts, {LATENCY * 1000:.0f} ms latency, first "
        f"pass; 304 pass: {second.describe()}; urlwatch fetches and diffs each feed as text "
        f"(no feed parsing, no storage), sending its ETag"
    )
    return _sides_row("urlwatch", first, "", what)
