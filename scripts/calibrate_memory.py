"""Measure the memory model's error: modelled dataset vs tracemalloc vs the process's RSS.

Each scenario loads keys through the real request path (a Server and a Client
with a stub transport, persistence off) and compares:

* ``model``: what the keyspace accounts (``dataset`` plus the tables in
  ``Database.overhead``), the figure ``used_memory`` is built from;
* ``traced``: what tracemalloc saw allocated for the same load (bytes
  *requested* from Python's allocators: no size-class rounding);
* ``anon``: growth of the process's anonymous RSS (what the allocators really
  took from the kernel: rounding, arena slack and all), measured in a fresh
  process per scenario without tracemalloc.

    .venv/bin/python scripts/calibrate_memory.py            # every scenario, 100k keys each
    .venv/bin/python scripts/calibrate_memory.py --keys 20000 --only strings-100

The table printed is the one in docs/memory.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.request_micro import _resp, make_server  # noqa: E402

Commands = Callable[[int], Iterator[list[bytes]]]


def _strings(size: int) -> Commands:
    def gen(n: int) -> Iterator[list[bytes]]:
        for i in range(n):
            yield [b"SET", b"key:%010d" % i, b"v" * size]
    return gen


def _with_ttl(n: int) -> Iterator[list[bytes]]:
    for i in range(n):
        yield [b"SET", b"key:%010d" % i, b"v" * 20, b"EX", b"100000"]


def _containers(cmd: bytes, per_key: int, element: Callable[[int], list[bytes]]) -> Commands:
    def gen(n: int) -> Iterator[list[bytes]]:
        for i in range(max(1, n // per_key)):
            args: list[bytes] = []
            for j in range(per_key):
                args += element(j)
            yield [cmd, b"c:%08d" % i, *args]
    return gen


SCENARIOS: dict[str, Commands] = {
    "strings-10": _strings(10),
    "strings-100": _strings(100),
    "strings-1000": _strings(1000),
    "strings-ttl": _with_ttl,
    "hash-small": _containers(b"HSET", 10, lambda j: [b"field%d" % j, b"value%d" % j]),
    "hash-big": _containers(b"HSET", 1000, lambda j: [b"field:%06d" % j, b"value:%06d" % j]),
    "set-big": _containers(b"SADD", 1000, lambda j: [b"member:%06d" % j]),
    "list-big": _containers(b"RPUSH", 1000, lambda j: [b"element:%06d" % j]),
    "zset-big": _containers(b"ZADD", 1000, lambda j: [b"%d" % j, b"member:%06d" % j]),
}


def _load(name: str, keys: int) -> tuple[object, int]:
    server, client = make_server([("appendonly", "no")])
    batch: list[bytes] = []
    for argv in SCENARIOS[name](keys):
        batch.append(_resp(*argv))
        if len(batch) == 64:
            client.data_received(b"".join(batch))
            server.flush_pass()
            batch = []
    if batch:
        client.data_received(b"".join(batch))
        server.flush_pass()
    client.data_received(_resp(b"PING"))  # drops what the reader kept of the last batch
    server.flush_pass()
    ks = server.keyspace
    ks.settle()
    model = ks.dataset_bytes() + sum(sum(db.overhead()) for db in ks.dbs)
    heap = ks.expiry_heap
    if heap:
        model += sys.getsizeof(heap) + 72 * len(heap)
    return server, model


def measure_traced(name: str, keys: int) -> tuple[int, int]:
    """(model, tracemalloc bytes) of ``keys`` more elements: loads of ``keys`` and of twice
    as many are measured and subtracted, so fixed costs (the first use of caches, the
    request path's buffers) cancel out."""
    _traced_load(name, min(keys, 500))  # warm-up: first uses of caches and code paths
    model_1, traced_1 = _traced_load(name, keys)
    model_2, traced_2 = _traced_load(name, 2 * keys)
    return model_2 - model_1, traced_2 - traced_1


def _traced_load(name: str, keys: int) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    server, model = _load(name, keys)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del server
    return model, traced


def measure_anon(name: str, keys: int) -> int:
    """RssAnon growth for one scenario, in a fresh process (no tracemalloc)."""
    code = ("import json,sys,gc;sys.path.insert(0,%r);from scripts.calibrate_memory import _load;"
            "from sentrykv_server.memory import anon_rss_bytes;"
            "w,_=_load(%r,%d);gc.collect();"
            "a=anon_rss_bytes();srv,m=_load(%r,%d);gc.collect();print(json.dumps(anon_rss_bytes()-a))"
            % (str(Path(__file__).resolve().parents[1]), name, min(keys, 2000), name, keys))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    return int(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000, help="keys (or elements) per scenario")
    parser.add_argument("--only", help="one scenario")
    parser.add_argument("--no-rss", action="store_true", help="skip the RSS measurement")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else list(SCENARIOS)
    print(f"| scenario ({args.keys} elements) | model | tracemalloc | model/traced | RssAnon growth | model/RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        model, traced = measure_traced(name, args.keys)
        anon = 0 if args.no_rss else measure_anon(name, args.keys)
        rss_ratio = f"{model / anon:.2f}" if anon > 0 else "-"
        print(f"| {name} | {model:,} | {traced:,} | {model / traced:.3f} | {anon:,} | {rss_ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
