"""Load N distinct keys fast, over the network, identically for both servers.

``redis-benchmark -t set -r N -n N`` draws keys at random, so it does not
produce exactly N keys; restart and memory figures need an exact DBSIZE.
This loader writes pre-encoded pipelines of ``SET key:%012d <16 bytes>``
(16-byte keys, 16-byte values) on one connection, 1000 commands per batch.
"""

from __future__ import annotations

import time

from bench.resp import Connection

KEY_FMT = b"key:%012d"
VALUE = b"v" * 16
BATCH = 1000

_TEMPLATE = b"*3\r\n$3\r\nSET\r\n$16\r\n" + KEY_FMT + b"\r\n$16\r\n" + VALUE + b"\r\n"


class LoadError(RuntimeError):
    pass


def load_keys(port: int, count: int, batch: int = BATCH) -> float:
    """SET ``count`` distinct keys; returns the elapsed seconds. Raises on any error reply."""
    t0 = time.perf_counter()
    with Connection(port, timeout=120.0) as conn:
        for start in range(0, count, batch):
            stop = min(start + batch, count)
            payload = b"".join(_TEMPLATE % i for i in range(start, stop))
            errors = conn.pipeline([payload], stop - start)
            if errors:
                raise LoadError(f"{errors} SETs failed in batch starting at key {start}")
    return time.perf_counter() - t0
