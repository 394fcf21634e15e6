"""SentryKV master -> SentryKV replicas, real processes on loopback.

Full sync (also while the master is being written to), the stream, partial
resynchronisation after a dropped link, after the replica's own kill -9 and
after a master restart, read-only replicas, WAIT / WAITAOF with real
acknowledgements, promotion (replid2), min-replicas-to-write, stale data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from tests.replication.helpers import SentryKV, info, populate, sentrykv, wait_for, wait_synced


def digest(c: redis.Redis) -> bytes:
    return c.execute_command("DEBUG", "DIGEST")  # type: ignore[no-any-return]


def same_data(a: redis.Redis, b: redis.Redis) -> bool:
    return digest(a) == digest(b)


@pytest.fixture(scope="module")
def topology() -> Iterator[tuple[SentryKV, SentryKV, SentryKV]]:
    """A master with data, then two replicas (full sync of that data)."""
    master = sentrykv().start()
    populate(master.client(), 3000)
    populate(master.client(), 200, prefix="db3", db=3)
    r1 = sentrykv().replica_of(master).start()
    r2 = sentrykv().replica_of(master).start()
    yield master, r1, r2
    for proc in (r1, r2, master):
        proc.stop()
        proc.cleanup()


def test_full_sync_then_stream(topology: tuple[SentryKV, SentryKV, SentryKV]) -> None:
    master, r1, r2 = (p.client() for p in topology)
    wait_synced(r1, master)
    wait_synced(r2, master)
    assert same_data(master, r1) and same_data(master, r2)
    assert r1.dbsize() == master.dbsize() > 3000
    # The stream: every family, several databases, transactions, expiry.
    master.set("s", "1")
    master.incr("counter")
    master.rpush("list", "a", "b", "c")
    master.lpop("list")
    master.hset("hash", mapping={"f": "v", "g": "w"})
    master.zadd("zset", {"a": 1, "b": 2})
    master.sadd("set", "x", "y")
    master.expire("s", 1000)
    master.set("gone", "x", px=50)
    pipe = master.pipeline(transaction=True)
    pipe.set("tx1", "1").incrby("tx2", 5).delete("k:s:1")
    pipe.execute()
    db5 = redis.Redis(port=topology[0].port, db=5)
    db5.set("in5", "yes")
    db5.copy("in5", "copied", destination_db=6)
    time.sleep(0.2)
    master.get("gone")  # expired: the master's DEL reaches the replicas
    wait_synced(r1, master)
    wait_synced(r2, master)
    assert same_data(master, r1) and same_data(master, r2)
    assert redis.Redis(port=topology[1].port, db=6).get("copied") == b"yes"
    assert r1.get("gone") is None and r1.ttl("s") > 0


def test_info_role_and_clients(topology: tuple[SentryKV, SentryKV, SentryKV]) -> None:
    mproc, p1, _p2 = topology
    master, r1 = mproc.client(), p1.client()
    wait_synced(r1, master)
    m = info(master)
    assert m["role"] == "master" and m["connected_slaves"] == 2
    assert m["slave0"]["state"] == "online" and m["slave0"]["ip"] == "127.0.0.1"
    assert {m["slave0"]["port"], m["slave1"]["port"]} == {topology[1].port, topology[2].port}
    assert m["repl_backlog_active"] == 1 and m["repl_backlog_size"] == 1048576
    r = info(r1)
    assert r["role"] == "slave" and r["master_port"] == mproc.port and r["master_link_status"] == "up"
    assert r["slave_read_only"] == 1 and r["slave_priority"] == 100 and r["replica_announced"] == 1
    assert r["master_replid"] == m["master_replid"] and r["slave_repl_offset"] == m["master_repl_offset"]
    role = master.execute_command("ROLE")
    assert role[0] == b"master" and role[1] == m["master_repl_offset"] and len(role[2]) == 2
    assert r1.execute_command("ROLE") == [b"slave", b"127.0.0.1", mproc.port, b"connected", r["slave_repl_offset"]]
    assert len(master.client_list(_type="replica")) == 2
    assert all("S" in c["flags"] for c in master.client_list(_type="replica"))
    assert master.config_get("replicaof") == {"replicaof": ""}
    assert r1.config_get("replicaof") == {"replicaof": f"127.0.0.1 {mproc.port}"}


def test_read_only_replica(topology: tuple[SentryKV, SentryKV, SentryKV]) -> None:
    r1 = topology[1].client()
    with pytest.raises(redis.ReadOnlyError, match="You can't write against a read only replica."):
        r1.set("x", "1")
    conn = r1.connection_pool.get_connection("MULTI")
    try:
        conn.send_command("MULTI")
        assert conn.read_response() == b"OK"
        conn.send_command("SET", "x", "1")
        with pytest.raises(redis.ReadOnlyError):
            conn.read_response()
        conn.send_command("EXEC")
        with pytest.raises(redis.exceptions.ExecAbortError):
            conn.read_response()
    finally:
        r1.connection_pool.release(conn)
    assert r1.get("counter") is not None  # reads are served
    assert r1.execute_command("REPLICAOF", "127.0.0.1", topology[0].port) == b"OK Already connected to specified master"
    with pytest.raises(redis.ResponseError, match="Invalid master port"):
        r1.execute_command("REPLICAOF", "127.0.0.1", "99999")
    with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica instances"):
        r1.execute_command("WAIT", 1, 0)


def test_wait_and_waitaof_count_real_acks(topology: tuple[SentryKV, SentryKV, SentryKV]) -> None:
    master = topology[0].client()
    master.set("w", "1")
    assert master.execute_command("WAIT", 2, 5000) == 2
    master.set("w", "2")
    assert master.execute_command("WAITAOF", 1, 2, 5000) == [1, 2]
    assert master.execute_command("WAITAOF", 0, 0, 0)[1] == 2


def test_partial_resync_after_link_drop(topology: tuple[SentryKV, SentryKV, SentryKV]) -> None:
    master, r1 = topology[0].client(), topology[1].client()
    wait_synced(r1, master)
    wait_synced(topology[2].client(), master)
    before = master.info("stats")
    killed = master.execute_command("CLIENT", "KILL", "TYPE", "replica")
    assert killed == 2
    for i in range(100):
        master.set(f"during-drop:{i}", i)
    wait_synced(r1, master)
    wait_synced(topology[2].client(), master)
    after = master.info("stats")
    assert after["sync_partial_ok"] == before["sync_partial_ok"] + 2
    assert after["sync_full"] == before["sync_full"]
    assert same_data(master, r1)


def test_min_replicas_to_write(topology: tuple[SentryKV, SentryKV, SentryKV]) -> None:
    master = topology[0].client()
    master.config_set("min-replicas-to-write", 3)
    try:
        with pytest.raises(redis.ResponseError, match="NOREPLICAS Not enough good replicas to write."):
            master.set("x", "1")
        assert info(master)["min_slaves_good_slaves"] == 2
        assert master.get("counter") is not None
    finally:
        master.config_set("min-replicas-to-write", 0)
    assert master.set("x", "1")


def test_full_sync_while_writing() -> None:
    """The RDB is a point in time: writes during the transfer follow it, none is lost."""
    master = sentrykv().start()
    replica = sentrykv()
    try:
        m = master.client()
        populate(m, 20000)
        stop = threading.Event()
        written = [0]

        def writer() -> None:
            c = master.client()
            i = 0
            while not stop.is_set():
                c.pipeline(transaction=False).incr("hot").set(f"k:s:{i % 20000}", f"new{i}").hset(
                    f"k:h:{(i * 5) % 20000}", "w", i).execute()
                i += 1
            written[0] = i

        t = threading.Thread(target=writer)
        t.start()
        try:
            replica.replica_of(master).start()
            r = replica.client()
            wait_for(lambda: info(r)["master_link_status"] == "up", 60, "the link")
            time.sleep(0.3)
        finally:
            stop.set()
            t.join()
        wait_synced(r, m, 60)
        assert written[0] > 0
        assert same_data(m, r)
        assert int(r.get("hot")) == written[0]
    finally:
        replica.stop()
        replica.cleanup()
        master.stop()
        master.cleanup()


def test_replica_kill9_and_master_restart_continue() -> None:
    """psync2: the replica's position survives its kill -9; a restarted master continues too."""
    master = sentrykv().start()
    replica = sentrykv().replica_of(master)
    try:
        m = master.client()
        populate(m, 500)
        replica.start()
        r = replica.client()
        wait_synced(r, m)
        # A checkpoint on the replica retires the WAL segments holding the position: the
        # new segment starts with it again.
        m.set("before-checkpoint", "1")
        wait_synced(r, m)
        r.execute_command("SAVE")
        replica.kill9()
        for i in range(200):
            m.set(f"while-down:{i}", i)
        assert m.execute_command("WAIT", 1, 300) == 0  # nobody to acknowledge: the timeout
        assert m.execute_command("WAITAOF", 1, 1, 300) == [1, 0]
        replica.start()
        r = replica.client()
        wait_synced(r, m)
        stats = m.info("stats")
        assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 1
        assert same_data(m, r)
        assert "Successful partial resynchronization" in replica.log_text()

        m.execute_command("SAVE")  # the master's position also survives its checkpoints
        old_id = info(m)["master_replid"]
        offset = info(m)["master_repl_offset"]
        master.restart()
        m = master.client()
        wait_synced(r, m)
        mi = info(m)
        # (the shutdown's REPLCONF GETACK is part of the old history too)
        assert mi["master_replid2"] == old_id and mi["second_repl_offset"] >= offset + 1
        assert m.info("stats")["sync_partial_ok"] == 1 and m.info("stats")["sync_full"] == 0
        m.set("after-restart", "1")
        wait_synced(r, m)
        assert r.get("after-restart") == b"1" and same_data(m, r)
    finally:
        replica.stop()
        replica.cleanup()
        master.stop()
        master.cleanup()


