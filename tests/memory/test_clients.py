"""CLIENT PAUSE / UNPAUSE / KILL / LIST / INFO / NO-EVICT and LOLWUT, against redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from tests.core.helpers import Pair, RawConn, call, encode_command, raw_client
from tests.memory.helpers import compare_script, in_parallel
from tests.support.procs import RedisProcess, ServerProcess


def _fields(line: bytes) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.decode().split())


def _names(line: bytes) -> list[str]:
    return [part.split("=", 1)[0] for part in line.decode().split()]


def test_client_list_fields_are_redis_fields(server: ServerProcess, reference: RedisProcess) -> None:
    for port in (server.port, reference.port):
        c = raw_client(port)
        info = call(c, "CLIENT", "INFO")
        listed = call(c, "CLIENT", "LIST")
        c.close()
        if port == server.port:
            mine = (_names(info), _names(listed.splitlines()[0]))
        else:
            theirs = (_names(info), _names(listed.splitlines()[0]))
    assert mine == theirs


def _state_of(port: int, setup: list[list[str]]) -> dict[str, str]:
    """Put one connection in a state, then read its CLIENT LIST line from another one."""
    with RawConn(port) as subject:
        subject.send(encode_command("CLIENT", "ID"))
        cid = subject.read_replies(1)[0]
        for cmd in setup:
            subject.send(encode_command(*cmd))
        subject.read_for(0.2)
        other = raw_client(port)
        try:
            line = call(other, "CLIENT", "LIST", "ID", cid)
        finally:
            other.close()
    return _fields(line)


STATES = {
    "multi": [["MULTI"], ["SET", "a", "bb"], ["GET", "a"], ["HSET", "h", "f", "v"]],
    "subscribed": [["SUBSCRIBE", "c1", "c2"], ["PSUBSCRIBE", "p*"]],
    "blocked": [["BLPOP", "nolist", "0"]],
    "no-evict": [["CLIENT", "NO-EVICT", "on"], ["SELECT", "2"]],
    "monitor": [["MONITOR"]],
    "watch-dirty": [["WATCH", "w"], ["SET", "w", "1"]],
}


@pytest.mark.parametrize("state", list(STATES))
def test_client_list_values_match_redis(server: ServerProcess, reference: RedisProcess, state: str) -> None:
    wanted = ("flags", "db", "sub", "psub", "ssub", "multi", "multi-mem", "argv-mem", "cmd", "user", "redir",
              "resp", "name")
    if state == "blocked":  # SentryKV keeps a blocked client's keys, not its whole argv
        wanted = tuple(k for k in wanted if k != "argv-mem")
    mine = _state_of(server.port, STATES[state])
    theirs = _state_of(reference.port, STATES[state])
    assert {k: mine[k] for k in wanted} == {k: theirs[k] for k in wanted}
    assert int(mine["tot-mem"]) > 0 and int(mine["fd"]) > 0


KILL_SCRIPT = [
    ["CLIENT", "KILL", "USER", "nobody"], ["CLIENT", "KILL", "USER", "default"],
    ["CLIENT", "KILL", "LADDR", "1.1.1.1:1"], ["CLIENT", "KILL", "ID", "0"], ["CLIENT", "KILL", "ID", "-5"],
    ["CLIENT", "KILL", "TYPE", "master"], ["CLIENT", "KILL", "TYPE", "replica"], ["CLIENT", "KILL", "TYPE", "slave"],
    ["CLIENT", "KILL", "TYPE", "pubsub"], ["CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal"],
    ["CLIENT", "KILL", "MAXAGE", "1"], ["CLIENT", "KILL", "1.2.3.4:5", "x"], ["CLIENT", "LIST", "ID", "0"],
    ["CLIENT", "LIST", "TYPE"], ["CLIENT", "LIST", "TYPE", "normal", "ID", "1"], ["CLIENT", "LIST", "ID"],
    ["CLIENT", "SETINFO", "LIB-NAME", "x"], ["CLIENT", "NO-TOUCH", "on"], ["CLIENT", "PAUSE", "1", "write", "x"],
    ["CLIENT", "UNBLOCK", "1", "timeout", "x"], ["CLIENT", "PAUSE", "abc", "foo"], ["CLIENT", "PAUSE", "0"],
    ["CLIENT", "PAUSE", "0", "WRITE"], ["CLIENT", "UNPAUSE"], ["CLIENT", "HELP"],
]


def test_client_kill_and_list_errors_match_redis(server: ServerProcess, reference: RedisProcess) -> None:
    compare_script(server, reference, KILL_SCRIPT)


def test_client_kill_filters(server: ServerProcess) -> None:
    r = server.client()
    try:
        with RawConn(server.port) as sub, RawConn(server.port) as plain, RawConn(server.port) as mine:
            sub.send(encode_command("SUBSCRIBE", "ch"))
            sub.read_replies(1)
            plain.send(encode_command("CLIENT", "INFO"))
            plain_info = _fields(plain.read_replies(1)[0])
            mine.send(encode_command("CLIENT", "ID"))
            mine_id = mine.read_replies(1)[0]
            assert r.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 1
            assert sub.read_until_closed(2)[1]
            assert r.execute_command("CLIENT", "KILL", "LADDR", plain_info["laddr"], "ADDR", plain_info["addr"]) == 1
            assert plain.read_until_closed(2)[1]
            # SKIPME no: a client may kill itself; it gets the reply first.
            mine.send(encode_command("CLIENT", "KILL", "ID", str(mine_id), "SKIPME", "no"))
            assert mine.read_until_closed(2) == (b":1\r\n", True)
        with RawConn(server.port) as self_kill:
            self_kill.send(encode_command("CLIENT", "INFO"))
            addr = _fields(self_kill.read_replies(1)[0])["addr"]
            self_kill.send(encode_command("CLIENT", "KILL", addr))  # the old form may kill the caller
            assert self_kill.read_until_closed(2) == (b"+OK\r\n", True)
        assert r.execute_command("CLIENT", "KILL", "USER", "default") >= 0
        assert r.ping()
    finally:
        r.close()


def _timed(port: int, *cmd: str) -> tuple[float, object]:
    start = time.monotonic()  # the client connects (and sends its hello) in the constructor
    c = raw_client(port)
    try:
        reply = call(c, *cmd)
        return time.monotonic() - start, reply
    finally:
        c.close()


def _while_paused(port: int, mode: str, probes: list[list[str]], pause_ms: int = 600) -> list[tuple[bool, object]]:
    """Pause, run each probe from its own connection, and say which ones waited for the end."""
    admin = raw_client(port)
    try:
        call(admin, "CLIENT", "PAUSE", str(pause_ms), mode)
        results: list[tuple[bool, object]] = [(False, None)] * len(probes)

        def probe(i: int, cmd: list[str]) -> None:
            elapsed, reply = _timed(port, *cmd)
            results[i] = (elapsed > pause_ms / 2000, reply)

        in_parallel(probe, list(enumerate(probes)), 10)
        return results
    finally:
        call(admin, "CLIENT", "UNPAUSE")
        admin.close()


PROBES = [["GET", "k"], ["SET", "k", "v"], ["PUBLISH", "ch", "m"], ["EXISTS", "k"], ["CLIENT", "ID"],
          ["INCR", "n"], ["EVAL_RO", "return 1", "0"]]


@pytest.mark.parametrize("mode", ["WRITE", "ALL"])
def test_client_pause_postpones_like_redis(server: ServerProcess, reference: RedisProcess, mode: str) -> None:
    outcome: dict[int, list[bool]] = {}

    def run(port: int) -> None:
        outcome[port] = [waited for waited, _ in _while_paused(port, mode, PROBES)]

    in_parallel(run, [(server.port,), (reference.port,)], 20)
    assert outcome[server.port] == outcome[reference.port]
    assert any(outcome[server.port]) and (mode == "ALL") == all(outcome[server.port])


def test_client_unpause_releases_postponed_commands_in_order(server: ServerProcess) -> None:
    admin = server.client()
    try:
        admin.delete("order")
        admin.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
        with RawConn(server.port) as writer:
            writer.send(encode_command("RPUSH", "order", "a") + encode_command("GET", "x") +
                        encode_command("RPUSH", "order", "b"))
            with pytest.raises(TimeoutError):
                writer.read_replies(1, timeout=0.3)
            assert admin.get("x") is None  # other clients' reads go on
            info = _fields(admin.execute_command("CLIENT", "LIST", "ID", _client_id_of(admin, writer)))
            assert "b" in info["flags"]
            admin.execute_command("CLIENT", "UNPAUSE")
            assert writer.read_replies(3) == [1, None, 2]
        assert admin.lrange("order", 0, -1) == [b"a", b"b"]
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()


def _client_id_of(admin: redis.Redis, conn: RawConn) -> str:
    local = conn.sock.getsockname()
    for entry in admin.client_list():
        if entry["addr"] == f"{local[0]}:{local[1]}":
            return str(entry["id"])
    raise AssertionError("connection not listed")


def test_pause_holds_expiry(server: ServerProcess) -> None:
    r = server.client()
    try:
        r.flushall()
        r.config_resetstat()
        r.set("short", "v", px=150)
        r.execute_command("CLIENT", "PAUSE", "800", "WRITE")
        time.sleep(0.4)
        assert r.get("short") is None  # expired: reads as missing
        assert r.dbsize() == 1  # but is not deleted while paused (nor by active expiry)
        assert r.info("stats")["expired_keys"] == 0
        r.execute_command("CLIENT", "UNPAUSE")
        deadline = time.monotonic() + 3
        while r.dbsize() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.dbsize() == 0 and r.info("stats")["expired_keys"] == 1
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
        r.close()


def test_pause_expires_by_itself(server: ServerProcess) -> None:
    r = server.client()
    try:
        r.execute_command("CLIENT", "PAUSE", "300", "ALL")
        elapsed, reply = _timed(server.port, "SET", "k", "v")
        assert reply == b"OK" and 0.15 < elapsed < 2
    finally:
        r.close()


LOLWUT_SCRIPT = [["LOLWUT"], ["LOLWUT", "foo"], ["LOLWUT", "VERSION"], ["LOLWUT", "VERSION", "x"],
                 ["LOLWUT", "VERSION", "7"], ["LOLWUT", "VERSION", "1000"], ["LOLWUT", "VERSION", "-1"],
                 ["LOLWUT", "VERSION", "4"], ["LOLWUT", "VERSION", "5", "x"], ["LOLWUT", "VERSION", "6", "10", "y"]]


def test_lolwut_matches_redis_where_redis_is_deterministic(server: ServerProcess, reference: RedisProcess) -> None:
    pair = Pair(raw_client(server.port), raw_client(reference.port))
    try:
        pair.run(LOLWUT_SCRIPT)
        for args in (["5", "30", "4", "3"], ["6", "40", "10"], ["5"], ["6"]):
            mine = call(pair.mine, "LOLWUT", "VERSION", *args)
            theirs = call(pair.theirs, "LOLWUT", "VERSION", *args)
            assert isinstance(mine, bytes) and mine.endswith(b"Redis ver. 7.0.15\n")
            assert abs(mine.count(b"\n") - theirs.count(b"\n")) <= 3, args
        r3 = raw_client(server.port, protocol=3)
        reply: Callable[..., object] = r3.execute_command
        assert reply("LOLWUT") is not None
        r3.close()
    finally:
        pair.mine.close()
        pair.theirs.close()


def test_lolwut_largest_drawing_is_bounded(server: ServerProcess) -> None:
    elapsed, reply = _timed(server.port, "LOLWUT", "VERSION", "5", "1000", "200", "200")
    assert isinstance(reply, bytes) and elapsed < 10
    elapsed, reply = _timed(server.port, "LOLWUT", "VERSION", "6", "1000", "1000")
    assert isinstance(reply, bytes) and elapsed < 10
