"""Streams in a full sync: the RDB a master ships carries stream keys (type 19) whole.

A SentryKV master holding streams of every shape (consumer groups, pending entries,
consumers, deleted entries, trims, several nodes, an empty stream with groups) is
joined by a real redis-server 7.0.15 replica and by a SentryKV replica; a SentryKV
replica of a redis-server master holding the same streams loads Redis's own RDB.
Right after the sync everything XINFO STREAM FULL shows (delivery and seen times
included, which the RDB carries) is equal on both sides, and so is DEBUG DIGEST;
then the replication stream keeps them equal.
"""

from __future__ import annotations

import redis

from tests.rdb.dataset import populate_streams, stream_contents
from tests.replication.helpers import dataset, info, redis_server, sentrykv, wait_for

STREAMS = ["stream:small", "stream:nodes", "stream:deleted", "stream:trimmed", "stream:allgone",
           "stream:empty-groups", "stream:groups"]


def _synced(replica: redis.Redis, master: redis.Redis) -> bool:
    r, m = info(replica), info(master)
    return r.get("master_link_status") == "up" and r.get("slave_repl_offset") == m["master_repl_offset"]


def _after_sync(c: redis.Redis) -> None:
    c.xadd("stream:groups", {"late": "1"}, id="8-1")
    c.xreadgroup("workers", "alice", {"stream:groups": ">"}, count=2)
    c.xack("stream:groups", "workers", "7-1")
    c.xtrim("stream:nodes", maxlen=200, approximate=True)
    c.xdel("stream:deleted", "5-3")


def test_stream_keys_in_full_sync_both_ways() -> None:
    skv = sentrykv().start()
    ref = redis_server(["--repl-diskless-sync-delay", "0"]).start()
    procs = [skv, ref]
    try:
        for master in (skv, ref):
            populate_streams(master.client())
            master.client().set("plain", "v")
        redis_replica = redis_server(["--replicaof", "127.0.0.1", str(skv.port)])
        skv_replica = sentrykv()
        skv_replica.args += ["--replicaof", f"127.0.0.1 {skv.port}"]
        from_redis = sentrykv()
        from_redis.args += ["--replicaof", f"127.0.0.1 {ref.port}"]
        pairs = [(skv, redis_replica), (skv, skv_replica), (ref, from_redis)]
        for _master, replica in pairs:
            procs.append(replica.start())
        for master, replica in pairs:
            m, r = master.client(), replica.client()
            wait_for(lambda m=m, r=r: _synced(r, m), 30, "the replica to sync")
            for key in STREAMS:
                assert stream_contents(r, key) == stream_contents(m, key), (replica.port, key)
            assert m.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")
        assert "Done loading RDB" in redis_replica.log_text()
        for master in (skv, ref):
            _after_sync(master.client())
        for master, replica in pairs:
            m, r = master.client(), replica.client()
            wait_for(lambda m=m, r=r: _synced(r, m), 30, "the replica to follow")
            assert dataset(m) == dataset(r)
            assert m.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")
    finally:
        for proc in reversed(procs):
            proc.stop()
            proc.cleanup()
