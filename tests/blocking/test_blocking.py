"""Blocking pops: several clients on real sockets, SentryKV compared with redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from tests.support.procs import RedisProcess, ServerProcess
from tests.transactions.wire import Wire, wait_for

Ports = tuple[int, int]


@pytest.fixture
def ports(r: redis.Redis, ref: redis.Redis, server: ServerProcess, reference: RedisProcess) -> Ports:
    """Both servers, flushed (through the ``r``/``ref`` fixtures)."""
    return server.port, reference.port


def blocked_count(port: int) -> int:
    return int(redis.Redis(port=port).info("clients")["blocked_clients"])


def on_both(ports: Ports, scenario: Callable[[int], object]) -> object:
    """Run ``scenario(port)`` on SentryKV and on redis-server; the outcomes must match."""
    ours, theirs = scenario(ports[0]), scenario(ports[1])
    assert ours == theirs, f"sentrykv {ours!r} != redis {theirs!r}"
    return ours


def block(port: int, n: int, *cmd: object) -> list[Wire]:
    """``n`` clients send ``cmd`` one after the other, each blocked before the next."""
    clients = []
    before = blocked_count(port)
    for i in range(n):
        w = Wire(port)
        w.send(*cmd)  # type: ignore[arg-type]
        clients.append(w)
        wait_for(lambda i=i: blocked_count(port) == before + i + 1)
    return clients


def replies(clients: list[Wire]) -> list[bytes]:
    out = [w.reply() for w in clients]
    for w in clients:
        w.close()
    return out


def test_fifo_across_three_clients(ports: Ports) -> None:
    def scenario(port: int) -> object:
        waiters = block(port, 3, "BLPOP", "q", "other", "5")
        c = redis.Redis(port=port)
        c.rpush("q", "a", "b", "c", "d")
        got = replies(waiters)
        return got, c.lrange("q", 0, -1), blocked_count(port)

    got = on_both(ports, scenario)
    assert got == ([b"*2\r\n$1\r\nq\r\n$1\r\na\r\n", b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n",
                    b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n"], [b"d"], 0)


def test_one_element_serves_only_the_first_waiter(ports: Ports) -> None:
    def scenario(port: int) -> object:
        waiters = block(port, 3, "BRPOP", "q", "5")
        c = redis.Redis(port=port)
        c.lpush("q", "only")
        first = waiters[0].reply()
        late = [w.pending(0.1) for w in waiters[1:]]
        c.lpush("q", "second")
        second = waiters[1].reply()
        for w in waiters:
            w.close()
        return first, late, second

    on_both(ports, scenario)


def test_timeouts_are_precise_and_null(ports: Ports) -> None:
    def scenario(port: int) -> object:
        out = []
        for cmd in (["BLPOP", "q", "0.15"], ["BRPOPLPUSH", "q", "d", "0.15"], ["BLMOVE", "q", "d", "LEFT", "LEFT", "0.15"],
                    ["BZPOPMIN", "z", "0.15"], ["BLMPOP", "0.15", "1", "q", "LEFT"], ["BZMPOP", "0.15", "1", "z", "MAX"]):
            w = Wire(port)
            started = time.monotonic()
            reply = w.call(*cmd)
            elapsed = time.monotonic() - started
            out.append(reply)
            assert 0.14 <= elapsed < 0.3, (port, cmd, elapsed)  # not rounded up to the 100 ms cron
            w.call("HELLO", "3")
            out.append(w.call(*cmd))
            w.close()
        return out

    assert on_both(ports, scenario) == [b"*-1\r\n", b"_\r\n"] * 6


TIMEOUT_CASES = ["-0.0001", "-0.001", "-0.0011", "-1", "inf", "-inf", "1e16", "nan", "0x1p-3", " 1", "1 ",
                 "", "1e-400", "0.0005", "abc", "1e5000", "1e-5000", ".1", "+0.1", "9223372036854776"]


def test_timeout_parsing_matches_redis(ports: Ports) -> None:
    """strtold + long double arithmetic + ceil: odd values block, time out or fail exactly alike."""

    def scenario(port: int) -> object:
        conns = []
        for raw in TIMEOUT_CASES:
            w = Wire(port)
            w.send("BLPOP", "nothing", raw)
            conns.append(w)
        time.sleep(0.4)  # long enough for the 0.0005 / 0x1p-3 / 1e-400 cases to time out
        out = [w.reply() if w.pending(0.0) else "still blocked" for w in conns]
        for w in conns:
            w.close()
        return out

    result = on_both(ports, scenario)
    assert isinstance(result, list)
    assert result[TIMEOUT_CASES.index("-0.001")] == "still blocked"  # ceil(-0.99999999999999999995 ms)
    assert result[TIMEOUT_CASES.index("-0.0011")] == b"-ERR timeout is negative\r\n"


ARG_ERRORS = [
    ["BLMPOP", "0", "0", "l", "LEFT"], ["BLMPOP", "0", "a", "l", "LEFT"], ["BLMPOP", "0", "2", "l", "LEFT"],
    ["BLMPOP", "0", "1", "l", "MID"], ["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0"],
    ["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2"], ["BLMPOP", "x", "1", "l", "LEFT"],
    ["BLMPOP", "x", "0", "l", "LEFT"], ["BZMPOP", "0", "1", "z", "LEFT"], ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "-1"],
    ["BLMOVE", "l", "m", "UP", "LEFT", "0"], ["BLMOVE", "l", "m", "LEFT", "LEFT", "x"], ["BZPOPMIN", "z", "-1"],
    ["BLPOP", "l"], ["BLMOVE", "l", "m", "LEFT", "0"], ["BRPOPLPUSH", "a", "b"], ["BZMPOP", "0", "1", "z"],
]


def test_argument_errors_match_redis(ports: Ports) -> None:
    def scenario(port: int) -> object:
        w = Wire(port)
        out = [w.call(*cmd) for cmd in ARG_ERRORS]
        w.close()
        return out

    on_both(ports, scenario)


def test_wrong_type_and_immediate_pops_match_redis(ports: Ports) -> None:
    script = [
        ["SET", "s", "1"], ["RPUSH", "l", "a", "b", "c"], ["ZADD", "z", "1", "x", "2.5", "y", "3", "w"],
        ["BLPOP", "s", "l", "0"], ["BLPOP", "l", "s", "0"], ["BLPOP", "none", "s", "0"],
        ["BLMOVE", "l", "s", "LEFT", "LEFT", "0"], ["BLMOVE", "s", "l", "LEFT", "LEFT", "0"],
        ["BZPOPMIN", "s", "0"], ["BZPOPMAX", "none", "z", "0"], ["BZPOPMIN", "z", "0"],
        ["BZMPOP", "0", "2", "none", "z", "MIN", "COUNT", "9"], ["BLMPOP", "0", "2", "none", "l", "RIGHT", "COUNT", "9"],
        ["EXISTS", "l", "z"],
    ]

    def scenario(port: int) -> object:
        out = []
        for resp3 in (False, True):
            w = Wire(port)
            if resp3:
                w.call("HELLO", "3")
            w.call("FLUSHALL")
            out.append([w.call(*cmd) for cmd in script])
            w.close()
        return out

    on_both(ports, scenario)


@pytest.mark.parametrize("resp3", [False, True])
def test_served_reply_shapes_match_redis(ports: Ports, resp3: bool) -> None:
    cases = [
        (["BLPOP", "k", "5"], ["RPUSH", "k", "v"]),
        (["BRPOP", "x", "k", "5"], ["RPUSH", "k", "v1", "v2"]),
        (["BLMOVE", "k", "dst", "RIGHT", "LEFT", "5"], ["RPUSH", "k", "v1", "v2"]),
        (["BRPOPLPUSH", "k", "dst", "5"], ["RPUSH", "k", "v"]),
        (["BLMPOP", "5", "2", "a", "k", "LEFT", "COUNT", "3"], ["RPUSH", "k", "1", "2"]),
        (["BZPOPMIN", "k", "5"], ["ZADD", "k", "1.5", "m", "2", "n"]),
        (["BZPOPMAX", "k", "5"], ["ZADD", "k", "1.5", "m", "2", "n"]),
        (["BZMPOP", "5", "1", "k", "MAX", "COUNT", "5"], ["ZADD", "k", "1.5", "m", "-2", "n"]),
    ]

    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        out = []
        for wait, push in cases:
            c.flushall()
            w = Wire(port)
            if resp3:
                w.call("HELLO", "3")
            waiter = block_one(port, w, wait)
            c.execute_command(*push)
            out.append((waiter.reply(), c.exists("k"), c.lrange("dst", 0, -1)))
            w.close()
        return out

    on_both(ports, scenario)


def block_one(port: int, w: Wire, cmd: list[str]) -> Wire:
    before = blocked_count(port)
    w.send(*cmd)
    wait_for(lambda: blocked_count(port) == before + 1)
    return w


def test_woken_after_exec_sees_the_whole_transaction(ports: Ports) -> None:
    def scenario(port: int) -> object:
        waiters = block(port, 2, "BLPOP", "q", "5")
        c = redis.Redis(port=port)
        pipe = c.pipeline(transaction=True)
        pipe.lpush("q", "a")
        pipe.lpush("q", "b")
        pipe.lpush("q", "c")
        pipe.lpop("q")  # the waiter must not see the transaction half-done
        pipe.execute()
        return replies(waiters), c.lrange("q", 0, -1)

    got = on_both(ports, scenario)
    assert got == ([b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"], [])


def test_push_then_pop_in_one_pipeline_serves_the_waiter_first(ports: Ports) -> None:
    def scenario(port: int) -> object:
        waiters = block(port, 1, "BLPOP", "q", "5")
        w = Wire(port)
        w.sock.sendall(b"*3\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$1\r\nx\r\n*2\r\n$4\r\nLPOP\r\n$1\r\nq\r\n")
        mine = [w.reply(), w.reply()]
        w.close()
        return replies(waiters), mine

    on_both(ports, scenario)


@pytest.mark.parametrize("how", ["RENAME", "MOVE", "COPY", "SWAPDB", "LMOVE", "ZUNIONSTORE"])
def test_woken_by_keyspace_commands(ports: Ports, how: str) -> None:
    def scenario(port: int) -> object:
        kind = "BZPOPMIN" if how == "ZUNIONSTORE" else "BLPOP"
        waiters = block(port, 1, kind, "target", "5")
        c = redis.Redis(port=port)
        if how == "RENAME":
            c.rpush("tmp", "v")
            c.rename("tmp", "target")
        elif how == "MOVE":
            c.execute_command("SELECT", "1")
            c.rpush("target", "v")
            c.execute_command("MOVE", "target", "0")
        elif how == "COPY":
            c.rpush("src", "v")
            c.execute_command("COPY", "src", "target")
        elif how == "SWAPDB":
            c.execute_command("SELECT", "1")
            c.rpush("target", "v")
            c.execute_command("SWAPDB", "0", "1")
        elif how == "LMOVE":
            c.rpush("src", "v")
            c.execute_command("LMOVE", "src", "target", "LEFT", "LEFT")
        else:
            c.zadd("za", {"m": 1})
            c.execute_command("ZUNIONSTORE", "target", "1", "za")
        return replies(waiters)

    on_both(ports, scenario)


def test_blmove_chain_serves_the_next_waiter(ports: Ports) -> None:
    def scenario(port: int) -> object:
        first = block(port, 1, "BLMOVE", "a", "b", "LEFT", "RIGHT", "5")
        second = block(port, 1, "BLPOP", "b", "5")
        redis.Redis(port=port).rpush("a", "v")
        return replies(first + second), redis.Redis(port=port).exists("a", "b")

    on_both(ports, scenario)


def test_wrong_type_keeps_the_client_blocked(ports: Ports) -> None:
    def scenario(port: int) -> object:
        waiters = block(port, 1, "BLPOP", "k", "0.3")
        c = redis.Redis(port=port)
        c.zadd("k", {"m": 1})  # a sorted set does not serve a list waiter (Redis 7.0)
        still = not waiters[0].pending(0.1)
        return still, replies(waiters), c.zcard("k")

    assert on_both(ports, scenario) == (True, [b"*-1\r\n"], 1)


def test_pipeline_resumes_after_unblock(ports: Ports) -> None:
    def scenario(port: int) -> object:
        w = Wire(port)
        before = blocked_count(port)
        w.sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n5\r\n*2\r\n$4\r\nECHO\r\n$3\r\nnxt\r\n"
                       b"*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n")
        wait_for(lambda: blocked_count(port) == before + 1)
        assert not w.pending(0.05)
        redis.Redis(port=port).rpush("q", "1", "2")
        out = [w.reply(), w.reply(), w.reply()]
        w.sock.sendall(b"BLPOP q 5\r\nECHO inline\r\n")  # inline requests behave the same
        out += [w.reply(), w.reply()]
        w.sock.sendall(b"BLPOP q 5\r\nECHO in")  # blocks, with half a request behind it
        wait_for(lambda: blocked_count(port) == before + 1)
        w.sock.sendall(b"line2\r\nECHO x\r\n")  # must wait too
        assert not w.pending(0.05)
        redis.Redis(port=port).rpush("q", "3")
        out += [w.reply(), w.reply(), w.reply()]
        w.close()
        return out

    on_both(ports, scenario)


def test_client_unblock(ports: Ports) -> None:
    def scenario(port: int) -> object:
        c = redis.Redis(port=port)
        out: list[object] = []
        for how in ("TIMEOUT", "ERROR"):
            w = Wire(port)
            client_id = int(w.call("CLIENT", "ID")[1:-2])
            block_one(port, w, ["BLPOP", "k", "0"])
            out.append((c.execute_command("CLIENT", "UNBLOCK", client_id, how), w.reply(), blocked_count(port)))
            out.append(c.execute_command("CLIENT", "UNBLOCK", client_id, how))
            out.append(w.call("PING"))
            w.close()
        return out

    assert on_both(ports, scenario) == [
        (1, b"*-1\r\n", 0), 0, b"+PONG\r\n",
        (1, b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n", 0), 0, b"+PONG\r\n",
    ]


def test_disconnected_waiter_is_forgotten(ports: Ports) -> None:
    def scenario(port: int) -> object:
        gone = block(port, 2, "BLPOP", "q", "0")
        gone[0].close()
        wait_for(lambda: blocked_count(port) == 1)
        c = redis.Redis(port=port)
        c.rpush("q", "x", "y")
        return replies(gone[1:]), c.lrange("q", 0, -1), blocked_count(port)

    assert on_both(ports, scenario) == ([b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"], [b"y"], 0)


def test_multiple_keys_and_duplicate_keys(ports: Ports) -> None:
    def scenario(port: int) -> object:
        waiters = block(port, 1, "BLPOP", "k1", "k2", "k1", "5")
        c = redis.Redis(port=port)
        c.rpush("k2", "v")
        got = replies(waiters)
        c.rpush("k1", "stays")
        return got, c.lrange("k1", 0, -1), blocked_count(port)

    on_both(ports, scenario)
