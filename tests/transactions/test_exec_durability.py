"""A transaction is one atomic log frame; EXEC refuses writes while the log cannot be written."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sentrykv_server.persistence.records import decode_ops
from sentrykv_server.persistence.wal_reader import iter_frames
from tests.support.procs import ServerProcess
from tests.transactions.wire import Wire, no_tracebacks, wait_for


@pytest.fixture
def durable(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    policy = getattr(request, "param", "always")
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", policy])
    fault_file = os.path.join(srv.dir, "fault")
    srv.env = {"SENTRYKV_FAULT_FILE": fault_file}
    srv.start()
    yield srv
    srv.stop()
    srv.cleanup()


def frames(directory: str) -> list[list[tuple[int, list[bytes]]]]:
    return [list(decode_ops(payload)) for _lsn, payload in iter_frames(directory)]


def test_exec_is_one_frame_and_survives_kill9(durable: ServerProcess) -> None:
    with no_tracebacks(durable):
        r = durable.client()
        r.set("n", "10")
        pipe = r.pipeline(transaction=True)
        pipe.set("a", "1")
        pipe.rpush("l", "a", "b")
        pipe.execute_command("SELECT", "2")
        pipe.set("in2", "x")
        pipe.lpush("in2", "boom")  # WRONGTYPE inside EXEC: not logged, the rest stays
        pipe.hset("h2", "f", "v")
        pipe.execute(raise_on_error=False)
        expected = [
            (0, [b"SET", b"a", b"1"]),
            (0, [b"RPUSH", b"l", b"a", b"b"]),
            (2, [b"SET", b"in2", b"x"]),
            (2, [b"HSET", b"h2", b"f", b"v"]),
        ]
        containing = [f for f in frames(durable.dir) if expected[0] in f]
        assert len(containing) == 1, "the first op of the transaction is missing or logged twice"
        ops = containing[0]
        start = ops.index(expected[0])
        assert ops[start:start + 4] == expected, "the transaction is not one contiguous part of one frame"
        durable.kill9()
        durable.start()
        r = durable.client()
        assert r.get("a") == b"1" and r.lrange("l", 0, -1) == [b"a", b"b"]
        r.execute_command("SELECT", "2")
        assert r.get("in2") == b"x" and r.hgetall("h2") == {b"f": b"v"}


@pytest.mark.parametrize("durable", ["everysec", "always"], indirect=True)
def test_exec_with_writes_refused_while_the_log_fails(durable: ServerProcess) -> None:
    fault_file = os.path.join(durable.dir, "fault")
    a = durable.client()
    w = Wire(durable.port)
    b = durable.client(socket_timeout=1, retry=Retry(NoBackoff(), 0))
    a.set("t", "0")
    assert w.call("MULTI") == b"+OK\r\n"
    assert w.call("SET", "t", "1") == b"+QUEUED\r\n"
    with open(fault_file, "w") as fh:
        fh.write("write-enospc")
    with pytest.raises(redis.TimeoutError):
        b.set("trigger", "1")  # executed, never acknowledged: the log write fails
    wait_for(lambda: a.info("persistence")["aof_last_write_status"] == "err")
    misconf = b"MISCONF Errors writing to the AOF file: No space left on device"
    assert w.call("EXEC") == b"-EXECABORT Transaction discarded because of: " + misconf + b"\r\n"
    assert w.call("EXEC") == b"-ERR EXEC without MULTI\r\n"
    # A write queued while writes are refused is rejected at once and aborts the EXEC.
    assert w.call("MULTI") == b"+OK\r\n"
    assert w.call("SET", "t", "2") == b"-" + misconf + b"\r\n"
    assert w.call("GET", "t") == b"+QUEUED\r\n"
    if durable.args[-1] == "everysec":
        # (Under always, the dispatcher holds these replies until the disk works again.)
        assert w.call("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        # Read-only transactions still run.
        assert w.call("MULTI") == b"+OK\r\n"
        w.call("GET", "t")
        assert w.call("EXEC") == b"*1\r\n$1\r\n0\r\n"
    w.close()
    with open(fault_file, "w") as fh:
        fh.write("")
    wait_for(lambda: a.info("persistence")["aof_last_write_status"] == "ok", timeout=10)
    a.execute_command("MULTI")
    a.execute_command("SET", "t", "3")
    assert a.execute_command("EXEC") == [b"OK"]
    assert a.get("t") == b"3"
