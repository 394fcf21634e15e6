"""What a served blocking pop leaves in the write-ahead log, and that it replays."""

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
def durable() -> Iterator[ServerProcess]:
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"])
    srv.start()
    yield srv
    srv.stop()
    srv.cleanup()


def logged_ops(directory: str) -> list[tuple[int, list[bytes]]]:
    return [op for _lsn, payload in iter_frames(directory) for op in decode_ops(payload)]


def test_served_pops_are_logged_as_their_non_blocking_form(durable: ServerProcess) -> None:
    with no_tracebacks(durable):
        c = durable.client()
        c.zadd("zs", {"keep": 9})
        waits = [
            ["BLPOP", "l1", "5"], ["BRPOP", "l2", "5"], ["BLMOVE", "l3", "dst", "RIGHT", "LEFT", "5"],
            ["BRPOPLPUSH", "l4", "dst", "5"], ["BLMPOP", "5", "1", "l5", "RIGHT", "COUNT", "2"],
            ["BZPOPMIN", "zs2", "5"], ["BZPOPMAX", "zs", "5"], ["BZMPOP", "5", "1", "zs3", "MIN", "COUNT", "5"],
        ]
        clients = []
        for cmd in waits:
            w = Wire(durable.port)
            w.send(*cmd)
            clients.append(w)
        # zs holds a member: BZPOPMAX is served at once, inside its own command.
        wait_for(lambda: int(c.info("clients")["blocked_clients"]) == 7)
        pipe = c.pipeline(transaction=True)
        for key in ("l1", "l2", "l3", "l4"):
            pipe.rpush(key, "a", "b")
        pipe.rpush("l5", "x", "y", "z")
        pipe.zadd("zs2", {"m1": 1, "m2": 2})
        pipe.zadd("zs3", {"n1": 1, "n2": 2})
        pipe.execute()
        answers = [w.reply() for w in clients]
        for w in clients:
            w.close()
        assert answers[0] == b"*2\r\n$2\r\nl1\r\n$1\r\na\r\n"
        assert answers[2] == b"$1\r\nb\r\n"
        assert answers[4] == b"*2\r\n$2\r\nl5\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n"
        ops = [argv for _db, argv in logged_ops(durable.dir)]
        for expected in ([b"LPOP", b"l1"], [b"RPOP", b"l2"], [b"LMOVE", b"l3", b"dst", b"RIGHT", b"LEFT"],
                         [b"RPOPLPUSH", b"l4", b"dst"], [b"RPOP", b"l5", b"2"], [b"ZPOPMIN", b"zs2", b"1"],
                         [b"ZPOPMAX", b"zs", b"1"], [b"ZPOPMIN", b"zs3", b"2"]):
            assert expected in ops, expected
        assert not any(op[0].upper().startswith(b"B") for op in ops), ops
        # Served after the transaction that fed them: their ops come after its ops.
        assert ops.index([b"LPOP", b"l1"]) > ops.index([b"ZADD", b"zs3", b"1", b"n1", b"2", b"n2"])
        state = (c.lrange("l1", 0, -1), c.lrange("l3", 0, -1), c.lrange("dst", 0, -1),
                 c.lrange("l5", 0, -1), c.zrange("zs2", 0, -1), c.exists("zs", "zs3"))
        durable.kill9()
        durable.start()
        c = durable.client()
        after = (c.lrange("l1", 0, -1), c.lrange("l3", 0, -1), c.lrange("dst", 0, -1),
                 c.lrange("l5", 0, -1), c.zrange("zs2", 0, -1), c.exists("zs", "zs3"))
        assert after == state == ([b"b"], [b"a"], [b"b", b"b"], [b"x"], [b"m2"], 0)


def test_reply_of_a_served_pop_waits_for_the_log() -> None:
    """The served client's reply leaves only once the pop (and the push it reveals) is durable."""
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"])
    fault_file = os.path.join(srv.dir, "fault")
    srv.env = {"SENTRYKV_FAULT_FILE": fault_file}
    srv.start()
    try:
        c = srv.client()
        w = Wire(srv.port)
        w.send("BLPOP", "q", "10")
        wait_for(lambda: int(c.info("clients")["blocked_clients"]) == 1)
        with open(fault_file, "w") as fh:
            fh.write("fsync-eio")
        pusher = srv.client(socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        with pytest.raises(redis.TimeoutError):
            pusher.rpush("q", "v")
        assert not w.pending(0.5), "a pop was acknowledged before it was durable"
        with open(fault_file, "w") as fh:
            fh.write("")
        assert w.reply() == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n"
        w.close()
        srv.kill9()
        srv.start()
        assert srv.client().exists("q") == 0
    finally:
        srv.stop()
        srv.cleanup()
