"""Raw samples, their medians, and the SentryKV/Redis ratio.

Every measurement is one :class:`Sample`: (suite, mode, case, test, server,
rep) plus a dict of metrics, so network benchmarks and engine benchmarks
(restart seconds, bytes per key, ...) share one table format and one JSON
file.  Medians are taken per (suite, mode, case, test, server); the ratio is
median(SentryKV) / median(Redis), so > 1 means "SentryKV has more of it"
(good for req/s, bad for CPU per request or bytes per key — the report says
which way each metric points).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Metric name -> (unit shown in tables, True if higher is better).
METRICS: dict[str, tuple[str, bool]] = {
    "rps": ("req/s", True),
    "avg_ms": ("ms", False),
    "min_ms": ("ms", False),
    "p50_ms": ("ms", False),
    "p95_ms": ("ms", False),
    "p99_ms": ("ms", False),
    "max_ms": ("ms", False),
    "cpu_us_per_req": ("µs CPU/req", False),
    "client_cpu_util": ("cores", False),
    "restart_s": ("s", False),
    "start_empty_s": ("s", False),
    "replay_keys_per_s": ("keys/s", True),
    "load_keys_per_s": ("keys/s", True),
    "used_memory_per_key": ("B/key", False),
    "rss_per_key": ("B/key", False),
    "disk_per_key": ("B/key", False),
    "shutdown_s": ("s", False),
    # engine suites (bench.engine_suites)
    "replay_ops_per_s": ("commands/s", True),
    "replay_frames_per_s": ("frames/s", True),
    "replay_s": ("s", False),
    "wal_bytes_per_op": ("B/op", False),
    "scan_records_per_s": ("records/s", True),
    "decode_records_per_s": ("records/s", True),
    "save_entries_per_s": ("entries/s", True),
    "load_entries_per_s": ("entries/s", True),
    "save_s": ("s", False),
    "load_s": ("s", False),
    "snapshot_bytes_per_key": ("B/key", False),
    "cut_ms": ("ms", False),
    "loop_stall_idle_ms": ("ms", False),
    "median_round_max_ms": ("ms", False),
    "p999_ms": ("ms", False),
    "requests": ("requests", True),
    "checkpoint_s": ("s", False),
    # streams (bench.streams)
    "entries_per_s": ("entries/s", True),
    "cpu_us_per_entry": ("µs CPU/entry", False),
    "used_memory_per_entry": ("B/entry", False),
}


@dataclass
class Sample:
    suite: str
    mode: str
    case: str  # case key, e.g. "set-c50-P16" or "n100000"
    test: str  # e.g. "SET" or "restart"
    server: str  # "redis" | "sentrykv"
    rep: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Row:
    """Medians of one (suite, mode, case, test) for both servers."""

    suite: str
    mode: str
    case: str
    test: str
    medians: dict[str, dict[str, float]]  # server -> metric -> median
    counts: dict[str, int]  # server -> number of samples

    def value(self, server: str, metric: str) -> float | None:
        return self.medians.get(server, {}).get(metric)

    def ratio(self, metric: str = "rps") -> float | None:
        """median(SentryKV) / median(Redis) for ``metric``; None if either is missing."""
        a, b = self.value("sentrykv", metric), self.value("redis", metric)
        if a is None or b is None or b == 0:
            return None
        return a / b


@dataclass
class Results:
    """Everything one run produced: samples, errors, skips, and run facts."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # suite -> reason
    commands: dict[str, list[str]] = field(default_factory=dict)  # "suite/mode" -> command lines
    notes: dict[str, list[str]] = field(default_factory=dict)  # suite -> prose lines

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def add_command(self, key: str, line: str) -> None:
        lines = self.commands.setdefault(key, [])
        if line not in lines:
            lines.append(line)

    def rows(self, suite: str | None = None) -> list[Row]:
        """Medians per (suite, mode, case, test), in first-seen order."""
        grouped: dict[tuple[str, str, str, str], dict[str, dict[str, list[float]]]] = {}
        for s in self.samples:
            if suite is not None and s.suite != suite:
                continue
            per_server = grouped.setdefault((s.suite, s.mode, s.case, s.test), {})
            per_metric = per_server.setdefault(s.server, defaultdict(list))
            for metric, value in s.metrics.items():
                per_metric[metric].append(value)
        rows = []
        for (su, mode, case, test), per_server in grouped.items():
            medians = {
                srv: {m: statistics.median(v) for m, v in metrics.items() if v}
                for srv, metrics in per_server.items()
            }
            counts = {srv: max((len(v) for v in metrics.values()), default=0) for srv, metrics in per_server.items()}
            rows.append(Row(su, mode, case, test, medians, counts))
        return rows

    def suites(self) -> list[str]:
        seen: list[str] = []
        for s in self.samples:
            if s.suite not in seen:
                seen.append(s.suite)
        return seen

    def to_json(self) -> dict[str, object]:
        return {
            "samples": [asdict(s) for s in self.samples],
            "errors": self.errors,
            "skipped": self.skipped,
            "commands": self.commands,
            "notes": self.notes,
            "medians": [asdict(r) for r in self.rows()],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))
