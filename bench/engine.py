"""Engine-level suite: restart time and memory per key (over the network).

Restart and memory only need a running server, so they are measured now,
identically for Redis (AOF, everysec) and SentryKV (WAL, everysec):

1. start the server fresh, read ``INFO memory`` used_memory and VmRSS;
2. load N distinct keys (:mod:`bench.loader`), check DBSIZE == N, read memory again;
3. stop it gracefully by PID (SIGTERM: both flush their log), keep the data dir;
4. start it again on that dir and time until it answers PING *and* DBSIZE == N.

``restart_s`` is that whole wall time (what an operator waits for);
``replay_keys_per_s`` divides N by the restart time minus the time the same
server took to start on an empty dir (step 1), so Python's interpreter
start-up is not counted as replay.

The engine benchmarks that need in-process hooks into SentryKV's persistence
(WAL replay, snapshot save/load, checkpoint pause) live in :mod:`bench.engine_suites`.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from bench.loader import load_keys
from bench.progress import human_rate
from bench.registry import Context, Suite, register
from bench.resp import RespError, info
from bench.results import Sample
from bench.servers import (
    ServerKind,
    ServerProcess,
    make_data_dir,
    remove_data_dir,
    start_server,
    wait_for_dbsize,
)

MODE = "everysec"
SIZES: dict[str, tuple[int, ...]] = {
    "smoke": (2000,),
    "quick": (100_000,),
    "full": (100_000, 1_000_000),
}


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total


def _used_memory(port: int) -> int | None:
    try:
        value = info(port, "memory").get("used_memory")
    except (OSError, RespError):
        return None
    return int(value) if value and value.isdigit() else None


def _one(ctx: Context, kind: ServerKind, count: int, rep: int) -> dict[str, float]:
    metrics: dict[str, float] = {}
    data_dir = make_data_dir(kind, ctx.tmp_base)
    servers: list[ServerProcess] = []
    try:
        t0 = time.perf_counter()
        server = start_server(kind, MODE, ctx.log_dir, data_dir=data_dir, tmp_base=ctx.tmp_base,
                              ready_timeout=ctx.ready_timeout)
        servers.append(server)
        empty_start = time.perf_counter() - t0
        metrics["start_empty_s"] = empty_start
        mem0, rss0 = _used_memory(server.port), server.rss_bytes()
        load_s = load_keys(server.port, count)
        wait_for_dbsize(server.port, count, timeout=30)
        mem1, rss1 = _used_memory(server.port), server.rss_bytes()
        metrics["load_keys_per_s"] = count / load_s
        if mem0 is not None and mem1 is not None:
            metrics["used_memory_per_key"] = (mem1 - mem0) / count
        metrics["rss_per_key"] = (rss1 - rss0) / count
        metrics["shutdown_s"] = server.stop(timeout=120, remove_dir=False)
        metrics["disk_per_key"] = _dir_bytes(data_dir) / count
        t0 = time.perf_counter()
        again = start_server(kind, MODE, ctx.log_dir, data_dir=data_dir, ready_timeout=600)
        servers.append(again)
        wait_for_dbsize(again.port, count, timeout=600)
        restart = time.perf_counter() - t0
        metrics["restart_s"] = restart
        # Interpreter and process start-up is not replay work: take the empty start off.
        metrics["replay_keys_per_s"] = count / max(restart - empty_start, 1e-3)
    finally:
        for s in servers:
            s.stop(remove_dir=False)
        remove_data_dir(data_dir)
    return metrics


def run_restart_memory(ctx: Context) -> None:
    for count in SIZES.get(ctx.profile, SIZES["full"]):
        for rep in range(ctx.reps):
            for kind in ctx.order(rep):
                where = f"restart-memory n={count} rep {rep + 1}/{ctx.reps} {kind.name:<8}"
                try:
                    metrics = _one(ctx, kind, count, rep)
                except Exception as exc:  # one failed server run must not lose the others
                    ctx.results.errors.append(f"{where}: {type(exc).__name__}: {exc}")
                    ctx.progress.step(f"{where}: FAILED ({exc})")
                    continue
                ctx.results.add(Sample("restart-memory", MODE, f"n{count}", f"{count} keys", kind.name, rep, metrics))
                mem = metrics.get("used_memory_per_key")
                mem_txt = f"{mem:.0f} B/key used_memory, " if mem is not None else ""
                ctx.progress.step(
                    f"{where}: restart {metrics['restart_s']:.2f}s, {mem_txt}"
                    f"{metrics['rss_per_key']:.0f} B/key RSS, load {human_rate(metrics['load_keys_per_s'])} keys/s"
                )


register(Suite(
    "restart-memory",
    "Restart time and memory per key (everysec)",
    "Load N distinct keys (16-byte keys, 16-byte values; pipelined SET, 1000 per batch), read "
    "`INFO memory` used_memory and VmRSS, stop gracefully by PID (SIGTERM), restart on the same "
    "dir and time until PING answers and DBSIZE == N. Redis replays its AOF, SentryKV its WAL.",
    frozenset({"full"}),
    run_restart_memory,
    lambda ctx: len(SIZES.get(ctx.profile, SIZES["full"])) * ctx.reps * len(ctx.kinds),
    order=60,
))
