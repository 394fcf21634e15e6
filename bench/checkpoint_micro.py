"""Micro-benchmark of checkpoints alone (no sockets): ``python -m bench.checkpoint_micro``.

For each size (default 100k and 1M string keys, ``key:<n>`` -> 24 bytes) it
runs the real :class:`Checkpointer` on a real :class:`Keyspace` inside a
uvloop loop (with a stand-in server object, appendonly off) and prints:

* save: entries/s for the whole checkpoint (cut, scan, write, fsync, rename);
* the cut (ms) and the longest loop stall, measured by a task that yields
  with ``asyncio.sleep(0)`` in a loop: the largest gap between two of its
  turns is the longest a ready client would have waited;
* the same stall while a writer task overwrites, inserts and deletes keys
  during the checkpoint (this exercises the copy-on-write hooks and the
  first-change listing of the remaining keys);
* load: entries/s for ``snapshot.load`` (read, verify every CRC, decode,
  swap in) into a fresh keyspace, and that the digest matches.

``--json`` prints one JSON object instead (for the bench harness).  Figures
are absolute and the machine is shared and noisy: compare runs made close
together.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from sentrykv_server.loop import new_event_loop
from sentrykv_server.persistence.checkpoint import Checkpointer
from sentrykv_server.store.keyspace import Keyspace


class StubConfig:
    """The directives a Checkpointer reads (automatic triggers off)."""

    checkpoint_interval_ms = 0
    auto_aof_rewrite_percentage = 0
    auto_aof_rewrite_min_size = 0

    def __init__(self, directory: str) -> None:
        self.dir = directory

    def on_change(self, name: str, hook: Any) -> None:
        return None


class StubServer:
    """The parts of Server a checkpoint touches (appendonly off: no WAL to rotate).

    Shared with tests/checkpoint, which drive Checkpointer the same way."""

    def __init__(self, directory: str, keyspace: Keyspace) -> None:
        self.config = StubConfig(directory)
        self.keyspace = keyspace
        self.ops: list[Any] = []
        self.aof = None
        self.last_lsn = 0
        self.cow_guard: Any = None
        self.cow_views: list[Any] = []
        self.lastsave = 0
        self.checkpointer: Any = None
        self.flush_pending = False  # no clients: checkpoint slices never wait for replies
        self.functions: Any = None  # no FUNCTION libraries to keep

    def commit_ops(self, client: Any) -> None:
        self.ops = []


def fill(n: int) -> Keyspace:
    ks = Keyspace(16)
    data = ks.dbs[0].data
    value = b"v" * 24
    for i in range(n):
        data[b"key:%d" % i] = value
    return ks


async def _ticker(state: dict[str, Any]) -> None:
    perf = time.perf_counter
    last = perf()
    gaps: list[float] = state["gaps"]
    while not state.get("stop"):
        await asyncio.sleep(0)
        now = perf()
        gaps.append(now - last)
        last = now


async def _writer(ks: Keyspace, n: int, state: dict[str, Any]) -> None:
    """A busy client: 150 writes per loop turn, never letting the loop idle.

    Inserted keys cycle over ``n`` names, so the dict stays within 2n keys however long
    the checkpoint takes: a dict grown to millions of keys costs O(n) rebuilds (100 ms
    to seconds) that are the writer's own, not the checkpoint's.  The longest burst of
    the writer itself is reported (``max_writer_burst_ms``) to tell them apart.
    """
    db = ks.dbs[0]
    i = 0
    perf = time.perf_counter
    longest = 0.0
    while not state.get("stop"):
        started = perf()
        for _ in range(50):  # a burst of writes per loop turn, like a busy client
            k = i % n
            db.set(b"key:%d" % k, b"w" * 24)  # overwrite
            db.set(b"new:%d" % k, b"x")  # insert (an overwrite from the second round on)
            db.delete(b"key:%d" % ((k * 7 + 3) % n))  # delete
            i += 1
        longest = max(longest, perf() - started)
        state["writes"] = i * 3
        state["writer_burst"] = longest
        await asyncio.sleep(0)


async def _checkpoint(directory: str, ks: Keyspace, with_writes: bool) -> dict[str, Any]:
    server = StubServer(directory, ks)
    ckpt = Checkpointer(server)  # type: ignore[arg-type]
    server.checkpointer = ckpt
    ckpt.start()
    state: dict[str, Any] = {"gaps": []}
    ticker = asyncio.create_task(_ticker(state))
    await asyncio.sleep(0.05)
    state["gaps"].clear()
    writer = asyncio.create_task(_writer(ks, len(ks.dbs[0].data), state)) if with_writes else None
    started = time.perf_counter()
    run = ckpt._start("save", "bench")
    assert run.task is not None
    await run.task
    elapsed = time.perf_counter() - started
    state["stop"] = 1
    await ticker
    if writer is not None:
        await writer
    for reaper in list(ckpt.reapers):  # preserved values are freed after the run, in slices
        await reaper
    await ckpt.stop(save=False)
    if not run.ok:
        raise RuntimeError(f"checkpoint failed: {run.error}")
    gaps = sorted(state["gaps"])
    return {
        "max_loop_stall_ms": gaps[-1] * 1000 if gaps else 0.0,
        "p999_loop_stall_ms": gaps[int(len(gaps) * 0.999)] * 1000 if gaps else 0.0,
        "stalls_over_10ms": sum(1 for g in gaps if g > 0.010),
        "seconds": elapsed,
        "entries": run.entries,
        "entries_per_s": run.entries / elapsed,
        "cut_ms": run.cut_ms,
        "max_pause_ms": run.max_pause_ms,
        "max_pause_cpu_ms": run.max_pause_cpu_ms,
        "bytes": run.size,
        "preserved": run.preserved,
        "writes_during": state.get("writes", 0),
        "max_writer_burst_ms": state.get("writer_burst", 0.0) * 1000,
        "path": run.path,
    }


_LOAD_SCRIPT = """
import json, sys, time
from sentrykv_server.persistence import snapshot
from sentrykv_server.store.keyspace import Keyspace
snapshot.decoders()  # import the value modules first, as a running server has
ks = Keyspace(16)
started, cpu = time.perf_counter(), time.process_time()
loaded = snapshot.load(sys.argv[1], ks)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
digest = ""
if len(sys.argv) > 2:
    from sentrykv_server.store.digest import dataset_digest
    digest = dataset_digest(ks)
