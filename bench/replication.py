"""Replication, side by side: full sync, the master's latency during it, acknowledged writes.

For Redis and SentryKV alike (``appendfsync always`` on both machines, here
two processes on one host): a master is loaded with N keys (100k; the engine
size override shrinks it), then a replica is started with ``--replicaof``:

* ``full-sync``: seconds until the replica's link is up with the master's
  offset (transfer + load), and one client's SET latency on the master
  meanwhile (max, p99): Redis forks, SentryKV streams a copy-on-write view in
  slices, neither should stop serving;
* ``set-with-replica``: ``redis-benchmark -t set -c 50`` on the master with
  the replica attached (the stream's cost on the master);
* ``wait-1``: one client doing SET then ``WAIT 1 0``: the round trip of an
  acknowledged write (p50, p99, ops/s); and for SentryKV ``WAITAOF 1 1 0``
  (fsynced on both machines; Redis 7.0 has no WAITAOF).

Run with ``python -m bench --full --suites replication``.
"""

from __future__ import annotations

import statistics
import threading
import time

import redis

from bench.engine_suites import _fail, _sizes
from bench.redis_benchmark import _invoke, parse_csv
from bench.registry import Context, Suite, register
from bench.results import Sample
from bench.servers import ServerKind, ServerProcess, free_port, start_server

MODE = "always"
KEYS = 100_000
ACKED_OPS = 2000


def _load(port: int, n: int) -> None:
    c = redis.Redis(port=port, socket_timeout=120)
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"key:{i}", f"value-{i:012d}")
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()
    c.close()


def _synced(replica: redis.Redis, master: redis.Redis) -> bool:
    r, m = replica.info("replication"), master.info("replication")
    return r.get("master_link_status") == "up" and r.get("slave_repl_offset") == m["master_repl_offset"]


def _latency(values: list[float]) -> dict[str, float]:
    values = sorted(values) or [0.0]
    return {"max_ms": values[-1] * 1000, "p99_ms": values[int(len(values) * 0.99) - 1 if len(values) > 1 else 0] * 1000,
            "p50_ms": statistics.median(values) * 1000, "requests": float(len(values))}


def _full_sync(ctx: Context, kind: ServerKind, master: ServerProcess, n: int) -> tuple[ServerProcess, dict[str, float]]:
    """Start the replica; measure the sync time and the master's SET latency meanwhile."""
    m = redis.Redis(port=master.port, socket_timeout=60)
    samples: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        c = redis.Redis(port=master.port, socket_timeout=60)
        while not stop.is_set():
            t = time.perf_counter()
            c.set("probe", "x")
            samples.append(time.perf_counter() - t)
            time.sleep(0.001)
        c.close()

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    started = time.perf_counter()
    replica_kind = ServerKind(kind.name, kind.label, kind.command,
                              (*kind.extra, "--replicaof", f"127.0.0.1 {master.port}")
                              if kind.name == "sentrykv" else (*kind.extra, "--replicaof", "127.0.0.1",
                                                               str(master.port)), kind.cwd)
    replica = start_server(replica_kind, MODE, ctx.log_dir, tmp_base=ctx.tmp_base, port=free_port(),
                           ready_timeout=ctx.ready_timeout)
    r = redis.Redis(port=replica.port, socket_timeout=60)
    try:
        deadline = time.perf_counter() + 600
        while not _synced(r, m):
            if time.perf_counter() > deadline:
                raise TimeoutError("the replica did not sync within 600 s")
            time.sleep(0.01)
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        thread.join(10)
    metrics = _latency(samples)
    metrics["sync_s"] = seconds
    metrics["keys"] = float(n)
    return replica, metrics


def _acked_writes(port: int, command: tuple[str, ...]) -> dict[str, float]:
    c = redis.Redis(port=port, socket_timeout=60)
    times: list[float] = []
    started = time.perf_counter()
    for i in range(ACKED_OPS):
        t = time.perf_counter()
        c.set(f"acked:{i}", "v")
        c.execute_command(*command)
        times.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    c.close()
    metrics = _latency(times)
    metrics["ops_per_s"] = ACKED_OPS / wall
    return metrics


def _one(ctx: Context, rep: int, kind: ServerKind, n: int) -> None:
    where = f"replication n={n} rep {rep + 1}/{ctx.reps} {kind.name:<8}"
    servers: list[ServerProcess] = []
    try:
        # Redis waits repl-diskless-sync-delay (5 s) for more replicas before a sync: not here.
        master_kind = kind if kind.name == "sentrykv" else ServerKind(
            kind.name, kind.label, kind.command, (*kind.extra, "--repl-diskless-sync-delay", "0"), kind.cwd)
        master = start_server(master_kind, MODE, ctx.log_dir, tmp_base=ctx.tmp_base, ready_timeout=ctx.ready_timeout)
        servers.append(master)
        _load(master.port, n)
        replica, sync = _full_sync(ctx, kind, master, n)
        servers.append(replica)
        ctx.results.add(Sample("replication", MODE, f"n{n}-full-sync", f"full sync of {n:,} keys", kind.name, rep, sync))
        ctx.progress.step(f"{where}: full sync {sync['sync_s']:.2f}s, master SET max {sync['max_ms']:.1f} ms")
        requests = ctx.requests_override or 100_000
        code, out, err, _wall = _invoke(ctx.benchmark_binary, master.port,
                                        ["-t", "set", "-c", "50", "-n", str(requests), "-q", "--csv"],
                                        timeout=requests / 50 + 120)
        rows = parse_csv(out)
        if code == 0 and rows:
            ctx.results.add(Sample("replication", MODE, "set-c50-replica", "SET -c 50, one replica attached",
                                   kind.name, rep, dict(next(iter(rows.values())))))
        else:
            ctx.results.errors.append(f"{where}: redis-benchmark failed: {(err or out)[-200:]}")
        ctx.progress.step(f"{where}: SET with a replica")
        wait = _acked_writes(master.port, ("WAIT", "1", "0"))
        ctx.results.add(Sample("replication", MODE, "set-wait-1", "SET + WAIT 1 0", kind.name, rep, wait))
        if kind.name == "sentrykv":
            aof = _acked_writes(master.port, ("WAITAOF", "1", "1", "0"))
            ctx.results.add(Sample("replication", MODE, "set-waitaof-1-1", "SET + WAITAOF 1 1 0", kind.name, rep, aof))
        ctx.progress.step(f"{where}: SET + WAIT 1 p50 {wait['p50_ms']:.2f} ms")
    except Exception as exc:  # noqa: BLE001 - recorded as a failed case
        _fail(ctx, where, exc)
    finally:
        for server in reversed(servers):
            server.stop()


def run(ctx: Context) -> None:
    for n in _sizes(ctx, (KEYS,)):
        for rep in range(ctx.reps):
            for kind in ctx.order(rep):
                _one(ctx, rep, kind, n)


register(Suite(
    "replication",
    "Replication: full sync, master latency during it, acknowledged writes",
    "Master with N keys (appendfsync always), then a replica with --replicaof: seconds to a synced "
    "replica and one client's SET latency on the master meanwhile; redis-benchmark -t set -c 50 "
    "with the replica attached; one client's SET + WAIT 1 0 (and, SentryKV only, SET + WAITAOF 1 1 0: "
    "fsynced on both) round trips.",
    frozenset({"full"}),
    run,
    lambda ctx: len(_sizes(ctx, (KEYS,))) * ctx.reps * len(ctx.kinds) * 3,
    order=70,
))
