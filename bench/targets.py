"""The performance targets from the issue, evaluated on the medians of one run.

Each target compares median(SentryKV) / median(Redis) req/s with a threshold
and says met / not met / not measured.  Engine targets (restart, snapshot,
memory) will be added here once their suites produce numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.results import Results, Row


@dataclass(frozen=True)
class Outcome:
    name: str
    threshold: float
    ratio: float | None  # None: not measured in this run
    detail: str = ""

    @property
    def status(self) -> str:
        if self.ratio is None:
            return "not measured"
        return "met" if self.ratio >= self.threshold else "NOT met"


def _find(rows: list[Row], suite: str, mode: str, case: str) -> Row | None:
    for row in rows:
        if (row.suite, row.mode, row.case) == (suite, mode, case):
            return row
    return None


def _single(rows: list[Row], name: str, suite: str, mode: str, case: str, threshold: float) -> Outcome:
    row = _find(rows, suite, mode, case)
    ratio = row.ratio("rps") if row else None
    detail = ""
    if row and ratio is not None:
        detail = f"SentryKV {row.value('sentrykv', 'rps'):,.0f} vs Redis {row.value('redis', 'rps'):,.0f} req/s"
    return Outcome(name, threshold, ratio, detail)


def evaluate(results: Results) -> list[Outcome]:
    rows = results.rows()
    out = [
        _single(rows, "SET -P 16 (everysec) >= 0.75x Redis", "pipeline", "everysec", "set-c50-P16", 0.75),
        _single(rows, "GET -P 16 (everysec) >= 0.75x Redis", "pipeline", "everysec", "get-c50-P16", 0.75),
        _single(rows, "SET -P 1 (always) >= 1.3x Redis", "pipeline", "always", "set-c50-P1", 1.3),
    ]
    modes = [m for m in ("none", "everysec", "always") if any(r.suite == "default" and r.mode == m for r in rows)]
    for mode in modes or ["everysec"]:
        suite_rows = [r for r in rows if r.suite == "default" and r.mode == mode and "rps" in r.medians.get("redis", {})]
        name = f"every default-suite test -P 1 ({mode}) >= 0.9x Redis"
        if not suite_rows:
            out.append(Outcome(name, 0.9, None))
            continue
        missing = [r.test for r in suite_rows if r.ratio("rps") is None]
        if missing:
            out.append(Outcome(name, 0.9, 0.0, "no SentryKV result for " + ", ".join(missing)))
            continue
        worst = min(suite_rows, key=lambda r: r.ratio("rps") or 0.0)
        below = [r.test for r in suite_rows if (r.ratio("rps") or 0.0) < 0.9]
        detail = f"worst: {worst.test}"
        if below:
            detail += f"; below 0.9x: {', '.join(below)}"
        out.append(Outcome(name, 0.9, worst.ratio("rps"), detail))
    return out
