"""DUMP / RESTORE of a big stream, SentryKV against redis-server: ``python -m bench.stream_rdb_micro``.

Both servers hold the same stream (``--entries`` entries of 3 small fields, explicit
IDs, one group that has read everything: as many pending entries, 10 consumers).
Repeated ``--rounds`` times, alternating servers: the latency of ``DUMP`` of it and of
``RESTORE`` of the server's own payload, and of Redis's payload on SentryKV; medians
and the SentryKV/Redis ratio are printed.  The stream codec is pure Python running on
the event loop, so these are also the stall a full sync or MIGRATE of such a key causes.
Figures are noisy on a shared machine: only the ratios of one run mean much.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import redis

from bench.servers import ServerProcess, redis_kind, sentrykv_kind, start_server


def _fill(c: redis.Redis, n: int) -> None:
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd("s", {"user": f"u{i % 1000}", "action": "click", "value": i}, id=f"{1_700_000_000_000 + i // 10}-{i % 10}")
        if len(pipe) >= 1000:
            pipe.execute()
    pipe.execute()
    c.xgroup_create("s", "g", id="0")
    for k in range(10):
        c.xreadgroup("g", f"consumer-{k}", {"s": ">"}, count=n // 10 + 1)


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="stream-rdb-bench-"))
    servers: dict[str, ServerProcess] = {}
    try:
        for kind in (redis_kind(), sentrykv_kind()):
            servers[kind.name] = start_server(kind, "none", log_dir)
        clients = {name: redis.Redis(port=srv.port, socket_timeout=300) for name, srv in servers.items()}
        for c in clients.values():
            _fill(c, args.entries)
        redis_payload = clients["redis"].dump("s")
        times: dict[str, list[float]] = {k: [] for k in
                                         ("redis dump", "sentrykv dump", "redis restore", "sentrykv restore",
                                          "sentrykv restore of redis payload")}
        sizes = {}
        for _ in range(args.rounds):
            for name, c in clients.items():
                payload: list[bytes] = []
                times[f"{name} dump"].append(_timed(lambda c=c, p=payload: p.append(c.dump("s"))))
                sizes[name] = len(payload[0])
                times[f"{name} restore"].append(
                    _timed(lambda c=c, p=payload: c.restore("copy", 0, p[0], replace=True)))
            times["sentrykv restore of redis payload"].append(
                _timed(lambda: clients["sentrykv"].restore("copy2", 0, redis_payload, replace=True)))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"stream of {args.entries} entries, {args.entries} pending in one group, 10 consumers; "
              f"payload bytes: redis {sizes['redis']}, sentrykv {sizes['sentrykv']}")
        for k, v in med.items():
            print(f"  {k:38s} {v:9.1f} ms (median of {args.rounds})")
        print(f"  DUMP ratio sentrykv/redis:    {med['sentrykv dump'] / med['redis dump']:.1f}x")
        print(f"  RESTORE ratio sentrykv/redis: {med['sentrykv restore'] / med['redis restore']:.1f}x")
    finally:
        for srv in servers.values():
            srv.stop()


if __name__ == "__main__":
    main()
