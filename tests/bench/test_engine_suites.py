"""The engine suites (wal-replay, snapshot, checkpoint-pause), run for real at a tiny size.

The harness runs as a subprocess with ``--engine-keys`` shrinking the 100k/1M
data sets to a few thousand keys, so the real code paths run (WalWriter +
Durability.recover, Checkpointer + snapshot.load in a fresh process, real
server processes answering SET during BGSAVE) in a few seconds.  The test
checks that every suite produced numbers, that the report shows them and
judges the engine targets, and that quick mode still leaves them out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEYS = 3000


def test_engine_suites_produce_numbers(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server not found on PATH (apt-get install -y redis-server)")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "bench", "--suites", "wal-replay,snapshot,checkpoint-pause",
           "--reps", "1", "--engine-keys", str(KEYS), "--no-docs", "--out", str(out), "-q"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"harness failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"

    data = json.loads((out / "results.json").read_text())
    assert data["errors"] == []
    by_suite: dict[str, list[dict[str, object]]] = {}
    for sample in data["samples"]:
        by_suite.setdefault(sample["suite"], []).append(sample)
    assert set(by_suite) == {"wal-replay", "snapshot", "checkpoint-pause"}

    replay = {s["case"]: s["metrics"] for s in by_suite["wal-replay"]}
    for frames in (1, 16):
        metrics = replay[f"n{KEYS}-f{frames}"]
        assert isinstance(metrics, dict) and metrics["replay_ops_per_s"] > 0
        # frames of 16 ops hold 16x fewer frames for the same commands
        assert metrics["replay_frames_per_s"] == pytest.approx(metrics["replay_ops_per_s"] / frames, rel=0.01)
    snap = by_suite["snapshot"][0]["metrics"]
    assert isinstance(snap, dict) and snap["save_entries_per_s"] > 0 and snap["load_entries_per_s"] > 0
    servers = {(s["server"], s["case"]) for s in by_suite["checkpoint-pause"]}
    assert servers == {(srv, f"n{KEYS}-{when}") for srv in ("redis", "sentrykv") for when in ("before", "during")}
    for sample in by_suite["checkpoint-pause"]:
        metrics = sample["metrics"]
        assert isinstance(metrics, dict) and metrics["requests"] > 0 and 0 < metrics["p99_ms"] <= metrics["max_ms"]

    report = (out / "report.md").read_text()
    assert "not implemented yet" not in report
    for pattern in (r"\| [\d,]+ SETs, 16 op\(s\)/frame \| replay_ops_per_s \(commands/s\) \| — \| [\d.]+[kM]? \|",
                    r"\| [\d,]+ keys \| load_entries_per_s \(entries/s\) \| — \| [\d.]+[kM]? \|",
                    r"\| [\d,]+ keys, during BGSAVE \| max_ms \(ms\) \| \d+\.\d+ \| \d+\.\d+ \|"):
        assert re.search(pattern, report), f"no row matching {pattern!r} in the report"
    targets = [ln for ln in report.splitlines()
               if ln.startswith(("| WAL replay", "| snapshot load", "| checkpoint pause"))]
    assert len(targets) == 3 and all(("✅ met" in ln) != ("❌ not met" in ln) for ln in targets), targets


def test_engine_suites_are_full_profile_only() -> None:
    from bench import catalog, registry  # noqa: F401  (catalog registers the suites)

    engine = {"wal-replay", "snapshot", "checkpoint-pause"}
    assert not engine & {s.name for s in registry.select("quick", None)}, "quick mode must stay under 2 minutes"
    assert not engine & {s.name for s in registry.select("smoke", None)}
    full = {s.name: s for s in registry.select("full", None)}
    assert engine <= set(full) and all(full[n].implemented for n in engine)
