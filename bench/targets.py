"""The performance targets from the issue, evaluated on the medians of one run.

Throughput targets compare median(SentryKV) / median(Redis) req/s with a
threshold; engine targets (WAL replay, snapshot load, checkpoint pause) compare
an absolute SentryKV median with an absolute threshold, because Redis has no
in-process equivalent.  Each says met / not met / not measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.progress import human_rate
from bench.results import Results, Row


@dataclass(frozen=True)
class Outcome:
    name: str
    threshold: float
    ratio: float | None  # the measured value (a ratio unless ``unit`` says otherwise); None: not measured
    detail: str = ""
    unit: str = "x"  # "x": SentryKV/Redis ratio; anything else: an absolute SentryKV figure
    lower_is_better: bool = False

    @property
    def status(self) -> str:
        if self.ratio is None:
            return "not measured"
        ok = self.ratio <= self.threshold if self.lower_is_better else self.ratio >= self.threshold
        return "met" if ok else "NOT met"

    def shown(self, value: float) -> str:
        """``value`` in this target's unit: ``0.93x``, ``1.52M records/s``, ``4.10 ms``."""
        if self.unit == "x":
            return f"{value:.2f}x"
        if self.unit.endswith("/s"):
            return f"{human_rate(value)} {self.unit}"
        return f"{value:.2f} {self.unit}"


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
    return out + engine_targets(rows)


def _largest(rows: list[Row], suite: str, prefix: str = "n", suffix: str = "") -> Row | None:
    """The row of ``suite`` with the most keys (case ``n<keys><suffix>``): targets are stated at 1M."""
    best: tuple[int, Row] | None = None
    for row in rows:
        if row.suite != suite or not row.case.startswith(prefix) or not row.case.endswith(suffix):
            continue
        digits = row.case[len(prefix):len(row.case) - len(suffix)]
        if digits.isdigit() and (best is None or int(digits) > best[0]):
            best = (int(digits), row)
    return best[1] if best else None


def engine_targets(rows: list[Row]) -> list[Outcome]:
    """Absolute SentryKV targets; the detail names the data-set size actually measured."""
    out = []
    replay = _largest(rows, "wal-replay", suffix="-f16")
    one = _largest(rows, "wal-replay", suffix="-f1")
    value = replay.value("sentrykv", "replay_ops_per_s") if replay else None
    detail = ""
    if replay and value is not None:
        detail = f"{replay.test}, Durability.recover"
        lone = one.value("sentrykv", "replay_ops_per_s") if one else None
        if lone is not None:
            detail += f"; 1 op/frame: {human_rate(lone)} commands/s"
    out.append(Outcome("WAL replay (16 SETs/frame) >= 1M commands/s", 1e6, value, detail, "commands/s"))

    snap = _largest(rows, "snapshot")
    value = snap.value("sentrykv", "load_entries_per_s") if snap else None
    detail = ""
    if snap and value is not None:
        save = snap.value("sentrykv", "save_entries_per_s") or 0.0
        detail = f"{snap.test}; save {human_rate(save)} entries/s"
    out.append(Outcome("snapshot load (1M keys) >= 2M entries/s", 2e6, value, detail, "entries/s"))

    pause = _largest(rows, "checkpoint-pause", suffix="-during")
    value = pause.value("sentrykv", "max_ms") if pause else None
    detail = ""
    if pause and value is not None:
        detail = (f"{pause.test}: SentryKV p99 {pause.value('sentrykv', 'p99_ms') or 0:.3f} ms, "
                  f"median of per-checkpoint maxima {pause.value('sentrykv', 'median_round_max_ms') or 0:.2f} ms")
        redis_max = pause.value("redis", "max_ms")
        if redis_max is not None:
            detail += f"; Redis max {redis_max:.2f} ms, p99 {pause.value('redis', 'p99_ms') or 0:.3f} ms"
    out.append(Outcome("checkpoint pause: max request latency during BGSAVE (1M keys) <= 10 ms", 10.0, value,
                       detail, "ms", lower_is_better=True))
    out += memory_targets(rows)
    return out


def memory_targets(rows: list[Row]) -> list[Outcome]:
    """Issue 16 §3: used_memory per key (per field) within 1.5x of Redis's (bench/memory_per_key.py)."""
    out = []
    for case, name in (("strings", "used_memory per key, 1M SET key:N abc <= 1.5x Redis"),
                       ("hash", "used_memory per field, 1M-field hash <= 1.5x Redis")):
        row = _find(rows, "memory-per-key", "none", case)
        ratio = row.ratio("used_memory_per_key") if row else None
        detail = ""
        if row and ratio is not None:
            detail = (f"SentryKV {row.value('sentrykv', 'used_memory_per_key') or 0:.0f} vs Redis "
                      f"{row.value('redis', 'used_memory_per_key') or 0:.0f} B; RSS "
                      f"{row.ratio('rss_per_key') or 0:.2f}x")
        out.append(Outcome(name, 1.5, ratio, detail, lower_is_better=True))
    return out
