"""Memory per key: SentryKV and redis-server side by side, same data, same run.

Why a separate script: issue 16 §3 asks for bytes per small key against
Redis's, for three data sets, and the ``restart-memory`` suite measures a
different one (16-byte keys and values) together with restart times.  This
one starts a fresh server per data set and per kind (so one data set's
garbage cannot inflate the next), reads ``INFO memory`` ``used_memory`` and
VmRSS before and after the load, and prints bytes per key and the
SentryKV / Redis ratio:

* ``strings``: ``SET key:N abc``                    (N = 0 .. count-1)
* ``hash``:    ``HSET h f:N abc``                   (one hash, count fields)
* ``ttl``:     ``SET key:N abc EX 100000``          (every key with a TTL)

Run it with ``python -m bench.memory_per_key [--count N] [--reps R]``; it is
also the ``memory-per-key`` suite of ``python -m bench --full``.  Both servers
run with persistence off (``--appendonly no --save ''``): memory of the
dataset is what is measured, not log buffers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.registry import Context, Suite, register
from bench.resp import Connection, info
from bench.results import Sample
from bench.servers import (
    ServerKind,
    ServerProcess,
    install_signal_handlers,
    redis_kind,
    sentrykv_kind,
    start_server,
    stop_all,
)

MODE = "none"
BATCH = 1000
HASH_FIELDS_PER_CALL = 100
TTL_SECONDS = 100_000
DATASETS: tuple[str, ...] = ("strings", "hash", "ttl")
DESCRIPTIONS = {
    "strings": "SET key:N abc",
    "hash": "HSET h f:N abc (one hash)",
    "ttl": f"SET key:N abc EX {TTL_SECONDS}",
}


def _bulk(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def _batches(dataset: str, count: int) -> Iterator[tuple[bytes, int]]:
    """Pre-encoded pipelines of the data set: (payload, number of replies)."""
    if dataset == "hash":
        step = HASH_FIELDS_PER_CALL
        for start in range(0, count, step * 10):
            parts: list[bytes] = []
            replies = 0
            for call in range(start, min(start + step * 10, count), step):
                fields = range(call, min(call + step, count))
                parts.append(b"*%d\r\n$4\r\nHSET\r\n$1\r\nh\r\n" % (2 + 2 * len(fields)))
                parts.extend(_bulk(b"f:%d" % i) + b"$3\r\nabc\r\n" for i in fields)
                replies += 1
            yield b"".join(parts), replies
        return
    tail = b"$3\r\nabc\r\n"
    head = b"*3\r\n$3\r\nSET\r\n"
    if dataset == "ttl":
        ttl = str(TTL_SECONDS).encode()
        head = b"*5\r\n$3\r\nSET\r\n"
        tail += b"$2\r\nEX\r\n" + _bulk(ttl)
    for start in range(0, count, BATCH):
        stop = min(start + BATCH, count)
        yield b"".join(head + _bulk(b"key:%d" % i) + tail for i in range(start, stop)), stop - start


def load(port: int, dataset: str, count: int) -> float:
    """Load one data set over one pipelined connection; returns the elapsed seconds."""
    t0 = time.perf_counter()
    with Connection(port, timeout=120.0) as conn:
        for payload, replies in _batches(dataset, count):
            errors = conn.pipeline([payload], replies)
            if errors:
                raise RuntimeError(f"{errors} error replies loading {dataset}")
    return time.perf_counter() - t0


def _used_memory(port: int) -> int:
    return int(info(port, "memory")["used_memory"])


def measure_one(kind: ServerKind, dataset: str, count: int, log_dir: Path,
                tmp_base: str | None = None) -> dict[str, float]:
    """Fresh server, load, and the used_memory / RSS deltas per key (or per field)."""
    server: ServerProcess = start_server(kind, MODE, log_dir, tmp_base=tmp_base)
    try:
        time.sleep(0.2)  # let start-up allocations settle before the baseline
        mem0, rss0 = _used_memory(server.port), server.rss_bytes()
        seconds = load(server.port, dataset, count)
        time.sleep(0.3)  # a cron pass: SentryKV refreshes the cached parts of used_memory
        mem1, rss1 = _used_memory(server.port), server.rss_bytes()
    finally:
        server.stop(timeout=60)
    return {
        "used_memory_per_key": (mem1 - mem0) / count,
        "rss_per_key": (rss1 - rss0) / count,
        "load_keys_per_s": count / seconds,
    }


def run(kinds: list[ServerKind], count: int, reps: int, log_dir: Path,
        report: Callable[[str], None] = print, tmp_base: str | None = None,
        datasets: tuple[str, ...] = DATASETS) -> dict[tuple[str, str], list[dict[str, float]]]:
    """Every data set on every kind, alternating the order per repetition."""
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for dataset in datasets:
        for rep in range(reps):
            order = kinds if rep % 2 == 0 else list(reversed(kinds))
            for kind in order:
                metrics = measure_one(kind, dataset, count, log_dir, tmp_base)
                results.setdefault((dataset, kind.name), []).append(metrics)
                report(f"{dataset:<8} {kind.name:<9} rep {rep + 1}: "
                       f"{metrics['used_memory_per_key']:.1f} B/key used_memory, "
                       f"{metrics['rss_per_key']:.1f} B/key RSS")
    return results


def summary(results: dict[tuple[str, str], list[dict[str, float]]]) -> list[str]:
    """A markdown table: medians per data set, both servers and the ratio."""
    lines = ["| data set | metric | Redis | SentryKV | SentryKV / Redis |", "|---|---|---:|---:|---:|"]
    for dataset in DATASETS:
        redis = results.get((dataset, "redis"))
        ours = results.get((dataset, "sentrykv"))
        if not redis or not ours:
            continue
        for metric in ("used_memory_per_key", "rss_per_key"):
            r = statistics.median(m[metric] for m in redis)
            s = statistics.median(m[metric] for m in ours)
            ratio = f"{s / r:.2f}x" if r > 0 else "-"
            lines.append(f"| {DESCRIPTIONS[dataset]} | {metric} (B) | {r:.0f} | {s:.0f} | {ratio} |")
    return lines


def run_suite(ctx: Context) -> None:
    count = ctx.engine_keys or 1_000_000
    for dataset in DATASETS:
        for rep in range(ctx.reps):
            for kind in ctx.order(rep):
                where = f"memory-per-key {dataset} rep {rep + 1}/{ctx.reps} {kind.name:<8}"
                try:
                    metrics = measure_one(kind, dataset, count, ctx.log_dir, ctx.tmp_base)
                except Exception as exc:  # one failed run must not lose the others
                    ctx.results.errors.append(f"{where}: {type(exc).__name__}: {exc}")
                    ctx.progress.step(f"{where}: FAILED ({exc})")
                    continue
                ctx.results.add(Sample("memory-per-key", MODE, dataset, f"{DESCRIPTIONS[dataset]}, {count}",
                                       kind.name, rep, metrics))
                ctx.progress.step(f"{where}: {metrics['used_memory_per_key']:.0f} B/key used_memory, "
                                  f"{metrics['rss_per_key']:.0f} B/key RSS")


register(Suite(
    "memory-per-key",
    "Memory per key",
    "A fresh server per data set (persistence off): `SET key:N abc`, one hash of N fields "
    f"`HSET h f:N abc`, and `SET key:N abc EX {TTL_SECONDS}`, N = 1M; `INFO memory` used_memory and "
    "VmRSS deltas per key (per field for the hash). `python -m bench.memory_per_key` runs it alone.",
    frozenset({"full"}),
    run_suite,
    lambda ctx: len(DATASETS) * ctx.reps * len(ctx.kinds),
    order=61,
))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory_per_key", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1_000_000, help="keys (fields) per data set")
    p.add_argument("--reps", type=int, default=1, help="repetitions per server and data set")
    p.add_argument("--sentrykv-cmd", help="command that starts SentryKV (default: this python -m sentrykv_server)")
    p.add_argument("--redis-cmd", default="redis-server")
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset of "
                   + ", ".join(DATASETS))
    p.add_argument("--log-dir", type=Path, default=Path("bench/results/memory-per-key-logs"))
    args = p.parse_args(argv)
    datasets = tuple(args.datasets.split(","))
    if not set(datasets) <= set(DATASETS):
        p.error(f"--datasets: choose among {', '.join(DATASETS)}")
    restore = install_signal_handlers()
    kinds = [redis_kind(args.redis_cmd.split()),
             sentrykv_kind(args.sentrykv_cmd.split() if args.sentrykv_cmd else None)]
    try:
        results = run(kinds, args.count, args.reps, args.log_dir,
                      report=lambda line: print(line, file=sys.stderr, flush=True), datasets=datasets)
    finally:
        stop_all()
        restore()
    print(f"count={args.count} reps={args.reps} (medians)")
    print("\n".join(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
