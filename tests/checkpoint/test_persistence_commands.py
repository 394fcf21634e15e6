"""SAVE, BGSAVE [SCHEDULE], BGREWRITEAOF, LASTSAVE, INFO persistence and WAITAOF, with
Redis's replies, one checkpoint at a time, and SAVE / WAITAOF blocking only their caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.checkpoint.helpers import info, wait_checkpoints
from tests.checkpoint.workload import load_keys
from tests.support.procs import ServerProcess
from tests.types.rawresp import RawConnection

SLOW = {"SENTRYKV_CHECKPOINT_SLOW_MS": "2"}  # 16 keys per chunk, 2 ms apart: ~0.5 s for 4000 keys
STARTED = ("status", b"Background saving started")
IN_PROGRESS = ("error", b"ERR Background save already in progress")


@pytest.fixture
def slow_server() -> Iterator[ServerProcess]:
    srv = ServerProcess(args=["--appendonly", "yes"], env=SLOW).start()
    load_keys(srv.client(), 3000)
    yield srv
    srv.stop()
    srv.cleanup()


def raw(srv: ServerProcess) -> RawConnection:
    return RawConnection(srv.port, timeout=30)


def test_one_checkpoint_at_a_time_with_redis_replies(slow_server: ServerProcess) -> None:
    c = raw(slow_server)
    r = slow_server.client()
    r.set(b"dirty", b"1")
    assert int(info(r)["rdb_changes_since_last_save"]) > 0
    assert c.call("BGSAVE", "NOW") == ("error", b"ERR syntax error")
    assert c.call("BGSAVE") == STARTED
    fields = info(r)
    assert fields["rdb_bgsave_in_progress"] == 1 and fields["checkpoint_in_progress"] == 1
    assert fields["rdb_current_bgsave_time_sec"] >= 0 and fields["rdb_changes_since_last_save"] == 0
    assert c.call("BGSAVE") == IN_PROGRESS
    assert c.call("BGSAVE", "SCHEDULE") == IN_PROGRESS  # Redis: SCHEDULE only waits for a rewrite
    assert c.call("SAVE") == IN_PROGRESS
    assert c.call("BGREWRITEAOF") == ("status", b"Background append only file rewriting scheduled")
    assert info(r)["aof_rewrite_scheduled"] == 1
    # The scheduled rewrite starts as soon as the save ends.
    deadline = time.monotonic() + 20
    while not info(r)["aof_rewrite_in_progress"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    fields = info(r)
    assert fields["rdb_last_bgsave_status"] == "ok" and fields["rdb_saves"] == 1
    assert fields["aof_rewrite_scheduled"] == 0 and fields["rdb_bgsave_in_progress"] == 0
    assert c.call("BGREWRITEAOF") == ("error", b"ERR Background append only file rewriting already in progress")
    assert c.call("BGSAVE") == (
        "error",
        b"ERR Another child process is active (AOF?): can't BGSAVE right now. "
        b"Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
    )
    assert c.call("BGSAVE", "SCHEDULE") == ("status", b"Background saving scheduled")
    fields = wait_checkpoints(r, 3)
    assert fields["aof_rewrites"] == 1 and fields["aof_last_bgrewrite_status"] == "ok"
    assert fields["rdb_saves"] == 2 and fields["checkpoints_total"] == 3 and fields["checkpoint_failures"] == 0
    assert fields["checkpoint_last_keys"] >= 3800 and fields["checkpoint_last_bytes"] > 0
    assert float(fields["checkpoint_max_pause_ms"]) > 0
    assert r.lastsave().timestamp() >= time.time() - 30
    c.close()


def test_save_blocks_only_its_client(slow_server: ServerProcess) -> None:
    saver = raw(slow_server)
    other = slow_server.client()
    before = int(info(other)["checkpoints_total"])
    started = time.monotonic()
    saver.send("SAVE")
    saver.send("PING")  # pipelined: must wait until SAVE has replied
    latencies = []
    while int(info(other)["checkpoint_in_progress"]) or int(info(other)["checkpoints_total"]) == before:
        t = time.perf_counter()
        other.set(b"during-save", b"x")
        latencies.append(time.perf_counter() - t)
        assert time.monotonic() - started < 20
    assert saver.read() == ("status", b"OK")
    assert saver.read() == ("status", b"PONG")
    assert len(latencies) > 5 and max(latencies) < 0.5  # the others were served meanwhile
    assert int(info(other)["rdb_changes_since_last_save"]) >= 0
    saver.close()


def test_save_during_a_rewrite_waits_for_a_newer_checkpoint(slow_server: ServerProcess) -> None:
    c = raw(slow_server)
    r = slow_server.client()
    assert c.call("BGREWRITEAOF") == ("status", b"Background append only file rewriting started")
    r.set(b"written-after-the-cut", b"1")
    saver = raw(slow_server)
    assert saver.call("SAVE") == ("status", b"OK")
    fields = info(r)
    assert fields["checkpoints_total"] == 2 and fields["checkpoint_last_reason"] == "SAVE"
    c.close()
    saver.close()


def test_transactions(slow_server: ServerProcess) -> None:
    c = raw(slow_server)
    r = slow_server.client()
    assert c.call("MULTI") == ("status", b"OK")
    c.call("BGSAVE")
    reply = c.call("EXEC")
    assert reply == ("array", [("status", b"Background saving scheduled")])
    wait_checkpoints(r, 1)
    assert c.call("MULTI") == ("status", b"OK")
    queued = c.call("SAVE")
    if queued[0] != "error":  # refused at queue time (no_multi) or inside EXEC: never blocks
        reply = c.call("EXEC")
        assert reply[0] == "error" or reply[1][0][0] == "error"
    else:
        c.call("DISCARD")
    assert c.call("PING") == ("status", b"PONG")
    c.close()


@pytest.fixture
def aof_server() -> Iterator[ServerProcess]:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "no"]).start()
    yield srv
    srv.stop()
    srv.cleanup()


def test_waitaof(aof_server: ServerProcess) -> None:
    c = raw(aof_server)
    errors = {
        ("2", "0", "0"): b"ERR value is out of range, value must between 0 and 1",
        ("1", "-1", "0"): b"ERR value is out of range, must be positive",
        ("1", "0", "-1"): b"ERR timeout is negative",
        ("1", "0", "x"): b"ERR timeout is not an integer or out of range",
        ("x", "0", "0"): b"ERR value is not an integer or out of range",
    }
    for args, message in errors.items():
        assert c.call("WAITAOF", *args) == ("error", message)
    assert c.call("WAITAOF", "1") == ("error", b"ERR wrong number of arguments for 'waitaof' command")
    # appendfsync no: WAITAOF forces the fsync instead of waiting for the kernel.
    for i in range(20):
        assert c.call("SET", "k", str(i)) == ("status", b"OK")
        started = time.monotonic()
        assert c.call("WAITAOF", "1", "0", "0") == ("array", [("int", 1), ("int", 0)])
        assert time.monotonic() - started < 1.0
    r = aof_server.client()
    assert int(r.info("persistence")["wal_durable_lsn"]) >= int(r.info("persistence")["wal_written_lsn"]) - 1
    # No replica will ever acknowledge: wait out the timeout, then report what is true.
    started = time.monotonic()
    c.send("WAITAOF", "1", "1", "150")
    c.send("PING")
    assert c.read() == ("array", [("int", 1), ("int", 0)])
    assert c.read() == ("status", b"PONG")
    assert time.monotonic() - started >= 0.15
    # Blocked forever (timeout 0), then the WAL is switched off: the waiter gets Redis's error.
    waiter = raw(aof_server)
    waiter.send("WAITAOF", "1", "1", "0")
    time.sleep(0.1)
    r.config_set("appendonly", "no")
    assert waiter.read() == ("error", b"ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.")
    assert c.call("WAITAOF", "1", "0", "0") == (
        "error", b"ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.")
    assert c.call("WAITAOF", "0", "0", "0") == ("array", [("int", 0), ("int", 0)])
    waiter.close()
    c.close()


def test_waitaof_under_always_and_in_multi() -> None:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    try:
        c = raw(srv)
        assert c.call("SET", "a", "1") == ("status", b"OK")
        assert c.call("WAITAOF", "1", "0", "0") == ("array", [("int", 1), ("int", 0)])
        assert c.call("MULTI") == ("status", b"OK")
        c.call("SET", "a", "2")
        c.call("WAITAOF", "1", "1", "0")  # cannot block inside EXEC: answers at once
        reply = c.call("EXEC")
        assert reply[0] == "array" and reply[1][0] == ("status", b"OK") and reply[1][1][0] == "array"
        done = threading.Event()

        def blocked_client() -> None:
            w = raw(srv)
            w.call("WAITAOF", "0", "1", "200")
            w.close()
            done.set()

        t = threading.Thread(target=blocked_client)
        t.start()
        assert not done.wait(0.1)
        t.join(5)
        assert done.is_set()
        c.close()
    finally:
        srv.stop()
        srv.cleanup()
