"""Stream suites: XADD / XRANGE with redis-benchmark, and consumer groups with a Python client.

``streams`` (redis-benchmark, like the ``pipeline`` suite): ``XADD`` at ``-P 1`` and
``-P 16`` with 50 clients, then ``XRANGE - + COUNT 100`` on the stream those runs
filled.  Issue 12's goal: XADD at least 0.7x Redis at ``-P 1`` (client-bound: compare
CPU per request too), ``-P 16`` reported.

``stream-groups`` (one server at a time, same client code for both):

* *consumer loop*: a group over a preloaded stream, one client repeating
  ``XREADGROUP GROUP g c COUNT 10 STREAMS s >`` + ``XACK`` of what it got;
  entries consumed per second and server CPU per entry;
* *memory*: ``used_memory`` before and after 1M ``XADD`` of 3 small fields, per
  entry (SentryKV reports its RSS as used_memory);
* *pending-entries latency*: with all 1M entries pending in one group, the latency
  of ``XPENDING`` (summary and ``- + 10``), ``XAUTOCLAIM ... COUNT 10`` from the
  middle, ``XCLAIM`` and ``XACK`` of one entry, against the same at 10k pending:
  O(log n) structures keep the two rows flat.

``--engine-keys N`` (or SENTRYKV_BENCH_ENGINE_KEYS) shrinks the 1M to N for tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from bench.engine_suites import MODE, engine_keys
from bench.progress import human_rate
from bench.redis_benchmark import BenchCase
from bench.registry import Context, Suite, register
from bench.resp import Connection, encode, info
from bench.results import Sample
from bench.servers import ServerKind, ServerProcess, make_data_dir, remove_data_dir, start_server
from bench.throughput import throughput_suite

STREAM_KEY = "bench:stream"
FIELDS = ("user", "u1234567", "action", "click", "value", "42")  # 3 small fields


def _xadd(pipeline: int, requests: int) -> BenchCase:
    return BenchCase(f"xadd-c50-P{pipeline}", None, 50, requests, pipeline,
                     command=("XADD", STREAM_KEY, "*", *FIELDS))


def _xrange(requests: int) -> BenchCase:
    return BenchCase("xrange100-c50-P1", None, 50, requests, 1, command=("XRANGE", STREAM_KEY, "-", "+", "COUNT", "100"))


STREAMS = throughput_suite(
    "streams",
    "Streams: XADD -P 1 / -P 16, XRANGE - + COUNT 100",
    "`XADD bench:stream * user u1234567 action click value 42` with 50 clients at `-P 1` and "
    "`-P 16`, then `XRANGE bench:stream - + COUNT 100` (50 clients, `-P 1`) on the stream the "
    "XADD runs filled. Goal: XADD at least 0.7x Redis at `-P 1`.",
    {
        "smoke": [("everysec", [_xadd(16, 2000), _xrange(500)])],
        "quick": [("everysec", [_xadd(1, 100_000), _xadd(16, 200_000), _xrange(20_000)])],
        "full": [
            ("everysec", [_xadd(1, 200_000), _xadd(16, 500_000), _xrange(50_000)]),
            ("always", [_xadd(1, 100_000), _xadd(16, 200_000)]),
        ],
    },
    order=60,
)

# -- stream-groups ----------------------------------------------------------------------------
CONSUME_ENTRIES = 200_000
MEMORY_ENTRIES = 1_000_000
PEL_SIZES = (10_000, 1_000_000)
LATENCY_CALLS = 200
LOAD_BATCH = 1000


def _load(conn: Connection, key: str, n: int, start_ms: int = 1) -> None:
    """``n`` entries with IDs <start_ms + i>-0 (explicit IDs: both servers get the same)."""
    for lo in range(0, n, LOAD_BATCH):
        hi = min(n, lo + LOAD_BATCH)
        conn.pipeline((encode("XADD", key, f"{start_ms + i}-0", *FIELDS) for i in range(lo, hi)), hi - lo)


def _consume(conn: Connection, key: str) -> int:
    """XREADGROUP COUNT 10 + XACK until the group has read everything; entries consumed."""
    done = 0
    while True:
        reply = conn.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", key, ">")
        if not reply:
            return done
        entries = reply[0][1]  # type: ignore[index]
        if not entries:
            return done
        conn.call("XACK", key, "g", *(entry[0] for entry in entries))
        done += len(entries)


def consumer_loop(server: ServerProcess, n: int) -> dict[str, float]:
    with Connection(server.port, timeout=60) as conn:
        _load(conn, "bench:consume", n)
        conn.call("XGROUP", "CREATE", "bench:consume", "g", "0")
        snap = server.cpu_snapshot()
        started = time.perf_counter()
        done = _consume(conn, "bench:consume")
        elapsed = time.perf_counter() - started
        cpu = server.cpu_since(snap)
    if done != n:
        raise RuntimeError(f"consumed {done} of {n} entries")
    return {"entries_per_s": done / elapsed, "cpu_us_per_entry": cpu / done * 1e6}


def memory_per_entry(server: ServerProcess, n: int) -> dict[str, float]:
    before = int(info(server.port, "memory")["used_memory"])
    with Connection(server.port, timeout=60) as conn:
        _load(conn, "bench:memory", n)
        length = conn.call("XLEN", "bench:memory")
    after = int(info(server.port, "memory")["used_memory"])
    if length != n:
        raise RuntimeError(f"XLEN {length}, expected {n}")
    return {"used_memory_per_entry": (after - before) / n}


def _latency(conn: Connection, make: Callable[[int], list[str | bytes | int]]) -> dict[str, float]:
    samples = []
    for i in range(LATENCY_CALLS):
        argv = make(i)
        started = time.perf_counter()
        conn.call(*argv)
        samples.append((time.perf_counter() - started) * 1000.0)
    samples.sort()
    return {"p50_ms": statistics.median(samples), "p99_ms": samples[int(len(samples) * 0.99) - 1],
            "max_ms": samples[-1]}


def pel_latencies(server: ServerProcess, n: int) -> dict[str, dict[str, float]]:
    """All of a stream pending in one group; latency of the PEL commands at its middle."""
    key = f"bench:pel{n}"
    with Connection(server.port, timeout=120) as conn:
        _load(conn, key, n)
        conn.call("XGROUP", "CREATE", key, "g", "0")
        while conn.call("XREADGROUP", "GROUP", "g", "owner", "COUNT", "10000", "STREAMS", key, ">"):
            pass
        mid = n // 2
        out = {
            "XPENDING summary": _latency(conn, lambda i: ["XPENDING", key, "g"]),
            "XPENDING - + 10": _latency(conn, lambda i: ["XPENDING", key, "g", "-", "+", "10"]),
            "XPENDING mid 10": _latency(conn, lambda i: ["XPENDING", key, "g", f"{mid + i}-0", "+", "10"]),
            "XAUTOCLAIM mid COUNT 10": _latency(
                conn, lambda i: ["XAUTOCLAIM", key, "g", "other", "0", f"{mid + 10 * i}-0", "COUNT", "10", "JUSTID"]),
            "XCLAIM 1": _latency(conn, lambda i: ["XCLAIM", key, "g", "third", "0", f"{mid - i}-0", "JUSTID"]),
            "XACK 1": _latency(conn, lambda i: ["XACK", key, "g", f"{mid // 2 + i}-0"]),
        }
        conn.call("DEL", key)
    return out


def _with_server(ctx: Context, kind: ServerKind, body: Callable[[ServerProcess], None]) -> None:
    data_dir = make_data_dir(kind, ctx.tmp_base)
    server: ServerProcess | None = None
    try:
        server = start_server(kind, MODE, ctx.log_dir, data_dir=data_dir, tmp_base=ctx.tmp_base,
                              ready_timeout=ctx.ready_timeout)
        body(server)
    finally:
        if server is not None:
            server.stop()
        remove_data_dir(data_dir)


def _measure_groups(ctx: Context, server: ServerProcess, kind: ServerKind, rep: int, where: str) -> None:
    small = engine_keys(ctx)
    consume_n = small or CONSUME_ENTRIES
    memory_n = small or MEMORY_ENTRIES
    m = consumer_loop(server, consume_n)
    ctx.results.add(Sample("stream-groups", MODE, f"consume-n{consume_n}",
                           f"XREADGROUP COUNT 10 + XACK, {consume_n:,} entries", kind.name, rep, m))
    ctx.progress.step(f"{where} consumer loop: {human_rate(m['entries_per_s'])} entries/s, "
                      f"{m['cpu_us_per_entry']:.1f} µs CPU/entry")
    mem = memory_per_entry(server, memory_n)
    ctx.results.add(Sample("stream-groups", MODE, f"memory-n{memory_n}",
                           f"{memory_n:,} entries x 3 small fields", kind.name, rep, mem))
    ctx.progress.step(f"{where} memory: {mem['used_memory_per_entry']:.0f} B/entry")
    for n in sorted({min(small, s) for s in PEL_SIZES}) if small else PEL_SIZES:
        for name, lat in pel_latencies(server, n).items():
            ctx.results.add(Sample("stream-groups", MODE, f"pel-n{n}-{name}", f"{name}, {n:,} pending",
                                   kind.name, rep, lat))
        ctx.progress.step(f"{where} {n:,} pending: latencies measured")


def run_stream_groups(ctx: Context) -> None:
    for rep in range(ctx.reps):
        for kind in ctx.order(rep):
            where = f"stream-groups rep {rep + 1}/{ctx.reps} {kind.name:<8}"
            try:
                _with_server(ctx, kind, lambda server, k=kind, r=rep, w=where: _measure_groups(ctx, server, k, r, w))
            except Exception as exc:  # one failed server must not lose the other's numbers
                ctx.results.errors.append(f"{where}: {type(exc).__name__}: {exc}")
                ctx.progress.step(f"{where}: FAILED ({exc})")


register(Suite(
    "stream-groups",
    "Consumer groups: XREADGROUP+XACK loop, memory per entry, PEL latency at 10k and 1M pending",
    "One client: `XREADGROUP GROUP g c COUNT 10 STREAMS s >` then `XACK` of the entries it got, "
    "over 200k preloaded entries (entries/s, server CPU per entry); `used_memory` per entry after "
    "1M `XADD` of 3 small fields; then with 10k and 1M entries pending in one group, latency of "
    "XPENDING (summary, `- + 10`, from the middle), `XAUTOCLAIM ... COUNT 10 JUSTID` from the "
    "middle, XCLAIM and XACK of one entry: the two sizes should show the same latencies.",
    frozenset({"full"}),
    run_stream_groups,
    lambda ctx: ctx.reps * len(ctx.kinds) * (2 + len(PEL_SIZES)),
    order=65,
))
