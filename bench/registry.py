"""The pluggable suite registry.

A suite is a named function ``run(ctx)`` that appends :class:`~bench.results.Sample`
records to ``ctx.results``.  Suites declare which profiles (``smoke``, ``quick``,
``full``) include them and how many progress steps they will take, so adding an
engine benchmark later is one decorated function in a module imported by
:mod:`bench.catalog` — nothing else changes.  A suite with ``run=None`` is a
placeholder: the harness prints ``skipped: not implemented yet`` and the report
lists it, so a missing benchmark can never masquerade as a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.progress import Progress
from bench.results import Results
from bench.servers import ServerKind


@dataclass
class Context:
    """Everything a suite needs: which servers, how many reps, where to write."""

    profile: str  # "smoke" | "quick" | "full"
    reps: int
    kinds: list[ServerKind]  # [redis, sentrykv]: order of the first repetition
    out: Path
    results: Results
    progress: Progress
    benchmark_binary: str
    tmp_base: str | None = None
    requests_override: int | None = None
    ready_timeout: float = 30.0
    engine_keys: int | None = None  # tests only: shrink the engine suites' 100k/1M sizes to this

    @property
    def log_dir(self) -> Path:
        return self.out / "logs"

    def order(self, rep: int) -> list[ServerKind]:
        """A B on even repetitions, B A on odd ones, so slow drift hits both equally."""
        return list(self.kinds) if rep % 2 == 0 else list(reversed(self.kinds))


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    about: str  # what it measures and why: printed in the report
    profiles: frozenset[str]
    run: Callable[[Context], None] | None = None
    steps: Callable[[Context], int] = field(default=lambda _ctx: 0)
    order: int = 100  # position in runs and in the report

    @property
    def implemented(self) -> bool:
        return self.run is not None


_REGISTRY: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    if suite.name in _REGISTRY:
        raise ValueError(f"suite {suite.name!r} registered twice")
    _REGISTRY[suite.name] = suite
    return suite


def all_suites() -> list[Suite]:
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))


def get(name: str) -> Suite:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(s.name for s in all_suites())
        raise KeyError(f"unknown suite {name!r}; known suites: {known}") from None


def select(profile: str, names: list[str] | None) -> list[Suite]:
    """The suites to run: the ones named, else every suite the profile includes."""
    if names:
        return [get(n) for n in names]
    return [s for s in all_suites() if profile in s.profiles]
