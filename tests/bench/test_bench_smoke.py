"""The benchmark harness, run for real in its tiny ``--smoke`` profile.

Each test starts the harness as a subprocess (as ``make bench`` would), lets
it start real servers and real redis-benchmark runs, then checks what it left
behind: a markdown table with a SentryKV/Redis ratio, PNG charts, raw JSON,
and no server still listening on any port it used.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REDIS_ON_BOTH_SIDES = "redis-server --save ''"


def _require_tools() -> None:
    missing = [t for t in ("redis-server", "redis-benchmark") if shutil.which(t) is None]
    if missing:  # fail loudly: a benchmark test that skips itself proves nothing
        pytest.fail(
            f"{', '.join(missing)} not found on PATH; install Debian's redis-server and "
            "redis-tools (apt-get install -y redis-server redis-tools) to run the bench tests"
        )


def _run_harness(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    _require_tools()
    cmd = [sys.executable, "-m", "bench", "--smoke", "--out", str(out), "--no-docs", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180, check=False)


def _ports_used(out: Path) -> list[int]:
    return [int(p.stem.rsplit("-", 1)[1]) for p in (out / "logs").glob("*.log")]


def _assert_nothing_left(out: Path) -> None:
    ports = _ports_used(out)
    assert ports, "the harness logged no server start"
    for port in ports:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"a server still listens on port {port}"


def _ratio_rows(report: str) -> list[str]:
    return [ln for ln in report.splitlines() if re.match(r"^\| SET .*\*\*\d+\.\d\dx\*\*", ln)]


def test_smoke_against_sentrykv(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _run_harness(out)
    assert proc.returncode == 0, f"harness failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    report = (out / "report.md").read_text()
    rows = _ratio_rows(report)
    assert rows, f"no SET row with a ratio in the report:\n{report}"
    pngs = sorted(out.glob("*.png"))
    assert any(p.name == "bench-pipeline-everysec-rps.png" for p in pngs), pngs
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000 for p in pngs)
    for png in pngs:
        assert f"({png.name})" in report, f"{png.name} not linked from the report"
    data = json.loads((out / "results.json").read_text())
    servers = {s["server"] for s in data["samples"]}
    assert servers == {"redis", "sentrykv"}
    assert all(s["metrics"]["rps"] > 0 for s in data["samples"])
    assert "Targets (median SentryKV / Redis)" in proc.stdout
    _assert_nothing_left(out)


def test_self_test_redis_on_both_sides_resumes_after_error(tmp_path: Path) -> None:
    """The default suite against a 'SentryKV' that lacks ZADD: one error row, the rest still measured."""
    out = tmp_path / "run"
    proc = _run_harness(
        out, "--suites", "default", "--requests", "300",
        "--sentrykv-cmd", f"{REDIS_ON_BOTH_SIDES} --rename-command ZADD ''",
    )
    assert proc.returncode == 1, "a benchmark error must make the harness exit 1"
    data = json.loads((out / "results.json").read_text())
    sky_tests = {s["test"] for s in data["samples"] if s["server"] == "sentrykv"}
    redis_tests = {s["test"] for s in data["samples"] if s["server"] == "redis"}
    assert "ZADD" in redis_tests and "ZADD" not in sky_tests
    # the suite resumed after the failing test instead of losing the rest of the table
    assert {"ZPOPMIN", "LRANGE_600", "MSET"} <= sky_tests, sky_tests
    assert any("zadd" in e and "unknown command" in e for e in data["errors"]), data["errors"]
    report = (out / "report.md").read_text()
    assert "both sides ran the same program" in report
    assert "❌ not met" in report  # a missing test fails the default-suite target, never passes it
    _assert_nothing_left(out)


def test_unknown_suite_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run_harness(tmp_path / "run", "--suites", "no-such-suite")
    assert proc.returncode == 2
    assert "unknown suite" in proc.stderr


def test_parse_csv_ignores_noise_and_keeps_latency_columns() -> None:
    from bench.redis_benchmark import parse_csv

    text = (
        "WARNING: Could not fetch server CONFIG\n"
        '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
        '"p99_latency_ms","max_latency_ms"\n'
        '"SET","117647.05","0.227","0.104","0.215","0.327","0.455","0.575"\n'
        '"LRANGE_100 (first 100 elements)","74074.07","0.562","0.200","0.503","0.863","2.575","2.839"\n'
    )
    rows = parse_csv(text)
    assert set(rows) == {"SET", "LRANGE_100 (first 100 elements)"}
    assert rows["SET"] == {"rps": 117647.05, "avg_ms": 0.227, "min_ms": 0.104, "p50_ms": 0.215,
                           "p95_ms": 0.327, "p99_ms": 0.455, "max_ms": 0.575}
