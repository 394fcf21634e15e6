"""Connections: RESP2/RESP3 from sync and asyncio redis-py, HELLO, AUTH with requirepass,
maxclients, idle timeout, CLIENT subcommands, QUIT and RESET.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis

from tests.core.helpers import (
    Pair,
    RawConn,
    encode_command,
    encode_many,
    exchange_all,
    exchange_counted,
    raw_client,
)
from tests.support.procs import RedisProcess, ServerProcess

# ---------------------------------------------------------------------------------------------
# redis-py, sync and asyncio, RESP2 and RESP3


@pytest.mark.parametrize("protocol", [2, 3])
def test_sync_client_round_trip(server: ServerProcess, protocol: int) -> None:
    r = server.client(protocol=protocol)
    try:
        r.flushall()
        assert r.set("k", "v", ex=100) is True
        assert r.get("k") == b"v"
        assert r.mset({"a": 1, "b": 2}) is True
        assert r.mget("a", "b", "nosuch") == [b"1", b"2", None]
        assert r.incrbyfloat("f", 1.5) == 1.5
        assert 99 <= r.ttl("k") <= 100
        assert r.exists("a", "b", "nosuch") == 2
        assert sorted(r.keys("*")) == [b"a", b"b", b"f", b"k"]
        cfg = {_text(k or ""): _text(v or "") for k, v in r.config_get("maxclients").items()}
        assert cfg == {"maxclients": "10000"}
        assert r.info("server")["redis_version"].startswith("7.")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE|not an integer"):
            r.incr("k")
        pipe = r.pipeline()
        pipe.incr("ctr")
        pipe.incr("ctr")
        pipe.get("ctr")
        assert pipe.execute() == [1, 2, b"2"]
    finally:
        r.close()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("protocol", [2, 3])
async def test_asyncio_client_concurrent(server: ServerProcess, protocol: int) -> None:
    r = aioredis.Redis(port=server.port, protocol=protocol, max_connections=250)
    try:
        await r.delete("actr")
        results = await asyncio.gather(*(r.incr("actr") for _ in range(200)))
        assert sorted(results) == list(range(1, 201))
        assert await r.get("actr") == b"200"
        async with r.pipeline(transaction=False) as pipe:
            for i in range(50):
                pipe.set(f"ak{i}", i)
            pipe.mget([f"ak{i}" for i in range(50)])
            replies = await pipe.execute()
        assert replies[-1] == [b"%d" % i for i in range(50)]
        hello = await r.execute_command("HELLO")
        fields = hello if isinstance(hello, dict) else dict(zip(hello[::2], hello[1::2], strict=True))
        assert {_text(k): v for k, v in fields.items()}["proto"] == protocol
    finally:
        await r.aclose()


RESP3_CASES = [
    ["FLUSHALL"], ["HELLO", "3"], ["PING"], ["SET", "k", "1"], ["GET", "k"], ["GET", "nosuch"], ["MGET", "k", "nosuch"],
    ["INCRBYFLOAT", "fl", "1.5"], ["EXISTS", "k"], ["TTL", "k"], ["CONFIG", "GET", "maxmemory"],
    ["KEYS", "k"], ["SCAN", "0", "MATCH", "k"], ["TYPE", "k"], ["ECHO", ""], ["LCS", "k", "k", "IDX"],
    ["HELLO", "2"], ["GET", "nosuch"], ["CONFIG", "GET", "maxmemory"], ["HELLO", "3", "SETNAME", "x"],
    ["CLIENT", "GETNAME"], ["RESET"], ["GET", "nosuch"],
]


def _without_ids(data: bytes) -> bytes:
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:N\r\n", data)


def test_resp3_wire_format_matches_redis(server: ServerProcess, reference: RedisProcess) -> None:
    data = encode_many(RESP3_CASES)
    got, theirs = exchange_all(server.port, data), exchange_all(reference.port, data)
    assert _without_ids(got[0]) == _without_ids(theirs[0])
    assert b"%7\r\n$6\r\nserver\r\n" in got[0]  # HELLO 3 answers with a map
    assert b"_\r\n" in got[0] and b",1.5\r\n" not in got[0]  # RESP3 null; INCRBYFLOAT stays a bulk


HELLO_ERRORS = [["HELLO", "4"], ["HELLO", "1"], ["HELLO", "-1"], ["HELLO", "abc"], ["HELLO", "3", "foo"],
                ["HELLO", "3", "AUTH"], ["HELLO", "3", "AUTH", "default"], ["HELLO", "3", "SETNAME"],
                ["HELLO", "2", "SETNAME", "a b"], ["HELLO", "2", "AUTH", "bob", "x"]]


def test_hello_errors_match_redis(server: ServerProcess, reference: RedisProcess) -> None:
    data = encode_many(HELLO_ERRORS)
    got = exchange_all(server.port, data)
    assert got == exchange_all(reference.port, data)
    assert got[0].startswith(b"-NOPROTO unsupported protocol version\r\n")


def test_hello_map_fields(server: ServerProcess) -> None:
    r = server.client(protocol=3)
    try:
        reply = r.execute_command("HELLO", "3", "SETNAME", "me")
        assert set(reply) == {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}
        assert reply[b"proto"] == 3 and reply[b"role"] == b"master" and reply[b"mode"] == b"standalone"
        assert reply[b"id"] == r.execute_command("CLIENT", "ID")
        assert r.execute_command("CLIENT", "GETNAME") == b"me"
    finally:
        r.close()


# ---------------------------------------------------------------------------------------------
# AUTH / requirepass, compared byte for byte with redis-server started the same way

PASSWORD = "s3cr3t pass"


@pytest.fixture(scope="module")
def protected() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    mine = ServerProcess(args=["--appendonly", "no", "--requirepass", PASSWORD]).start()
    theirs = RedisProcess(args=["--requirepass", PASSWORD]).start()
    yield mine, theirs
    for proc in (mine, theirs):
        proc.stop()
        proc.cleanup()


AUTH_CASES = [
    [["PING"]], [["GET", "a"]], [["SET", "a", "1"]], [["NOSUCH"]], [["SELECT", "1"]], [["CLIENT", "ID"]],
    [["INFO"]], [["CONFIG", "GET", "*"]], [["ECHO", "x"]], [["SET", "a"]],
    [["AUTH"]], [["AUTH", "x"]], [["AUTH", "default", "x"]], [["AUTH", "a", "b", "c"]],
    [["AUTH", "bob", PASSWORD]], [["AUTH", PASSWORD], ["PING"], ["SET", "a", "1"], ["GET", "a"]],
    [["AUTH", "default", PASSWORD], ["PING"]], [["AUTH", "x"], ["PING"]],
    [["HELLO"]], [["HELLO", "3"]], [["HELLO", "3", "SETNAME", "x"]], [["HELLO", "3", "AUTH", "default", "bad"]],
    [["HELLO", "2", "AUTH", "default", PASSWORD], ["PING"]], [["HELLO", "4"]],
    [["RESET"]], [["AUTH", PASSWORD], ["RESET"], ["PING"]],
    [["QUIT"]],
]


@pytest.mark.parametrize("case", AUTH_CASES, ids=lambda c: " / ".join(" ".join(x) for x in c)[:40])
def test_noauth_and_auth_match_redis(protected: tuple[ServerProcess, ServerProcess], case: list[list[str]]) -> None:
    mine, theirs = protected
    got, want = exchange_counted(mine.port, case), exchange_counted(theirs.port, case)
    assert (_without_ids(got[0]), got[1]) == (_without_ids(want[0]), want[1])


def test_noauth_everything_but_auth_hello_quit(protected: tuple[ServerProcess, ServerProcess]) -> None:
    mine, _ = protected
    with RawConn(mine.port) as conn:
        for cmd in (["GET", "x"], ["DBSIZE"], ["FLUSHALL"], ["SHUTDOWN", "NOSAVE"], ["DEBUG", "DIGEST"],
                    ["CLIENT", "LIST"], ["COMMAND", "COUNT"], ["MULTI"], ["SUBSCRIBE", "c"]):
            conn.send(encode_command(*cmd))
            assert conn.read_replies(1) == ["NOAUTH Authentication required."], cmd
    assert mine.proc is not None and mine.proc.poll() is None
    authed = mine.client(password=PASSWORD)
    try:
        assert authed.ping()
    finally:
        authed.close()


@pytest.mark.parametrize("data", [
    b"*20\r\n", b"*11\r\n", b"*1\r\n$20000\r\n", b"*1\r\n$16385\r\n",
    b"*10\r\n", b"*1\r\n$16384\r\n",  # exactly the limits: Redis waits for the rest
    b"*2\r\n$4\r\nAUTH\r\n$99999\r\n", b"*1\r\n$1", b"*1", b"PING\r\n*2\r\n$4\r\nECHO\r\n$70000\r\n",
    encode_command("AUTH", "default", PASSWORD) + b"*1\r\n$20000\r\n",
    encode_command("AUTH", PASSWORD) + b"*20\r\n",  # authenticated: fine
    encode_command("AUTH", PASSWORD) + b"*1\r\n$5\r\nRESET\r\n*1\r\n$20000\r\n",  # RESET: not any more
    b"*2\r\n$4\r\nAUTH\r\n$6\r\ns3cr3t pass\r\n*1\r\n$5\r\nRESET\r\n*1\r\n$20000\r\n",  # inline rest
])
def test_unauthenticated_request_size_limits(protected: tuple[ServerProcess, ServerProcess], data: bytes) -> None:
    """Redis's pre-auth limits: more than 10 elements or a bulk over 16384 bytes closes the client."""
    mine, theirs = protected
    with RawConn(theirs.port) as conn:
        conn.send(data)
        want = conn.read_until_closed(0.5)
    with RawConn(mine.port) as conn:
        conn.send(data)
        assert conn.read_until_closed(0.5) == want


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 7, 9, 10])
def test_unauthenticated_limits_with_split_headers(protected: tuple[ServerProcess, ServerProcess], cut: int) -> None:
    mine, theirs = protected
    data = b"*1\r\n$20000\r\n"
    results = []
    for proc in (theirs, mine):
        with RawConn(proc.port) as conn:
            conn.send_slowly(data, [cut], pause=0.05)
            results.append(conn.read_until_closed(0.5))
    assert results[0] == results[1] == (b"-ERR Protocol error: unauthenticated bulk length\r\n", True)


