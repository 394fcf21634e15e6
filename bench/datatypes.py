"""Bitmaps, HyperLogLog, geo and SORT: redis-benchmark with custom commands, side by side.

Each case loads its data with redis-py (a 16 MB string for the whole-buffer
bitmap cases, a dense HyperLogLog, 10 000 points around Sicily, a 1000-element
list with weights), then runs ``redis-benchmark ... <command>`` against Redis
and SentryKV alternately, like the throughput suites, and reads the server CPU
per request.  ``__rand_int__`` in a command is redis-benchmark's random
placeholder (bounded by ``-r``).

Run it with ``python -m bench --full --suites datatypes`` (it is in the full
profile only); ``--requests N`` shrinks every case for a smoke run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import redis

from bench.progress import human_rate
from bench.redis_benchmark import _children_cpu, _error_line, _invoke, parse_csv
from bench.registry import Context, Suite, register
from bench.results import Sample
from bench.servers import ServerProcess, start_server

MODE = "everysec"
BIG = 16 * 1024 * 1024


def _bitmaps(c: redis.Redis) -> None:
    c.setbit("bm", 999_999, 1)
    value = random.Random(1).randbytes(BIG)
    c.set("big16", value)
    c.set("big16b", value[::-1])


def _hll(c: redis.Redis) -> None:
    pipe = c.pipeline(transaction=False)
    for start in range(0, 100_000, 1000):
        pipe.pfadd("hll", *[f"e{i}" for i in range(start, start + 1000)])
        pipe.pfadd("hll2", *[f"f{i}" for i in range(start, start + 1000)])
    pipe.execute()


def _geo(c: redis.Redis) -> None:
    rng = random.Random(2)
    pipe = c.pipeline(transaction=False)
    for start in range(0, 10_000, 500):
        points: list[object] = []
        for i in range(start, start + 500):
            points += [rng.uniform(12.4, 15.6), rng.uniform(36.6, 38.3), f"p{i}"]
        pipe.execute_command("GEOADD", "geo", *points)
    pipe.execute()


def _sort(c: redis.Redis) -> None:
    rng = random.Random(3)
    items = [rng.randrange(1_000_000) for _ in range(1000)]
    c.rpush("l1000", *items)
    c.mset({f"w_{i}": rng.randrange(1000) for i in items})


@dataclass(frozen=True)
class Case:
    key: str
    command: tuple[str, ...]
    requests: int
    clients: int = 50
    keyspace: int | None = None
    setup: Callable[[redis.Redis], None] | None = None

    def args(self, requests: int) -> list[str]:
        argv = ["-c", str(self.clients), "-n", str(requests)]
        if self.keyspace:
            argv += ["-r", str(self.keyspace)]
        return [*argv, "-q", "--csv", *self.command]


CASES = (
    # redis-benchmark's __rand_int__ is zero-padded, which no offset parser accepts: random keys
    # for SETBIT, and a bit that flips on every call for the in-place cost on a 125 KB bitmap.
    Case("setbit-keys", ("SETBIT", "bits:__rand_int__", "1000", "1"), 100_000, keyspace=100_000,
         setup=_bitmaps),
    Case("flip-bit-125k", ("BITFIELD", "bm", "INCRBY", "u1", "500000", "1"), 50_000),
    Case("bitcount-125k", ("BITCOUNT", "bm"), 50_000),
    Case("bitcount-16mb", ("BITCOUNT", "big16"), 300, clients=1),
    Case("bitcount-16mb-range", ("BITCOUNT", "big16", "1000", "-1000", "BIT"), 300, clients=1),
    Case("bitop-and-16mb", ("BITOP", "AND", "dst16", "big16", "big16b"), 100, clients=1),
    Case("bitfield", ("BITFIELD", "bf", "INCRBY", "u8", "#100", "1", "GET", "i16", "#3"), 100_000),
    Case("pfadd", ("PFADD", "hll", "__rand_int__"), 100_000, keyspace=100_000_000, setup=_hll),
    Case("pfcount-cached", ("PFCOUNT", "hll"), 100_000),
    Case("pfcount-union", ("PFCOUNT", "hll", "hll2"), 20_000),
    Case("geoadd", ("GEOADD", "geo2", "13.__rand_int__", "38.__rand_int__", "__rand_int__"), 100_000,
         keyspace=1_000_000, setup=_geo),
    Case("geosearch-20km", ("GEOSEARCH", "geo", "FROMLONLAT", "14", "37.5", "BYRADIUS", "20", "km",
                            "ASC", "COUNT", "10"), 20_000),
    Case("georadius-withdist", ("GEORADIUS", "geo", "14", "37.5", "10", "km", "WITHDIST"), 20_000),
    Case("sort-1000", ("SORT", "l1000"), 5000, setup=_sort),
    Case("sort-1000-by-limit", ("SORT", "l1000", "BY", "w_*", "LIMIT", "0", "10"), 5000),
)


def _measure(ctx: Context, rep: int, case: Case, server: ServerProcess) -> None:
    name = server.kind.name
    where = f"datatypes rep {rep + 1}/{ctx.reps} {name:<8} {case.key}"
    requests = ctx.requests_override or case.requests
    snap = server.cpu_snapshot()
    cpu0 = _children_cpu()
    code, out, err, wall = _invoke(ctx.benchmark_binary, server.port, case.args(requests),
                                   timeout=requests / 50 + 120)
    client_cpu = _children_cpu() - cpu0
    cpu = server.cpu_since(snap) if server.alive() else float("nan")
    rows = parse_csv(out)
    if code != 0 or not rows or "error" in out.lower():
        ctx.results.errors.append(f"{where}: {_error_line(err or out)}")
        ctx.progress.step(f"{where}: FAILED")
        return
    metrics = dict(next(iter(rows.values())))
    if cpu == cpu:
        metrics["cpu_us_per_req"] = cpu / requests * 1e6
    if wall:
        metrics["client_cpu_util"] = client_cpu / wall
    ctx.results.add(Sample("datatypes", MODE, case.key, " ".join(case.command[:2]), name, rep, metrics))
    ctx.progress.step(f"{where}: {human_rate(metrics['rps'])} req/s, "
                      f"{metrics.get('cpu_us_per_req', float('nan')):.1f} µs CPU/req")


def run(ctx: Context) -> None:
    for case in CASES:
        requests = ctx.requests_override or case.requests
        ctx.results.add_command(f"datatypes/{MODE}",
                                f"redis-benchmark -h 127.0.0.1 -p PORT {' '.join(case.args(requests))}")
    for rep in range(ctx.reps):
        order = ctx.order(rep)
        servers: dict[str, ServerProcess] = {}
        try:
            for kind in order:
                servers[kind.name] = start_server(kind, MODE, ctx.log_dir, tmp_base=ctx.tmp_base,
                                                  ready_timeout=ctx.ready_timeout)
            for case in CASES:
                if case.setup is not None:
                    for server in servers.values():
                        client = redis.Redis(port=server.port, socket_timeout=120)
                        try:
                            case.setup(client)
                        finally:
                            client.close()
                for kind in order:
                    _measure(ctx, rep, case, servers[kind.name])
        finally:
            for server in servers.values():
                server.stop()


register(Suite(
    "datatypes",
    "Bitmaps, HyperLogLog, geo and SORT (custom redis-benchmark commands)",
    "SETBIT on random keys, a bit flipped in a 125 KB bitmap, BITCOUNT of it, BITFIELD, BITCOUNT and BITOP AND on 16 MB values (one "
    "client), PFADD of random elements to a dense HyperLogLog, PFCOUNT cached and of a union, "
    "GEOADD, GEOSEARCH / GEORADIUS over 10 000 points, SORT of a 1000-element list (numeric, and BY "
    "weight keys with LIMIT). 50 clients unless noted, `-P 1`, everysec.",
    frozenset({"full"}),
    run,
    lambda ctx: len(CASES) * ctx.reps * len(ctx.kinds),
    order=45,
))
