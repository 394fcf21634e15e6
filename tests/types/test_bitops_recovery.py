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
from tests.types.test_recovery import _state, _wait_checkpoint


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
        c = srv.client()
        rng = random.Random(3)
        if checkpoint == "background":
            filler = c.pipeline(transaction=False)
            for i in range(20000):
                filler.set(f"fill{i}", "x")
            filler.execute()
        _workload(c, rng, 40)
        if checkpoint == "save":
            c.execute_command("SAVE")
            _workload(c, rng, 20)
        elif checkpoint == "background":
            pipe = c.pipeline(transaction=False)
            pipe.execute_command("BGSAVE")
            _workload(pipe, rng, 20)  # type: ignore[arg-type]
            pipe.execute()
            _wait_checkpoint(c)
            _workload(c, rng, 5)
        before = _state(srv.port)
        keys = {k for k, *_ in (d[:1] for d in before[1])}
        assert len(before[1]) >= 10, keys
        srv.kill9()
        srv.start()
        after = _state(srv.port)
        assert after == before
        c = srv.client()
        assert c.get("hll")[:4] == b"HYLL"  # type: ignore[index]
        if checkpoint != "none":
            assert c.info("persistence")["recovery_snapshot_entries"] > 0
    finally:
        srv.stop()
        srv.cleanup()