print(json.dumps({"entries": loaded.entries, "seconds": seconds, "cpu": cpu, "digest": digest}))
"""


def load_in_fresh_process(path: str, digest: bool) -> dict[str, Any]:
    """Time snapshot.load the way a server start does it: in a new process."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = [sys.executable, "-c", _LOAD_SCRIPT, path] + (["digest"] if digest else [])
    out = subprocess.run(args, check=True, capture_output=True, env=env, text=True).stdout
    return dict(json.loads(out))


def bench(n: int, directory: str, with_writes: bool = True) -> dict[str, Any]:
    """Save (idle), load in a fresh process, then (``with_writes``) save again under a writer task.

    The run under writes is slow at 1M keys (the writer competes with the scan for the loop), so
    the harness's ``snapshot`` suite, which only needs save/load rates, turns it off.
    """
    from sentrykv_server.store.digest import dataset_digest

    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        ks = fill(n)
        want = dataset_digest(ks) if n <= 200_000 else None
        idle_dir, busy_dir = os.path.join(directory, "idle"), os.path.join(directory, "busy")
        os.makedirs(idle_dir, exist_ok=True)
        os.makedirs(busy_dir, exist_ok=True)
        idle = loop.run_until_complete(_checkpoint(idle_dir, ks, False))
        del ks
        gc.collect()  # a big parent slows the child's page faults down: measure lean
        loaded = load_in_fresh_process(idle["path"], want is not None)
        busy = loop.run_until_complete(_checkpoint(busy_dir, fill(n), True)) if with_writes else None
    finally:
        loop.close()
    out = {
        "keys": n,
        "save_entries_per_s": round(idle["entries_per_s"]),
        "save_seconds": round(idle["seconds"], 3),
        "snapshot_bytes": idle["bytes"],
        "cut_ms": round(idle["cut_ms"], 3),
        "max_loop_stall_ms_idle": round(idle["max_loop_stall_ms"], 2),
        "p999_loop_stall_ms_idle": round(idle["p999_loop_stall_ms"], 2),
        "max_pause_ms_idle": round(idle["max_pause_ms"], 2),
        "max_pause_cpu_ms_idle": round(idle["max_pause_cpu_ms"], 2),
        "load_entries_per_s": round(loaded["entries"] / loaded["seconds"]),
        "load_entries_per_cpu_s": round(loaded["entries"] / max(loaded["cpu"], 1e-9)),
        "load_seconds": round(loaded["seconds"], 3),
        "load_digest_ok": want is None or loaded["digest"] == want,
    }
    if busy is not None:
        out.update({
            "max_loop_stall_ms_writes": round(busy["max_loop_stall_ms"], 2),
            "p999_loop_stall_ms_writes": round(busy["p999_loop_stall_ms"], 2),
            "stalls_over_10ms_writes": busy["stalls_over_10ms"],
            "max_pause_ms_writes": round(busy["max_pause_ms"], 2),
            "max_pause_cpu_ms_writes": round(busy["max_pause_cpu_ms"], 2),
            "writes_during_checkpoint": int(busy["writes_during"]),
            "max_writer_burst_ms": round(busy["max_writer_burst_ms"], 2),
            "values_preserved": busy["preserved"],
        })
    return out


