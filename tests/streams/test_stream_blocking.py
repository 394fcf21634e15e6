"""XREAD BLOCK / XREADGROUP BLOCK on real sockets, SentryKV compared with redis-server byte for byte."""

from __future__ import annotations

import time

import redis

from tests.blocking.test_blocking import Ports, block, blocked_count, on_both, replies
from tests.transactions.wire import Wire


def _group(c: redis.Redis, key: str = "s", group: str = "g", last: str = "$") -> None:
    c.xgroup_create(key, group, id=last, mkstream=True)


def test_xread_served_by_xadd_in_fifo_order(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        c.xadd("s", {"a": 1}, id="1-1")
        waiters = block(port, 3, "XREAD", "BLOCK", "0", "STREAMS", "s", "other", "$", "$")
        c.xadd("s", {"b": 2}, id="2-1")
        return replies(waiters), blocked_count(port)

    got = on_both(ports, scenario)
    assert got[0][0] == b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"


def test_xreadgroup_waiters_share_new_entries_first_come_first_served(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        _group(c)
        waiters = block(port, 3, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        c.xadd("s", {"a": 1}, id="1-1")
        first = waiters[0].reply()
        still = [w.pending(0.1) for w in waiters[1:]]
        c.xadd("s", {"a": 2}, id="2-1")
        second = waiters[1].reply()
        pending = c.xpending_range("s", "g", "-", "+", 10)
        for w in waiters:
            w.close()
        return first, still, second, [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pending]

    got = on_both(ports, scenario)
    assert got[1] == [False, False]


def test_exec_serves_blocked_readers_once_with_everything(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        _group(c)
        readers = block(port, 1, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        members = block(port, 1, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", ">")
        p = c.pipeline(transaction=True)
        p.xadd("s", {"a": 1}, id="1-1")
        p.xadd("s", {"a": 2}, id="2-1")
        p.execute()
        return replies(readers + members), c.xinfo_groups("s")[0]["last-delivered-id"]

    got = on_both(ports, scenario)
    assert got[1] == b"2-1"


def test_deleted_or_retyped_key_and_destroyed_group_wake_xreadgroup(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        out = []
        for action in (["DEL", "s"], ["SET", "s", "x"], ["XGROUP", "DESTROY", "s", "g"], ["FLUSHALL"],
                       ["UNLINK", "s"], ["RENAME", "s", "t"]):
            c.delete("s", "t")
            _group(c)
            w = block(port, 1, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")[0]
            c.execute_command(*action)
            out.append(w.reply())
            w.close()
        # A stream replaced by another stream holding the group keeps the reader waiting.
        c.delete("s", "t")
        _group(c)
        _group(c, "t")
        w = block(port, 1, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")[0]
        c.rename("t", "s")
        out.append(w.pending(0.15))
        c.xadd("s", {"a": 1}, id="5-5")
        out.append(w.reply())
        w.close()
        return out

    got = on_both(ports, scenario)
    assert got[0] == b"-UNBLOCKED the stream key no longer exists\r\n"
    assert got[2] == b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n"


def test_xread_ignores_deletion_and_waits_for_a_newer_id(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        c.xadd("s", {"a": 1}, id="5-1")
        w = block(port, 1, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")[0]
        c.delete("s")
        c.xadd("s", {"a": 1}, id="1-1")  # older than what the reader waits for
        c.set("x", "y")
        quiet = w.pending(0.15)
        c.xadd("s", {"a": 2}, id="6-1")
        reply = w.reply()
        w.close()
        return quiet, reply

    assert on_both(ports, scenario)[0] is False


def test_xsetid_does_not_wake_readers(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        c.xadd("s", {"a": 1}, id="1-1")
        w = block(port, 1, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")[0]
        c.execute_command("XSETID", "s", "9-9")
        quiet = w.pending(0.15)
        c.xadd("s", {"a": 2}, id="10-1")
        reply = w.reply()
        w.close()
        return quiet, reply

    assert on_both(ports, scenario)[0] is False


def test_timeouts_and_protocols(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        _group(c)
        out = []
        for cmd in (["XREAD", "BLOCK", "120", "STREAMS", "s", "$"],
                    ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "120", "STREAMS", "s", ">"]):
            w = Wire(port)
            started = time.monotonic()
            out.append(w.call(*cmd))
            elapsed = time.monotonic() - started
            assert 0.11 <= elapsed < 0.4, (port, cmd, elapsed)
            w.call("HELLO", "3")
            out.append(w.call(*cmd))
            w.close()
        return out

    assert on_both(ports, scenario) == [b"*-1\r\n", b"_\r\n"] * 2


def test_resp3_map_reply_when_served(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        _group(c)
        w = Wire(port)
        w.call("HELLO", "3")
        w.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        time.sleep(0.1)
        c.xadd("s", {"f": "v"}, id="3-3")
        reply = w.reply()
        w.close()
        return reply

    assert on_both(ports, scenario).startswith(b"%1\r\n$1\r\ns\r\n")


def test_client_unblock_and_errors(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        _group(c)
        out = []
        for how in ("TIMEOUT", "ERROR"):
            w = Wire(port)
            client_id = int(w.call("CLIENT", "ID")[1:-2])
            w.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
            deadline = time.monotonic() + 5
            while blocked_count(port) != 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            out.append((c.execute_command("CLIENT", "UNBLOCK", client_id, how), w.reply(), w.call("PING")))
            w.close()
        w = Wire(port)
        out += [w.call(*cmd) for cmd in (["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"],
                                         ["XREAD", "BLOCK", "1.5", "STREAMS", "s", "$"],
                                         ["XREAD", "BLOCK", "abc", "STREAMS", "s", "$"])]
        w.close()
        return out

    got = on_both(ports, scenario)
    assert got[1][1] == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
