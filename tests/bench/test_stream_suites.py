"""The stream suites, run for real at a tiny size: redis-benchmark custom-command cases
(XADD, XRANGE) and the consumer-group suite (XREADGROUP+XACK loop, memory per entry, PEL
latencies) produce numbers for both servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_stream_suites_produce_numbers(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "bench", "--smoke", "--suites", "streams,stream-groups", "--reps", "1",
           "--engine-keys", "400", "--no-docs", "--out", str(out), "-q"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"harness failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    data = json.loads((out / "results.json").read_text())
    assert data["errors"] == []
    cases: dict[tuple[str, str], dict[str, float]] = {}
    for sample in data["samples"]:
        cases[(sample["case"], sample["server"])] = sample["metrics"]
    for server in ("redis", "sentrykv"):
        assert cases[("xadd-c50-P16", server)]["rps"] > 0
        assert cases[("xrange100-c50-P1", server)]["rps"] > 0
        assert cases[("consume-n400", server)]["entries_per_s"] > 0
        assert "used_memory_per_entry" in cases[("memory-n400", server)]  # RSS may not move at 400
        assert cases[("pel-n400-XAUTOCLAIM mid COUNT 10", server)]["p50_ms"] > 0
