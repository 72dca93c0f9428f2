"""Benchmark registry: a benchmark is a function returning a `Result`, registered by name.

A new benchmark is one module ``benchmarks/bench_<name>.py`` that decorates a function::

    @register("feedparse", "feedparser alone vs bare lxml on a mixed feed batch")
    def run(options: RunOptions) -> Result: ...

`python -m benchmarks` imports every ``bench_*`` module, runs the selected functions and prints
the wirewatch figure, the baseline figure measured on the same input, and their ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RunOptions:
    """What every benchmark receives: `quick` asks for small inputs (a smoke run), `full` for
    the full sizes of benchmarks that keep them out of the default run."""

    quick: bool = False
    full: bool = False
    corpus: Path | None = None
    rounds: int | None = None  # alternating rounds, where a benchmark has them (None: its own)


@dataclass
class Result:
    """One table row. A side that cannot be measured yet is None, never a made-up number."""

    name: str
    wirewatch: float | None
    baseline: float | None
    unit: str
    higher_is_better: bool = True
    target: str = ""
    notes: str = ""
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times better wirewatch is than the baseline (>1: wirewatch wins)."""
        if not self.wirewatch or not self.baseline:
            return None
        if self.higher_is_better:
            return self.wirewatch / self.baseline
        return self.baseline / self.wirewatch

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": self.ratio}


BenchFn = Callable[[RunOptions], Result]


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    fn: BenchFn


_REGISTRY: dict[str, Benchmark] = {}


def register(name: str, description: str = "") -> Callable[[BenchFn], BenchFn]:
    """Register `fn` under `name` (a decorator); names are unique."""

    def decorate(fn: BenchFn) -> BenchFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"benchmark {name!r} registered twice")
        _REGISTRY[name] = Benchmark(name, description or (fn.__doc__ or "").strip(), fn)
        return fn

    return decorate


def registered() -> dict[str, Benchmark]:
    """Registered benchmarks by name, in registration order."""
    return dict(_REGISTRY)
