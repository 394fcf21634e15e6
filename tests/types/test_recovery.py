"""Containers survive kill -9: WAL replay (and a snapshot plus the WAL after it)
rebuild the same data, encodings and TTLs.

A real SentryKV process with ``appendfsync always`` runs a mixed workload over
all four container types, including the random commands whose effects are
logged concretely (SPOP, ZMPOP...), is killed with SIGKILL, and restarted on
the same directory: DEBUG DIGEST and every key's dump must be unchanged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
import redis

from tests.support.procs import ServerProcess
from tests.types.diff import Side, dump


def _workload(c: redis.Redis, rng: random.Random, rounds: int) -> None:
    for i in range(rounds):
        n = rng.randrange(6)
        c.hset("h", mapping={f"f{rng.randrange(20)}": rng.choice(["1", "x", "2.5"]) for _ in range(3)})
        c.hincrbyfloat("h", "float", 0.1)
        c.hincrby("h", "int", 3)
        c.rpush("l", *[f"e{i}-{k}" for k in range(n + 1)])
        c.lpush("l2", i)
        c.lmove("l", "l2", "LEFT", "RIGHT")
        c.execute_command("LMPOP", "2", "nolist", "l", "RIGHT", "COUNT", "2")
        c.sadd("s", *[rng.randrange(40) for _ in range(n + 1)])
        c.sadd("words", f"w{rng.randrange(60)}", f"v{rng.randrange(60)}")
        c.spop("words")
        c.spop("s", 2)
        c.zadd("z", {f"m{rng.randrange(30)}": rng.choice([1.5, -0.0, 2, float("inf")])})
        c.zincrby("z", 0.1, f"m{rng.randrange(30)}")
        c.execute_command("ZMPOP", "1", "z", "MIN")
        c.zunionstore("zu", {"z": 2, "s": 0.5}, aggregate="MAX")
        c.sinterstore("si", ["s", "s"])
        c.zrangestore("zr", "z", 0, 5)
        if i % 7 == 0:
            c.srandmember("s", 3)
            c.hrandfield("h", 2)
            c.expire("l2", 1000)
            c.ltrim("l2", 0, 40)
            c.zremrangebyscore("z", "-inf", "(1")


def _state(port: int) -> tuple[bytes, list[object]]:
    side = Side("s", port)
    try:
        digest = side.call("DEBUG", "DIGEST")[1]
        keys = sorted(x[1] for x in side.call("KEYS", "*")[1])
        return digest, [dump(side, k) for k in keys]
    finally:
        side.close()


def _wait_checkpoint(c: redis.Redis) -> None:
    deadline = time.monotonic() + 30
    while c.info("persistence").get("checkpoint_in_progress"):
        assert time.monotonic() < deadline, "checkpoint did not finish"
        time.sleep(0.01)


def crash_and_compare(srv: ServerProcess, workload: Callable[[redis.Redis, random.Random, int], None],
                      checkpoint: str, rounds: int = 60, require_preserved: bool = True) -> None:
    """Run ``workload`` (with a SAVE, or a BGSAVE overlapping it, per ``checkpoint``), kill -9
    the server, restart it on the same directory and require the same dataset."""
    c = srv.client()
    rng = random.Random(7)
    if checkpoint == "background":
        # Plain keys first: a checkpoint writes keys in insertion order, so the
        # containers come last and are still unwritten when the next writes arrive.
        filler = c.pipeline(transaction=False)
        for i in range(20000):
            filler.set(f"fill{i}", "x")
        filler.execute()
    workload(c, rng, rounds)
    if checkpoint == "save":
        c.execute_command("SAVE")
        workload(c, rng, rounds // 2)
    elif checkpoint == "background":
        # One pipeline: the writes arrive while the checkpoint is still running.  The
        # overlap is a matter of timing, so retry until some container was preserved.
        for _attempt in range(10):
            pipe = c.pipeline(transaction=False)
            pipe.execute_command("BGSAVE")
            workload(pipe, rng, rounds // 2)  # type: ignore[arg-type]
            pipe.execute()
            _wait_checkpoint(c)
            if not require_preserved or c.info("persistence")["checkpoint_last_preserved"] > 0:
                break
        else:
            raise AssertionError("no write ever overlapped a checkpoint")
        workload(c, rng, 5)
    before = _state(srv.port)
    assert len(before[1]) >= 8
    srv.kill9()
    srv.start()
    after = _state(srv.port)
    assert after == before
    if checkpoint != "none":
        assert srv.client().info("persistence")["recovery_snapshot_entries"] > 0


@pytest.mark.parametrize("checkpoint", ["none", "save", "background"])
def test_containers_survive_kill9(checkpoint: str) -> None:
    """"background": containers keep being mutated in place while the checkpoint
    writes them, so the snapshot must hold their state at the cut (copy on write),
    or the WAL replayed after it would apply those writes twice."""
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always",
                              "--hash-max-listpack-entries", "8", "--zset-max-listpack-entries", "8",
                              "--set-max-intset-entries", "8"]).start()
    try:
        crash_and_compare(srv, _workload, checkpoint)
    finally:
        srv.stop()
        srv.cleanup()