def test_requirepass_set_at_runtime(server: ServerProcess) -> None:
    admin = server.client()
    try:
        admin.config_set("requirepass", "later")
        fresh = RawConn(server.port)
        with fresh:
            fresh.send(encode_command("PING") + encode_command("AUTH", "later") + encode_command("PING"))
            assert fresh.read_replies(3) == ["NOAUTH Authentication required.", b"OK", b"PONG"]
        assert admin.ping()  # already-authenticated connections stay authenticated, as in Redis
    finally:
        admin.config_set("requirepass", "")
        admin.close()


# ---------------------------------------------------------------------------------------------
# maxclients, timeout


@pytest.mark.parametrize("kind", ["sentrykv", "redis"])
def test_maxclients(kind: str) -> None:
    proc = ServerProcess(args=["--appendonly", "no"]) if kind == "sentrykv" else RedisProcess()
    proc.start()
    try:
        with RawConn(proc.port) as admin:
            admin.send(encode_command("CONFIG", "SET", "maxclients", "2"))
            assert admin.read_replies(1) == [b"OK"]
            with RawConn(proc.port) as second:
                second.send(encode_command("PING"))
                assert second.read_replies(1) == [b"PONG"]
                with RawConn(proc.port) as third:
                    data, closed = third.read_until_closed(3)
                    assert (data, closed) == (b"-ERR max number of clients reached\r\n", True)
            time.sleep(0.2)
            with RawConn(proc.port) as again:  # a slot is free again
                again.send(encode_command("PING"))
                assert again.read_replies(1) == [b"PONG"]
            admin.send(encode_command("INFO", "stats"))
            assert b"rejected_connections:1\r\n" in admin.read_replies(1)[0]
    finally:
        proc.stop()
        proc.cleanup()