def _pct(lat: list[float], q: float) -> float:
    return lat[min(len(lat) - 1, int(len(lat) * q))]


def latency_stats(lat: list[float]) -> dict[str, float]:
    """Request latency summary in ms (``lat`` in seconds, any order)."""
    lat = sorted(lat)
    if not lat:
        return {"requests": 0}
    return {"requests": len(lat), "max_ms": round(lat[-1] * 1000, 3),
            "p999_ms": round(_pct(lat, 0.999) * 1000, 3), "p99_ms": round(_pct(lat, 0.99) * 1000, 3),
            "p50_ms": round(_pct(lat, 0.5) * 1000, 3)}


def _fill_over_network(r: Any, n: int) -> None:
    value = b"v" * 24
    pipe = r.pipeline(transaction=False)
    for lo in range(0, n, 1000):
        pipe.mset({b"key:%d" % i: value for i in range(lo, min(n, lo + 1000))})
        if len(pipe) >= 50:
            pipe.execute()
    pipe.execute()


def latency_during_checkpoints(port: int, n: int, rounds: int = 3, seconds_before: float = 1.0) -> dict[str, Any]:
    """Against a running server on ``port``: load ``n`` keys, then time one client doing SET on
    random existing keys for ``seconds_before`` and during ``rounds`` BGSAVEs, one after another.

    Works for SentryKV (checkpoint) and Redis (fork + RDB): completion is read from INFO
    persistence (``checkpoints_total`` if the server has it, else ``rdb_bgsave_in_progress``).
    Latencies are seconds; ``round_max`` holds each checkpoint's longest request, because on a
    noisy machine one outlier round says less than the median of several.
    """
    import random

    import redis

    r = redis.Redis(port=port, socket_timeout=120)
    control = redis.Redis(port=port, socket_timeout=120)
    _fill_over_network(r, n)
    if int(r.dbsize()) < n:
        raise RuntimeError(f"server holds {r.dbsize()} keys after loading {n}")
    rng = random.Random(1)

    def measure(until: Any) -> list[float]:
        out = []
        perf = time.perf_counter
        while not until():
            key = b"key:%d" % rng.randrange(n)
            t = perf()
            r.set(key, b"w")
            out.append(perf() - t)
        return out

    end = time.monotonic() + seconds_before
    before = measure(lambda: time.monotonic() > end)
    during: list[float] = []
    round_max: list[float] = []
    seconds: list[float] = []
    fields: dict[str, Any] = {}
    for i in range(rounds):
        if i:
            time.sleep(0.2)
        persistence = control.info("persistence")
        total = int(persistence.get("checkpoints_total", -1))
        control.bgsave()
        started = time.monotonic()
        checks = [0.0]

        def done(checks: list[float] = checks, total: int = total) -> bool:
            now = time.monotonic()
            if now - checks[0] < 0.05:
                return False
            checks[0] = now
            info = control.info("persistence")
            if total >= 0:
                return int(info["checkpoints_total"]) > total
            return int(info.get("rdb_bgsave_in_progress", 0)) == 0

        lat = measure(done)
        seconds.append(time.monotonic() - started)
        during += lat
        round_max.append(max(lat, default=0.0))
        fields = control.info("persistence")
    r.close()
    control.close()
    return {"before": before, "during": during, "round_max": round_max, "seconds": seconds, "info": fields}


