"""Disk trouble on a real server: ENOSPC / EIO on write or fsync, slow fsync.

Faults are injected through SENTRYKV_FAULT_FILE (persistence/fault_injection.py):
the test flips the file while the server runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.procs import ServerProcess


@pytest.fixture
def faulty() -> Iterator[tuple[ServerProcess, str]]:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"])
    fault_file = os.path.join(srv.dir, "fault")
    srv.env = {"SENTRYKV_FAULT_FILE": fault_file}
    srv.start()
    yield srv, fault_file
    srv.stop()
    srv.cleanup()


def set_fault(path: str, order: str) -> None:
    with open(path, "w") as fh:
        fh.write(order)


def info(r: redis.Redis) -> dict[str, object]:
    return r.info("persistence")


def wait_for(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize("order", ["write-enospc", "write-eio", "fsync-eio"])
def test_always_stops_acking_serves_reads_and_recovers(faulty: tuple[ServerProcess, str], order: str) -> None:
    srv, fault_file = faulty
    r = srv.client()
    assert r.set("before", "1")
    set_fault(fault_file, order)

    result: dict[str, object] = {}

    def blocked_write() -> None:
        c = srv.client()
        result["reply"] = c.set("during", "2")

    t = threading.Thread(target=blocked_write, daemon=True)
    t.start()
    t.join(1.0)
    assert t.is_alive(), "a write was acknowledged although the disk failed"
    # Further writes are refused with a MISCONF error; reads of durable data are served.
    with pytest.raises(redis.ResponseError, match="MISCONF"):
        r.set("other", "3")
    assert r.get("before") == b"1"
    assert info(r)["aof_last_write_status"] == "err"
    durable = info(r)["wal_durable_lsn"]
    time.sleep(0.3)
    assert info(r)["wal_durable_lsn"] == durable, "durable LSN advanced while fsync/write fails"

    set_fault(fault_file, "")
    t.join(10)
    assert result.get("reply") is True
    wait_for(lambda: info(r)["aof_last_write_status"] == "ok")
    assert r.set("after", "4")
    srv.kill9()
    srv.start()
    r = srv.client()
    assert r.mget("before", "during", "after") == [b"1", b"2", b"4"]
    assert r.get("other") is None


def test_everysec_rejects_writes_until_a_write_succeeds() -> None:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "everysec"])
    fault_file = os.path.join(srv.dir, "fault")
    srv.env = {"SENTRYKV_FAULT_FILE": fault_file}
    srv.start()
    try:
        r = srv.client()
        r.set("a", "1")
        set_fault(fault_file, "write-enospc")
        waiter = srv.client(socket_timeout=1, retry=Retry(NoBackoff(), 0))  # no silent re-send
        with pytest.raises(redis.TimeoutError):
            waiter.set("b", "2")  # executed, but its frame never reached the kernel: no ack
        with pytest.raises(redis.ResponseError, match="MISCONF Errors writing to the AOF file: No space left on device"):
            r.set("c", "3")
        assert r.get("a") == b"1"
        set_fault(fault_file, "")
        wait_for(lambda: info(r)["aof_last_write_status"] == "ok")
        assert r.set("c", "3")
        srv.kill9()
        srv.start()
        assert srv.client().mget("a", "b", "c") == [b"1", b"2", b"3"]
    finally:
        srv.stop()
        srv.cleanup()


def test_slow_fsync_is_visible_and_shared(faulty: tuple[ServerProcess, str]) -> None:
    srv, fault_file = faulty
    set_fault(fault_file, "fsync-slow 200")
    done = []

    def writer(i: int) -> None:
        c = srv.client()
        for j in range(3):
            c.set(f"k{i}:{j}", "v")
        done.append(i)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(20)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - start
    assert len(done) == 20
    # 60 writes with 200 ms fsyncs would take 12 s one by one; group commit shares them.
    assert elapsed < 6, elapsed
    fields = info(srv.client())
    assert int(fields["wal_fsync_max_us"]) >= 200_000
    assert float(fields["wal_frames_per_fsync_max"]) > 1