def test_timeout_closes_idle_clients_only(server: ServerProcess) -> None:
    admin = server.client()
    admin.config_set("timeout", "1")
    try:
        with RawConn(server.port) as idle, RawConn(server.port) as busy:
            idle.send(encode_command("PING"))
            assert idle.read_replies(1) == [b"PONG"]
            deadline = time.monotonic() + 3.5
            closed = False
            while time.monotonic() < deadline and not closed:
                busy.send(encode_command("PING"))
                assert busy.read_replies(1) == [b"PONG"]
                _, closed = idle.read_until_closed(0.25)
            assert closed, "an idle client was not disconnected after timeout"
            busy.send(encode_command("PING"))
            assert busy.read_replies(1) == [b"PONG"]
    finally:
        admin.config_set("timeout", "0")
        admin.close()


# ---------------------------------------------------------------------------------------------
# CLIENT

CLIENT_ERRORS = """
CLIENT FOO
CLIENT
CLIENT ID x
CLIENT GETNAME x
CLIENT INFO x
CLIENT SETNAME
CLIENT SETNAME "a b"
CLIENT LIST TYPE foo
CLIENT LIST ID abc
CLIENT LIST ID 999999
CLIENT LIST FOO
CLIENT LIST TYPE pubsub
CLIENT KILL
CLIENT KILL 1.2.3.4:5
CLIENT KILL ID abc
CLIENT KILL ID 99999
CLIENT KILL FOO bar
CLIENT KILL TYPE foo
CLIENT KILL SKIPME maybe
CLIENT KILL ADDR 1.2.3.4:5
CLIENT KILL ADDR 1.2.3.4:5 ID
CLIENT NO-EVICT maybe
CLIENT NO-EVICT on
CLIENT NO-EVICT off
CLIENT REPLY maybe
CLIENT UNBLOCK abc
CLIENT UNBLOCK 99999
CLIENT UNBLOCK 99999 foo
CLIENT PAUSE
CLIENT PAUSE abc
CLIENT PAUSE 10 foo
CLIENT PAUSE -1
CLIENT UNPAUSE x
CLIENT UNPAUSE
CLIENT GETREDIR
CLIENT TRACKINGINFO
CLIENT CACHING yes
CLIENT HELP x
"""