def test_promotion_keeps_history_and_stale_data() -> None:
    """REPLICAOF NO ONE: replid2/second_repl_offset let the other replica continue; a replica
    with replica-serve-stale-data no refuses reads while its master is gone."""
    master = sentrykv().start()
    r1 = sentrykv().replica_of(master).start()
    r2 = sentrykv(["--replica-serve-stale-data", "no"]).replica_of(master).start()
    try:
        m = master.client()
        populate(m, 300)
        c1, c2 = r1.client(), r2.client()
        wait_synced(c1, m)
        wait_synced(c2, m)
        master.stop()
        wait_for(lambda: info(c2)["master_link_status"] == "down", 10, "the link to go down")
        old = info(c1)
        with pytest.raises(redis.ResponseError, match="Link with MASTER is down and replica-serve-stale-data is set to 'no'"):
            c2.get("k:s:1")
        assert info(c2)["master_link_down_since_seconds"] >= 0
        assert c1.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        new = info(c1)
        assert new["role"] == "master"
        assert new["master_replid2"] == old["master_replid"]
        assert new["second_repl_offset"] == old["slave_repl_offset"] + 1
        c1.set("on-new-master", "1")
        assert c2.execute_command("REPLICAOF", "127.0.0.1", r1.port) == b"OK"
        wait_synced(c2, c1)
        assert c1.info("stats")["sync_partial_ok"] == 1 and c1.info("stats")["sync_full"] == 0
        assert c2.get("on-new-master") == b"1" and same_data(c1, c2)
    finally:
        for proc in (r2, r1, master):
            proc.stop()
            proc.cleanup()


