"""``python -m benchmarks``: run registered benchmarks side by side and write RESULTS.md."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console

import benchmarks
from benchmarks import newscontent
from benchmarks.corpus import corpus_dir
from benchmarks.machine import speed_probe
from benchmarks.registry import Result, RunOptions, registered
from benchmarks.report import markdown, print_table, probe_line

DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


def load_all() -> None:
    """Import every ``benchmarks.bench_*`` module so its benchmarks register."""
    for module in pkgutil.iter_modules(benchmarks.__path__):
        if module.name.startswith("bench_"):
            importlib.import_module(f"benchmarks.{module.name}")


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; exit 1 if any of them failed."""
    load_all()
    known = registered()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these (repeatable or comma-separated): {', '.join(known)}",
    )
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument(
        "--full", action="store_true", help="full sizes where the default run uses less"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="alternating rounds (where a benchmark has them)"
    )
    parser.add_argument(
        "--text",
        choices=("varied", "templated"),
        default="varied",
        help="generated news text: varied (like real news) or templated (unrelated items "
        "share whole sentences: a worst case for story assignment)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write RESULTS.md")
    args = parser.parse_args(argv)
    names = [n.strip() for chunk in args.only for n in chunk.split(",") if n.strip()] or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")

    newscontent.TEMPLATED = args.text == "templated"
    console = Console(width=None if sys.stdout.isatty() else 160)
    options = RunOptions(quick=args.quick, full=args.full, corpus=corpus_dir(), rounds=args.rounds)
    results: list[Result] = []
    failed = False
    before = speed_probe()
    for name in names:
        console.print(f"[bold]{name}[/bold] … ", end="")
        started = time.perf_counter()
        try:
            result = known[name].fn(options)
        except Exception as exc:
            failed = True
            traceback.print_exc()
            result = Result(name, None, None, "", notes=f"error: {type(exc).__name__}: {exc}")
        console.print(f"{time.perf_counter() - started:.1f} s")
        results.append(result)

    probes = (before, speed_probe())
    print_table(results, console)
    console.print(probe_line(*probes))
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    descriptions = {n: known[n].description for n in names}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(results, command.strip(), descriptions, probes), encoding="utf-8")
    console.print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
