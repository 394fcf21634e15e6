"""Where SentryKV's bytes per key go, structure by structure (in-process, no server).

Why: the side-by-side figures of :mod:`bench.memory_per_key` say how much, not
where.  This builds a real :class:`~sentrykv_server.store.keyspace.Keyspace`,
stores the same data sets through the same write paths the commands use
(``Database.set``, ``set_expire``, the HSET handler's shared values) and
prints, per key, what each structure costs: the key objects, the value
objects (each distinct object once), the main dict, the access-field dict
(LRU/LFU), the expires dict and its deadline ints, the expiry heap, plus the
tracemalloc total of the whole load to check the parts add up.

    python -m bench.memory_breakdown [--count N]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections.abc import Iterable
from typing import Any

from sentrykv_server.store.hashes import Hash
from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.store.memory import alloc
from sentrykv_server.store.shared import share

getsizeof = sys.getsizeof


def _objects(items: Iterable[Any]) -> int:
    """Allocated bytes of distinct objects (a shared object counts once)."""
    seen: set[int] = set()
    total = 0
    for obj in items:
        if id(obj) not in seen:
            seen.add(id(obj))
            total += alloc(getsizeof(obj))
    return total


def _load(ks: Keyspace, dataset: str, count: int) -> None:
    db = ks.dbs[0]
    abc = b"abc"
    if dataset == "hash":
        h = Hash()
        for i in range(count):
            h[b"f:%d" % i] = share(bytes(bytearray(abc)))  # a fresh object per field, as parsed
        db.set(b"h", h)
        return
    deadline = ks.now() + 100_000_000
    for i in range(count):
        key = b"key:%d" % i
        db.set(key, bytes(bytearray(abc)))
        if dataset == "ttl":
            db.set_expire(key, deadline + i // 1000)  # deadlines spread over ms, as a real load


def breakdown(dataset: str, count: int) -> dict[str, float]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ks = Keyspace(1)
    _load(ks, dataset, count)
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    db = ks.dbs[0]
    parts: dict[str, float] = {}
    if dataset == "hash":
        h = db.data[b"h"]
        parts["field objects"] = _objects(h.keys())
        parts["value objects"] = _objects(h.values())
        parts["hash dict"] = alloc(getsizeof(h))
    else:
        parts["key objects"] = _objects(db.data.keys())
        parts["value objects"] = _objects(db.data.values())
        parts["main dict"] = alloc(getsizeof(db.data))
        parts["access-field dict (LRU/LFU)"] = alloc(getsizeof(db.lru))
        if db.expires:
            parts["expires dict"] = alloc(getsizeof(db.expires))
            parts["deadline ints"] = _objects(db.expires.values())
            heap = ks.expiry_heap
            parts["expiry heap (list + tuples)"] = alloc(getsizeof(heap)) + _objects(heap)
    out = {name: size / count for name, size in parts.items()}
    out["sum of parts"] = sum(parts.values()) / count
    out["tracemalloc total"] = traced / count
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory_breakdown", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1_000_000)
    args = p.parse_args(argv)
    for dataset in ("strings", "hash", "ttl"):
        print(f"{dataset} ({args.count}): bytes per key")
        for name, value in breakdown(dataset, args.count).items():
            print(f"  {name:<30} {value:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