def test_client_subcommand_errors_match_redis(server: ServerProcess, reference: RedisProcess) -> None:
    import shlex

    pair = Pair(raw_client(server.port), raw_client(reference.port))
    try:
        pair.run([shlex.split(line) for line in CLIENT_ERRORS.strip().splitlines()])
    finally:
        pair.mine.close()
        pair.theirs.close()


def test_client_unknown_subcommand_text(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError) as info:
        r.execute_command("CLIENT", "NOPE")
    assert str(info.value) == "unknown subcommand 'NOPE'. Try CLIENT HELP."


def test_client_list_info_setname_kill(server: ServerProcess) -> None:
    a = server.client()
    try:
        with RawConn(server.port) as b:
            b.send(encode_command("CLIENT", "ID"))
            b_id = b.read_replies(1)[0]
            a.client_setname("alpha")
            assert a.client_getname() == "alpha"
            entries = {c["name"]: c for c in a.client_list()}
            assert "alpha" in entries
            me = entries["alpha"]
            for field in ("id", "addr", "laddr", "fd", "age", "idle", "flags", "db", "sub", "psub", "multi",
                          "qbuf", "obl", "oll", "omem", "cmd", "user", "resp"):
                assert field in me, field
            assert me["cmd"] == "client|list" and me["db"] == "0"
            assert [c["id"] for c in a.client_list(client_id=[b_id])] == [str(b_id)]
            info = a.client_info()
            assert info["name"] == "alpha" and info["cmd"] == "client|info"
            assert a.client_kill_filter(_id=str(b_id)) == 1
            assert b.read_until_closed(2) == (b"", True)
        assert a.client_kill_filter(_id=str(a.client_id())) == 0  # SKIPME yes by default
        assert a.ping()
    finally:
        a.close()


def test_client_kill_by_addr(server: ServerProcess, r: redis.Redis) -> None:
    with RawConn(server.port) as victim:
        victim.send(encode_command("CLIENT", "INFO"))
        line = victim.read_replies(1)[0].decode()
        addr = re.search(r"addr=(\S+)", line).group(1)  # type: ignore[union-attr]
        assert r.execute_command("CLIENT", "KILL", addr) in (b"OK", True)
        assert victim.read_until_closed(2) == (b"", True)


def test_client_reply_modes_match_redis(server: ServerProcess, reference: RedisProcess) -> None:
    data = encode_many([["CLIENT", "REPLY", "OFF"], ["SET", "r", "1"], ["GET", "r"], ["CLIENT", "REPLY", "SKIP"],
                        ["CLIENT", "REPLY", "ON"], ["GET", "r"], ["CLIENT", "REPLY", "SKIP"], ["GET", "r"],
                        ["GET", "r"], ["NOSUCH"], ["CLIENT", "REPLY", "SKIP"], ["NOSUCH"], ["PING"]])
    got = exchange_all(server.port, data)
    assert got == exchange_all(reference.port, data)
    assert got == (b"+OK\r\n$1\r\n1\r\n$1\r\n1\r\n-ERR unknown command 'NOSUCH', with args beginning with: "
                   b"\r\n+PONG\r\n", False)


def test_quit_replies_then_closes(server: ServerProcess, reference: RedisProcess) -> None:
    data = encode_command("PING") + encode_command("QUIT") + encode_command("PING")
    with RawConn(server.port) as mine, RawConn(reference.port) as theirs:
        mine.send(data)
        theirs.send(data)
        assert mine.read_until_closed(2) == theirs.read_until_closed(2) == (b"+PONG\r\n+OK\r\n", True)


def test_reset_restores_connection_state(server: ServerProcess) -> None:
    with RawConn(server.port) as conn:
        conn.send(encode_many([["HELLO", "3"], ["SELECT", "3"], ["CLIENT", "SETNAME", "n"], ["RESET"],
                               ["CLIENT", "GETNAME"], ["CLIENT", "INFO"]]))
        replies = conn.read_replies(6)
    assert replies[3] == b"RESET" and replies[4] is None
    assert " db=0 " in replies[5].decode() and " resp=2" in replies[5].decode()