def server_latency(n: int, seconds_before: float = 1.0) -> dict[str, Any]:
    """A real server with ``n`` keys: request latency of one client doing SET on random
    existing keys, before and during 3 BGSAVEs (appendonly yes, everysec)."""
    import socket

    import redis

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="skv-ckpt-lat-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentrykv_server", "--port", str(port), "--bind", "127.0.0.1",
         "--dir", directory, "--appendonly", "yes", "--appendfsync", "everysec"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        r = redis.Redis(port=port, socket_timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                r.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        r.close()
        m = latency_during_checkpoints(port, n, rounds=3, seconds_before=seconds_before)
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(directory, ignore_errors=True)
    fields = m["info"]
    return {
        "keys": n, "checkpoint_seconds": round(m["seconds"][0], 2),
        "before": latency_stats(m["before"]), "during": latency_stats(m["during"]),
        "during_max_ms_median_of_3": round(sorted(m["round_max"])[1] * 1000, 2),
        "server_max_pause_ms": fields["checkpoint_last_max_pause_ms"],
        "server_max_pause_cpu_ms": fields["checkpoint_last_max_pause_cpu_ms"],
        "preserved": fields["checkpoint_last_preserved"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checkpoint_micro", description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dir", default=None, help="directory for the snapshot files (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--server", action="store_true",
                        help="also measure request latency against a real server during BGSAVE")
    args = parser.parse_args(argv)
    directory = args.dir or tempfile.mkdtemp(prefix="skv-ckpt-bench-")
    results = []
    try:
        for n in args.keys:
            sub = os.path.join(directory, str(n))
            os.makedirs(sub, exist_ok=True)
            results.append(bench(n, sub))
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
    latency = [server_latency(n) for n in args.keys] if args.server else []
    if args.json:
        print(json.dumps({"micro": results, "server": latency}))
        return 0
    for r in results:
        print(f"{r['keys']:>9,} keys: save {r['save_entries_per_s']:>10,} entries/s ({r['save_seconds']}s, "
              f"{r['snapshot_bytes']:,} bytes); load {r['load_entries_per_s']:>10,} entries/s "
              f"({r['load_seconds']}s; {r['load_entries_per_cpu_s']:,}/CPU-s; fresh process"
              f"{', digest ok' if r['load_digest_ok'] else ', DIGEST MISMATCH'})")
        print(f"{'':>16}idle: cut {r['cut_ms']} ms, longest checkpoint step {r['max_pause_ms_idle']} ms "
              f"({r['max_pause_cpu_ms_idle']} ms CPU), "
              f"loop stall max {r['max_loop_stall_ms_idle']} ms (p99.9 {r['p999_loop_stall_ms_idle']} ms)")
        print(f"{'':>16}with {r['writes_during_checkpoint']:,} writes during it: longest step "
              f"{r['max_pause_ms_writes']} ms ({r['max_pause_cpu_ms_writes']} ms CPU), loop stall max {r['max_loop_stall_ms_writes']} ms "
              f"(p99.9 {r['p999_loop_stall_ms_writes']} ms, {r['stalls_over_10ms_writes']} over 10 ms; "
              f"the writer's own longest burst {r['max_writer_burst_ms']} ms), "
              f"{r['values_preserved']:,} values preserved")
    for lat in latency:
        b, d = lat["before"], lat["during"]
        print(f"server, {lat['keys']:,} keys, one client SET on random keys: before BGSAVE max {b['max_ms']} ms "
              f"(p99.9 {b['p999_ms']}); during 3 checkpoints of {lat['checkpoint_seconds']} s: max {d['max_ms']} ms "
              f"(median of the 3 maxima {lat['during_max_ms_median_of_3']} ms) "
              f"(p99.9 {d['p999_ms']}, p50 {d['p50_ms']}, {d['requests']:,} requests); server's longest step "
              f"{lat['server_max_pause_ms']} ms ({lat['server_max_pause_cpu_ms']} ms CPU), "
              f"{lat['preserved']:,} values preserved")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
