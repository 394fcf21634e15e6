"""Run redis-benchmark (7.0) against one port and parse its ``--csv`` output.

redis-benchmark 7.0 ``--csv`` prints one header line and one line per test:
``"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
"p99_latency_ms","max_latency_ms"``.  Two behaviours shape this module:

* an error reply (e.g. a command SentryKV does not implement yet) makes
  redis-benchmark print ``Error from server`` and exit 1 *in the middle of the
  default suite*; we keep the tests already printed, record the failing one
  and resume the suite from the next test with ``-t``, so one missing command
  costs one row instead of the rest of the table;
* a server that stops answering would hang it forever, so every run has a
  timeout and is killed by PID.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import resource
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

#: The default suite in the order redis-benchmark 7.0 runs it: (-t token, CSV names).
#: The LRANGE tests share one LPUSH warm-up, printed once before the first LRANGE.
DEFAULT_SUITE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ping_inline", ("PING_INLINE",)),
    ("ping_mbulk", ("PING_MBULK",)),
    ("set", ("SET",)),
    ("get", ("GET",)),
    ("incr", ("INCR",)),
    ("lpush", ("LPUSH",)),
    ("rpush", ("RPUSH",)),
    ("lpop", ("LPOP",)),
    ("rpop", ("RPOP",)),
    ("sadd", ("SADD",)),
    ("hset", ("HSET",)),
    ("spop", ("SPOP",)),
    ("zadd", ("ZADD",)),
    ("zpopmin", ("ZPOPMIN",)),
    ("lrange_100", ("LPUSH (needed to benchmark LRANGE)", "LRANGE_100 (first 100 elements)")),
    ("lrange_300", ("LRANGE_300 (first 300 elements)",)),
    ("lrange_500", ("LRANGE_500 (first 500 elements)",)),
    ("lrange_600", ("LRANGE_600 (first 600 elements)",)),
    ("mset", ("MSET (10 keys)",)),
)

LATENCY_FIELDS = ("avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")
_CSV_FIELDS = {
    "rps": "rps",
    "avg_latency_ms": "avg_ms",
    "min_latency_ms": "min_ms",
    "p50_latency_ms": "p50_ms",
    "p95_latency_ms": "p95_ms",
    "p99_latency_ms": "p99_ms",
    "max_latency_ms": "max_ms",
}


def short_test_name(name: str) -> str:
    """``"LRANGE_100 (first 100 elements)"`` -> ``"LRANGE_100"`` for tables and charts."""
    if name.startswith("LPUSH (needed"):
        return "LPUSH (for LRANGE)"
    return name.split(" (")[0] if name.startswith(("LRANGE", "MSET")) else name


@dataclass(frozen=True)
class BenchCase:
    """One redis-benchmark invocation pattern (everything but host and port)."""

    key: str  # stable id used in raw data, e.g. "set-c50-P16"
    tests: tuple[str, ...] | None  # -t tokens; None = the default suite
    clients: int = 50
    requests: int = 100_000
    pipeline: int = 1
    keyspace: int | None = None  # -r
    datasize: int | None = None  # -d
    # A command line of its own instead of -t tests (redis-benchmark's ``[command [args...]]``,
    # e.g. ``XADD bench:stream * f v``); its CSV row is named after the command line.
    command: tuple[str, ...] = ()

    def args(self, tests: tuple[str, ...] | None = None) -> list[str]:
        chosen = tests if tests is not None else self.tests
        argv = ["-c", str(self.clients), "-n", str(self.requests)]
        if self.pipeline != 1:
            argv += ["-P", str(self.pipeline)]
        if self.keyspace:
            argv += ["-r", str(self.keyspace)]
        if self.datasize:
            argv += ["-d", str(self.datasize)]
        if chosen and not self.command:
            argv += ["-t", ",".join(chosen)]
        return argv + ["-q", "--csv", *self.command]

    def display(self, binary: str = "redis-benchmark") -> str:
        return f"{binary} -h 127.0.0.1 -p PORT {shlex.join(self.args())}"

    @property
    def label(self) -> str:
        """Short description used as a table row suffix: ``-c 50 -P 16 -r 100000``."""
        parts = [f"-c {self.clients}"]
        if self.pipeline != 1:
            parts.append(f"-P {self.pipeline}")
        if self.keyspace:
            parts.append(f"-r {self.keyspace}")
        return " ".join(parts)

    def expected_tests(self) -> int:
        if self.command:
            return 1
        if self.tests is None:
            return sum(len(names) for _, names in DEFAULT_SUITE)
        return len(self.tests)


@dataclass
class RunResult:
    """What one case produced against one server."""

    tests: dict[str, dict[str, float]] = field(default_factory=dict)  # CSV name -> metrics
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0  # redis-benchmark's own user+sys CPU
    requests: int = 0  # requests actually completed (for CPU per request)
    commands: list[str] = field(default_factory=list)


def parse_csv(text: str) -> dict[str, dict[str, float]]:
    """Parse redis-benchmark ``--csv`` output; tolerates junk lines around the table."""
    rows: dict[str, dict[str, float]] = {}
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        name = row.get("test")
        if not name or name == "test":
            continue
        metrics: dict[str, float] = {}
        for column, key in _CSV_FIELDS.items():
            value = row.get(column)
            if value not in (None, ""):
                with contextlib.suppress(ValueError):
                    metrics[key] = float(value)
        if "rps" in metrics:
            rows[name] = metrics
    return rows


def find_binary(name: str = "redis-benchmark") -> str:
    path = shutil.which(name)
    if not path:
        raise FileNotFoundError(
            f"{name} not found on PATH: install Debian's redis-tools "
            "(apt-get install -y redis-server redis-tools); the harness needs "
            "redis-server and redis-benchmark 7.x"
        )
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _invoke(binary: str, port: int, argv: list[str], timeout: float) -> tuple[int, str, str, float]:
    """One redis-benchmark process; killed by PID if it outlives ``timeout``."""
    full = [binary, "-h", "127.0.0.1", "-p", str(port), *argv]
    proc = subprocess.Popen(
        full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    t0 = time.perf_counter()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[harness] killed after {timeout:.0f}s timeout".encode()
        return -9, out.decode(errors="replace"), err.decode(errors="replace"), time.perf_counter() - t0
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.perf_counter() - t0


def _error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and "Could not fetch server CONFIG" not in ln]
    return lines[-1] if lines else "no output"


def run_case(case: BenchCase, port: int, binary: str, timeout: float) -> RunResult:
    """Run one case; for the default suite, resume after an error reply (see module doc)."""
    result = RunResult()
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    if case.command:
        argv = case.args()
        result.commands.append(f"{binary} -h 127.0.0.1 -p {port} {shlex.join(argv)}")
        rc, out, err, _ = _invoke(binary, port, argv, timeout)
        result.tests.update(parse_csv(out))
        if rc != 0 or not result.tests:
            result.errors.append(f"{' '.join(case.command)}: {_error_line(err)}")
        result.wall_s = time.perf_counter() - t0
        result.client_cpu_s = _children_cpu() - cpu0
        result.requests = case.requests * len(result.tests)
        return result
    pending: tuple[str, ...] | None = case.tests
    if case.tests is None:
        pending = tuple(token for token, _ in DEFAULT_SUITE)
    assert pending is not None
    first = True
    while pending:
        argv = case.args(None if (first and case.tests is None) else pending)
        first = False
        result.commands.append(f"{binary} -h 127.0.0.1 -p {port} {shlex.join(argv)}")
        rc, out, err, _ = _invoke(binary, port, argv, timeout)
        rows = parse_csv(out)
        result.tests.update(rows)
        if rc == 0:
            break
        # Which token failed: the first pending one whose rows did not all appear.
        failed_at = None
        for i, token in enumerate(pending):
            names = _names_for(token)
            if not all(n in result.tests for n in names):
                failed_at = i
                break
        if failed_at is None:
            result.errors.append(f"redis-benchmark exited {rc}: {_error_line(err)}")
            break
        token = pending[failed_at]
        result.errors.append(f"{token}: {_error_line(err)}")
        if rc == -9 or case.tests is not None:
            break  # a hung server will hang the rest too; explicit -t lists are short
        pending = pending[failed_at + 1 :]
    result.wall_s = time.perf_counter() - t0
    result.client_cpu_s = _children_cpu() - cpu0
    result.requests = case.requests * len(result.tests)
    return result


def _names_for(token: str) -> tuple[str, ...]:
    for tok, names in DEFAULT_SUITE:
        if tok == token:
            return names[-1:]  # the LPUSH warm-up row is not the test itself
    return (token.upper(),)
