"""``make fuzz``: the request-level fuzzers against real processes, with a report.

    python -m tests.fuzz.run --requests 1000000 [--seed N] [--protocol-share 0.3] [--json out.json]

Starts a SentryKV (appendonly yes, everysec) and a redis-server (the oracle), then runs the
differential fuzzer (tests/fuzz/differential.py) and the protocol fuzzer
(tests/fuzz/protocol.py) in slices until ``--requests`` requests were sent in total, with a
watchdog PING every 50 ms throughout and SentryKV's RSS sampled after every slice.  At the
end SentryKV is restarted and its DEBUG DIGEST must equal the one before (the write-ahead
log replays to the same state).  Reported: requests, crashes (SentryKV died or dropped a
fuzzing connection), hangs (a batch or a PING over 1 s), reply and state mismatches, known
differences, peak RSS.  Exit status 1 when any crash, hang or mismatch was seen.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from tests.fuzz.differential import DiffFuzzer, DiffStats
from tests.fuzz.protocol import ProtoFuzzer, ProtoStats, Watchdog
from tests.support.procs import RedisProcess, ServerProcess


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _digest(port: int) -> bytes:
    from tests.fuzz.differential import Conn

    conn = Conn(port, 2)
    try:
        return conn.exchange([(b"DEBUG", b"DIGEST")])[0]
    finally:
        conn.close()


def run(requests: int, seed: int, protocol_share: float, slice_requests: int = 20000,
        log: Any = print) -> dict[str, Any]:
    skv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "everysec"]).start()
    ref = RedisProcess(args=["--enable-debug-command", "yes", "--sanitize-dump-payload", "yes"]).start()
    assert skv.proc is not None
    pid = skv.proc.pid
    watchdog = Watchdog(skv.port)
    watchdog.start()
    started = time.monotonic()
    diff_stats = DiffStats()
    proto_stats = ProtoStats()
    peak_rss = 0
    replay_ok = None
    alive = True
    tracebacks = 0
    try:
        diff = DiffFuzzer(skv.port, ref.port, seed)
        proto = ProtoFuzzer(skv.port, seed + 1, ref_port=ref.port)
        diff_target = int(requests * (1 - protocol_share))
        proto_target = requests - diff_target

        def skv_alive() -> bool:
            return skv.proc is not None and skv.proc.poll() is None

        while (diff.stats.requests < diff_target or proto.stats.requests < proto_target) and alive:
            if diff.stats.requests < diff_target:
                diff.run(min(diff_target, diff.stats.requests + slice_requests), alive=skv_alive)
            if proto.stats.requests < proto_target:
                proto.run(min(proto_target, proto.stats.requests + slice_requests // 3), alive=skv_alive)
                if skv_alive():
                    diff.reconnect()  # the protocol cases wrote to SentryKV alone: start both clean
            alive = skv_alive()
            if alive:
                peak_rss = max(peak_rss, rss_kb(pid))
            total = diff.stats.requests + proto.stats.requests
            log(f"[{time.monotonic() - started:7.1f}s] {total:>9} requests  mismatches={diff.stats.mismatches} "
                f"state={diff.stats.state_mismatches} proto_failures={proto.stats.failures} "
                f"ping_worst={watchdog.worst:.3f}s rss={peak_rss // 1024} MB")
        diff_stats, proto_stats = diff.stats, proto.stats
        diff.close()
        watchdog.stop()
        if alive:
            peak_rss = max(peak_rss, rss_kb(pid, "VmHWM"))
            before = _digest(skv.port)
            skv.restart()
            replay_ok = _digest(skv.port) == before
    finally:
        watchdog.stop()
        skv.stop()
        # An exception that escaped to the event loop (a connection dropped without a reply)
        # is logged with its traceback: it counts as a crash.
        tracebacks = skv.log_text().count("Traceback (most recent call last)")
        skv.cleanup()
        ref.stop()
        ref.cleanup()
    elapsed = time.monotonic() - started
    crashes = (0 if alive else 1) + diff_stats.crashes + tracebacks
    hangs = diff_stats.hangs + watchdog.late + proto_stats.unclosed
    return {
        "requests": diff_stats.requests + proto_stats.requests,
        "differential_requests": diff_stats.requests,
        "protocol_requests": proto_stats.requests,
        "protocol_cases": proto_stats.cases,
        "seconds": round(elapsed, 1),
        "crashes": crashes,
        "crash_detail": {"process_died": int(not alive), "lost_connections": diff_stats.crashes,
                         "tracebacks_in_log": tracebacks},
        "hangs": hangs,
        "hang_detail": {"slow_batches": diff_stats.hangs, "late_pings": watchdog.late,
                        "unclosed_connections": proto_stats.unclosed},
        "reply_mismatches": diff_stats.mismatches,
        "state_mismatches": diff_stats.state_mismatches,
        "digest_checks": diff_stats.digest_checks,
        "known_differences": diff_stats.known,
        "protocol_failures": {"bad_replies": proto_stats.bad_replies, "after_error": proto_stats.after_error},
        "protocol_differences_vs_redis": proto_stats.differences,
        "ping_worst_seconds": round(watchdog.worst, 3),
        "pings": watchdog.pings,
        "ping_failures": watchdog.failed,
        "slowest_batch_seconds": round(diff_stats.slowest_batch, 3),
        "peak_rss_mb": round(peak_rss / 1024, 1),
        "wal_replay_same_digest": replay_ok,
        "examples": diff_stats.examples + proto_stats.examples,
        "protocol_difference_examples": proto_stats.difference_examples,
    }


def failed(report: dict[str, Any]) -> bool:
    return bool(report["crashes"] or report["hangs"] or report["reply_mismatches"] or report["state_mismatches"]
                or sum(report["protocol_failures"].values()) or report["wal_replay_same_digest"] is False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--protocol-share", type=float, default=0.3)
    parser.add_argument("--json", help="write the report here as JSON")
    args = parser.parse_args(argv)
    report = run(args.requests, args.seed, args.protocol_share)
    examples = report.pop("examples")
    diffs = report.pop("protocol_difference_examples")
    print(json.dumps(report, indent=2))
    for text in examples:
        print(text)
    if diffs:
        print(f"--- first protocol differences vs redis-server ({len(diffs)} shown, informational)")
        for text in diffs[:5]:
            print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**report, "examples": examples, "protocol_difference_examples": diffs}, f, indent=2)
    return 1 if failed(report) else 0


if __name__ == "__main__":
    sys.exit(main())
