"""Replication between SentryKV and the real redis-server 7.0.15, both ways.

* a redis-server started with ``--replicaof`` a SentryKV master: full sync in
  RDB format (EOF-marked, as Redis's diskless sync), then the stream;
* a SentryKV replica of a redis-server master: the live-migration path
  ("replicate from your Redis, then promote SentryKV"), ending with
  ``REPLICAOF NO ONE``.

Both end with the same dataset on both sides, compared key by key (type,
value, TTL present) and by DEBUG DIGEST (Redis's algorithm on both), and with
equal offsets.
"""

from __future__ import annotations

import redis

from tests.replication.helpers import dataset, info, populate, redis_server, sentrykv, wait_for


def _offsets_equal(replica: redis.Redis, master: redis.Redis) -> bool:
    r, m = info(replica), info(master)
    return r.get("master_link_status") == "up" and r.get("slave_repl_offset") == m["master_repl_offset"]


def _stream_workload(c: redis.Redis) -> None:
    c.set("after", "1")
    c.incr("counter")
    c.rpush("biglist", *range(300))
    c.hset("bighash", mapping={f"f{i}": i for i in range(600)})  # a hashtable, not a listpack
    c.sadd("bigset", *range(600))
    c.zadd("bigzset", {f"m{i}": i for i in range(200)})
    c.expire("after", 5000)
    c.delete("k:s:3", "k:s:4")
    pipe = c.pipeline(transaction=True)
    pipe.set("tx", "1").lpush("txl", "a", "b")
    pipe.execute()
    c7 = redis.Redis(connection_pool=c.connection_pool)
    c7.execute_command("SELECT", 7)
    c7.set("db7", "x")
    c7.execute_command("SELECT", 0)


def test_redis_replica_of_sentrykv_master() -> None:
    master = sentrykv().start()
    replica = redis_server()
    try:
        m = master.client()
        populate(m, 2000)
        populate(m, 100, prefix="other", db=2)
        replica.args += ["--replicaof", "127.0.0.1", str(master.port)]
        replica.start()
        r = replica.client()
        wait_for(lambda: _offsets_equal(r, m), 30, "redis-server to sync")
        assert "Done loading RDB" in replica.log_text()
        _stream_workload(m)
        wait_for(lambda: _offsets_equal(r, m), 30, "redis-server to follow the stream")
        assert dataset(m) == dataset(r)
        assert m.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")
        assert m.execute_command("ROLE")[2] == [[b"127.0.0.1", str(replica.port).encode(),
                                                 str(info(m)["master_repl_offset"]).encode()]]
        # WAIT counts the Redis replica's acknowledgements; WAITAOF does not (Redis 7.0
        # replicas send no FACK), as a Redis 7.2 master would count them.
        m.set("waited", "1")
        assert m.execute_command("WAIT", 1, 5000) == 1
        assert m.execute_command("WAITAOF", 1, 1, 200) == [1, 0]
    finally:
        replica.stop()
        replica.cleanup()
        master.stop()
        master.cleanup()


def test_sentrykv_replica_of_redis_master_then_promote() -> None:
    master = redis_server(["--repl-diskless-sync-delay", "0"]).start()
    replica = sentrykv()
    try:
        m = master.client()
        populate(m, 2000)
        m.pfadd("hll", "a", "b", "c")
        replica.args += ["--replicaof", f"127.0.0.1 {master.port}"]
        replica.start()
        r = replica.client()
        wait_for(lambda: _offsets_equal(r, m), 30, "SentryKV to sync from redis-server")
        _stream_workload(m)
        m.eval("redis.call('set', 'from-script', '1'); redis.call('incr', 'counter'); return 1", 0)
        m.set("short", "1", px=100)
        wait_for(lambda: m.get("short") is None, 5, "the key to expire")
        wait_for(lambda: _offsets_equal(r, m), 30, "SentryKV to follow the stream")
        assert dataset(m) == dataset(r)
        assert m.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")
        # Promotion: the migration's last step.
        assert r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        promoted = info(r)
        assert promoted["role"] == "master" and promoted["master_replid2"] == info(m)["master_replid"]
        assert r.set("written-on-sentrykv", "1")
        # It survives a restart with everything it replicated.
        before = dataset(r)
        replica.kill9()
        replica.args = replica.args[:-2]  # no --replicaof any more: it is the master now
        replica.start()
        assert dataset(replica.client()) == before
        assert replica.client().pfcount("hll") == 3
    finally:
        replica.stop()
        replica.cleanup()
        master.stop()
        master.cleanup()


