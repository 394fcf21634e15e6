"""Active expiry (Redis's expire.c activeExpireCycle), driven by a heap instead of sampling.

Every TTL set pushes ``(when_ms, db, key)`` onto ``Keyspace.expiry_heap``.  The
cycle pops entries whose time has come and deletes the key when the entry is
still current (the key's TTL was not changed or removed since), so memory of
keys nobody reads again is reclaimed exactly, not probabilistically.  Each
cycle is bounded in time so the loop is never held for long.
"""

from __future__ import annotations

import time
from heapq import heappop

from sentrykv_server.store.keyspace import Keyspace


def active_expire_cycle(keyspace: Keyspace, budget_s: float = 0.005) -> int:
    """Delete expired keys until none are due or the time budget is spent; returns the count."""
    heap = keyspace.expiry_heap
    if not heap or keyspace.loading or not keyspace.active_expire or keyspace.replica:
        return 0
    now = keyspace.now()
    dbs = keyspace.dbs
    deadline = time.perf_counter() + budget_s
    removed = popped = 0
    while heap and heap[0][0] <= now:
        when, index, key = heappop(heap)
        popped += 1
        db = dbs[index]
        if db.expires.get(key) == when:
            db.expire_now(key)
            removed += 1
        if popped & 63 == 0 and time.perf_counter() > deadline:
            break
    live = sum(len(db.expires) for db in dbs)
    if len(heap) > 2 * live + 4096:
        keyspace.rebuild_expiry_heap()
    return removed
