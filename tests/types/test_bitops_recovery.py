"""Bitmaps, HyperLogLogs, geo sets and SORT results survive kill -9 and checkpoints.

Bitmaps and HyperLogLogs are strings and geo sets are sorted sets, so the
snapshot format needs nothing new; this checks it end to end on a real process
with ``appendfsync always``: after SIGKILL, the WAL (alone, or after a SAVE, or
with a background checkpoint running while the workload mutates values) must
rebuild every key byte for byte, with the same encodings and DEBUG DIGEST.
"""

from __future__ import annotations

import random

import pytest
import redis

from tests.support.procs import ServerProcess
from tests.types.test_recovery import crash_and_compare


def _workload(c: redis.Redis, rng: random.Random, rounds: int) -> None:
    for i in range(rounds):
        c.setbit("bits", rng.randrange(5000), rng.randrange(2))
        c.execute_command("BITFIELD", "bf", "OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"]),
                          "INCRBY", "i12", f"#{rng.randrange(50)}", rng.randrange(-3000, 3000))
        c.bitop("XOR", "xored", "bits", "bf")
        c.pfadd("hll", *[f"e{rng.randrange(100000)}" for _ in range(rng.randrange(1, 30))])
        c.pfadd(f"small{i % 3}", f"s{rng.randrange(50)}")
        c.pfcount("hll")
        if i % 5 == 0:
            c.pfmerge("merged", "hll", "small0", "small1")
        c.geoadd("geo", (rng.uniform(12, 16), rng.uniform(36, 39), f"p{rng.randrange(300)}"))
        c.execute_command("GEOSEARCHSTORE", "near", "geo", "FROMLONLAT", 14, 37.5, "BYRADIUS", 150, "km",
                          "COUNT", 20, "STOREDIST")
        c.rpush("nums", rng.randrange(1000))
        c.sort("nums", desc=True, start=0, num=10, store="top")
        c.sort("geo", by="nosort", store="geolist")
        if i % 11 == 0:
            c.expire("merged", 10000)
            c.execute_command("CONFIG", "SET", "hll-sparse-max-bytes", rng.choice(["200", "3000"]))


@pytest.mark.parametrize("checkpoint", ["none", "save", "background"])
def test_bitops_types_survive_kill9(checkpoint: str) -> None:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always",
                              "--zset-max-listpack-entries", "16"]).start()
    try:
        crash_and_compare(srv, _workload, checkpoint, rounds=40, require_preserved=False)
        assert srv.client().get("hll")[:4] == b"HYLL"  # type: ignore[index]
    finally:
        srv.stop()
        srv.cleanup()