def test_redis_cli_rdb_snapshot_of_sentrykv(tmp_path: object) -> None:
    """`redis-cli --rdb` (SYNC, a length-prefixed payload) gets a file redis-check-rdb accepts."""
    import shutil
    import subprocess
    from pathlib import Path

    assert shutil.which("redis-cli") and shutil.which("redis-check-rdb"), "redis-tools are needed"
    master = sentrykv(durable=False).start()
    try:
        populate(master.client(), 500)
        path = Path(str(tmp_path)) / "dump.rdb"
        out = subprocess.run(["redis-cli", "-p", str(master.port), "--rdb", str(path)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "Transfer finished with success" in out.stdout + out.stderr
        check = subprocess.run(["redis-check-rdb", str(path)], capture_output=True, text=True, timeout=60)
        assert "RDB looks OK" in check.stdout and f"{master.client().dbsize()} keys read" in check.stdout
    finally:
        master.stop()
        master.cleanup()


LIBRARY = (
    "#!lua name=replib\n"
    "redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)"
)


def _functions(c: redis.Redis) -> None:
    c.function_load(LIBRARY, replace=True)
    c.fcall("bump", 1, "counter", 5)
    c.eval("redis.call('set', 'scripted', ARGV[1]); return 1", 0, "yes")


def _streams(c: redis.Redis) -> None:
    c.xadd("events", {"a": "1"}, id="1-1")
    c.xadd("events", {"b": "2"}, id="2-1")
    c.xgroup_create("events", "workers", id="0")
    c.xreadgroup("workers", "alice", {"events": ">"}, count=2)
    c.xadd("events", {"c": "3"}, id="3-1")
    c.xack("events", "workers", "1-1")
    c.fcall("bump", 1, "counter", 1)


def _libraries(c: redis.Redis) -> list[bytes]:
    return sorted(lib[b"library_name"] if isinstance(lib, dict) else lib[1] for lib in
                  c.execute_command("FUNCTION", "LIST"))


def test_functions_and_streams_replicate_both_ways() -> None:
    """FUNCTION libraries in the full sync and in the stream, stream commands (consumer groups
    included) in the stream: SentryKV -> SentryKV, SentryKV -> redis-server and
    redis-server -> SentryKV.  (Streams *in a full sync*: test_stream_fullsync.py.)"""
    skv = sentrykv().start()
    ref = redis_server(["--repl-diskless-sync-delay", "0"]).start()
    procs = [skv, ref]
    try:
        for master in (skv, ref):
            _functions(master.client())  # before: in the full sync
        skv_replica = sentrykv()
        skv_replica.args += ["--replicaof", f"127.0.0.1 {skv.port}"]
        redis_replica = redis_server(["--replicaof", "127.0.0.1", str(skv.port)])
        from_redis = sentrykv()
        from_redis.args += ["--replicaof", f"127.0.0.1 {ref.port}"]
        pairs = [(skv, skv_replica), (skv, redis_replica), (ref, from_redis)]
        for _master, replica in pairs:
            procs.append(replica.start())
        for master, replica in pairs:
            m, r = master.client(), replica.client()
            wait_for(lambda m=m, r=r: _offsets_equal(r, m), 30, "the replica to sync")
            assert _libraries(r) == [b"replib"]
        for master in (skv, ref):  # after: in the stream
            _streams(master.client())
        for master, replica in pairs:
            m, r = master.client(), replica.client()
            wait_for(lambda m=m, r=r: _offsets_equal(r, m), 30, "the replica to follow")
            assert dataset(m) == dataset(r)
            assert int(r.get("counter")) == 6 and r.get("scripted") == b"yes"
    finally:
        for proc in reversed(procs):
            proc.stop()
            proc.cleanup()