def test_failover_command_switches_roles() -> None:
    """FAILOVER: writes pause, the replica catches up and takes over, the master follows it."""
    master = sentrykv().start()
    replica = sentrykv().replica_of(master).start()
    try:
        m, r = master.client(), replica.client()
        populate(m, 300)
        wait_synced(r, m)
        with pytest.raises(redis.ResponseError, match="FAILOVER target HOST and PORT is not a replica."):
            m.execute_command("FAILOVER", "TO", "127.0.0.1", 1)
        with pytest.raises(redis.ResponseError, match="FAILOVER with force option requires both a timeout"):
            m.execute_command("FAILOVER", "FORCE")
        with pytest.raises(redis.ResponseError, match="FAILOVER timeout must be greater than 0"):
            m.execute_command("FAILOVER", "TIMEOUT", 0)
        with pytest.raises(redis.ResponseError, match="No failover in progress."):
            m.execute_command("FAILOVER", "ABORT")
        with pytest.raises(redis.ResponseError, match="FAILOVER is not valid when server is a replica."):
            r.execute_command("FAILOVER")
        assert m.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port, "TIMEOUT", 5000) == b"OK"
        wait_for(lambda: info(m)["role"] == "slave" and info(r)["role"] == "master", 10, "the roles to swap")
        assert info(r)["master_failover_state"] == "no-failover"
        with pytest.raises(redis.ReadOnlyError):
            m.set("on-old-master", "1")
        r.set("on-new-master", "1")
        wait_synced(m, r)
        assert m.get("on-new-master") == b"1" and same_data(m, r)
        assert r.info("stats")["sync_full"] == 0  # the old master continued, no full copy
    finally:
        replica.stop()
        replica.cleanup()
        master.stop()
        master.cleanup()


@pytest.mark.parametrize("step", ["write", "renamed"])
def test_replica_killed_while_loading_a_full_sync(step: str) -> None:
    """kill -9 (exit 137) in the middle of writing the full sync's snapshot, then restart: the
    replica comes back with the old data (before the rename) or the new data without a
    position (after it), syncs in full again, and ends equal to the master."""
    master = sentrykv().start()
    replica = sentrykv().replica_of(master)
    replica.env = {"SENTRYKV_CRASH_AT": step}
    try:
        m = master.client()
        populate(m, 3000)
        replica.start(wait=False)  # it may be killed before a PING gets through
        assert replica.proc is not None
        assert replica.proc.wait(60) == 137
        replica.stop()  # (already gone: closes its log)
        replica.env = None
        replica.start()
        r = replica.client()
        wait_synced(r, m)
        assert same_data(m, r)
        assert m.info("stats")["sync_full"] == 2
        m.set("after", "1")
        wait_synced(r, m)
        assert r.get("after") == b"1"
    finally:
        replica.stop()
        replica.cleanup()
        master.stop()
        master.cleanup()


def test_chained_replica_gets_the_same_stream() -> None:
    """master -> r1 -> r2: r1 passes the master's bytes on unchanged (same ID, same offsets)."""
    master = sentrykv().start()
    r1 = sentrykv().replica_of(master).start()
    r2 = sentrykv().replica_of(r1).start()
    try:
        m, c1, c2 = master.client(), r1.client(), r2.client()
        populate(m, 500)
        wait_synced(c1, m)
        m.set("chained", "1")
        m.incr("n")
        wait_synced(c1, m)
        wait_synced(c2, c1)
        assert info(c2)["master_replid"] == info(m)["master_replid"]
        assert info(c2)["slave_repl_offset"] == info(m)["master_repl_offset"]
        assert c2.get("chained") == b"1" and same_data(m, c2)
    finally:
        for proc in (r2, r1, master):
            proc.stop()
            proc.cleanup()


@pytest.mark.parametrize("phase", ["transfer", "loading"])
def test_promoted_during_a_full_sync_then_kill9_keeps_what_it_served(phase: str) -> None:
    """REPLICAOF NO ONE while a full sync is being transferred or loaded abandons it; after a
    kill -9 the server recovers exactly the data it was serving (never the abandoned sync's)."""
    master = sentrykv().start()
    replica = sentrykv()
    try:
        m = master.client()
        populate(m, 30000)
        replica.args += ["--replicaof", f"127.0.0.1 {master.port}"]
        replica.start()
        r = replica.client()
        if phase == "transfer":
            wait_for(lambda: r.execute_command("ROLE")[3] in (b"sync", b"connected"), 30, "the sync to start")
        else:
            wait_for(lambda: "Loading DB in memory" in replica.log_text(), 30, "the load to start")
        assert r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
        r.set("mine", "1")
        served = digest(r)
        replica.kill9()
        replica.args = replica.args[:-2]
        replica.start()
        assert digest(replica.client()) == served
        assert replica.client().get("mine") == b"1"
    finally:
        replica.stop()
        replica.cleanup()
        master.stop()
        master.cleanup()
