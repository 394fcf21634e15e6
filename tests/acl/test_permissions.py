"""Permissions enforced on real requests, against redis-server 7.0: commands, subcommands,
categories, first arguments, keys (read/write), channels, selectors, MULTI/EXEC, ACL LOG,
AUTH / HELLO / requirepass, and what happens to connected clients when a user changes."""

from __future__ import annotations

import shlex
import time

import pytest

from tests.acl.support import AclPair, log_entries
from tests.types.rawresp import RawConnection

USERS = [
    "alice on >pw -@all +@read +set +del -get +config|get +select|0 +client|id ~k* %R~r* %W~w* &ch*",
    "bob on >pw +@all -@dangerous ~* resetchannels &news (+get ~other* &other)",
    "carol on >pw -@all +@pubsub +ping resetchannels &chat &room.* ~*",
    "dave on >pw -@all +multi +exec +discard +watch +get +set +incr +publish ~k* &*",
    "sorter on >pw +@all ~l* %W~dst*",
    "wide on >pw +@all ~l* %R~* (%W~dst* +sort)",
]

SCRIPTS = {
    "alice": """
        GET k1
        MGET k1 r1
        MGET k1 w1
        SET k1 v
        SET r1 v
        SET w1 v
        SET w1 v GET
        HGET r1 f
        HSET k1 f v
        STRLEN r1
        DEL k1 w1
        DEL r1
        CONFIG GET maxmemory
        CONFIG SET maxmemory 0
        CONFIG FOO
        CONFIG GET
        SELECT 0
        SELECT 1
        select 0
        CLIENT INFO
        CLIENT FOO
        PING
        ACL WHOAMI
        FLUSHALL
        PUBLISH ch1 m
        GET
        NOSUCH k
        AUTH alice nope
        AUTH nosuch pw
    """,
    "bob": """
        GET k
        GET other1
        SET other1 v
        FLUSHALL
        KEYS *
        DEBUG DIGEST
        CONFIG SET maxmemory 0
        PUBLISH news x
        PUBLISH other x
        PUBLISH elsewhere x
        SUBSCRIBE news other elsewhere
    """,
    "sorter": """
        RPUSH l1 3 1 2
        SORT l1
        SORT l1 BY nosort
        SORT l1 BY w_*
        SORT l1 GET #
        SORT l1 GET w_* BY nosort
        SORT_RO l1 BY w_*
        SORT l1 LIMIT x y BY w_*
        SORT l1 STORE dst1
        SORT l1 STORE other
    """,
    "wide": """
        SORT l1 BY w_* GET #
        SORT_RO l1 BY w_*
        SORT l1 BY w_* STORE dst1
        SORT l1 BY w_* STORE l2
    """,
    "carol": """
        PUBLISH chat hi
        PUBLISH room.1 hi
        PUBLISH room x
        PING
        GET k
        PSUBSCRIBE room.*
        PSUBSCRIBE room.1*
        SUBSCRIBE chat room.x lobby
        SSUBSCRIBE chat
        SPUBLISH lobby x
        PUBSUB CHANNELS
    """,
}


def _create_users(pair: AclPair) -> None:
    for user in USERS:
        pair.same("ACL", "SETUSER", *shlex.split(user))


@pytest.mark.parametrize("proto", [2, 3])
def test_restricted_users_get_redis_replies(pair: AclPair, proto: int) -> None:
    _create_users(pair)
    for user, script in SCRIPTS.items():
        mine, theirs = pair.connect(user, proto=proto)
        for line in script.strip().splitlines():
            args = shlex.split(line)
            got, want = mine.call(*args), theirs.call(*args)
            assert got == want, f"{user}: {line} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}"
    _same_log(pair, proto)


def _same_log(pair: AclPair, proto: int, count: str = "100") -> None:
    mine, theirs = pair.both("ACL", "LOG", count, proto=proto)
    assert log_entries(mine, proto) == log_entries(theirs, proto)


def test_acl_log_counts_repeats_and_resets(pair: AclPair) -> None:
    _create_users(pair)
    mine, theirs = pair.connect("alice")
    for conn in (mine, theirs):
        for _ in range(3):
            conn.call("HSET", "k1", "f", "v")
        conn.call("GET", "zz")
        conn.call("MULTI")
        conn.call("HSET", "k1", "f", "v")
        conn.call("GET", "zz")
        conn.call("DISCARD")
        conn.call("AUTH", "alice", "wrong")
    for proto in (2, 3):
        _same_log(pair, proto)
        _same_log(pair, proto, "2")
        _same_log(pair, proto, "0")
        _same_log(pair, proto, "-5")
    pair.same("CONFIG", "SET", "acllog-max-len", "2")
    for conn in (mine, theirs):
        conn.call("FLUSHALL")
    _same_log(pair, 2)
    pair.same("ACL", "LOG", "RESET")
    pair.same("ACL", "LOG")
    pair.same("CONFIG", "SET", "acllog-max-len", "128")


def test_selectors_any_one_may_allow(pair: AclPair) -> None:
    pair.same("ACL", "SETUSER", "sel", "on", ">pw", "resetkeys", "-@all", "+get", "%R~a*",
              "(+set ~b*)", "(+get +set ~c* &x)")
    mine, theirs = pair.connect("sel")
    for line in ("GET a1", "SET a1 v", "SET b1 v", "GET b1", "GET c1", "SET c1 v", "MGET a1 c1",
                 "MGET a1 b1", "PUBLISH x y", "DEL a1"):
        args = shlex.split(line)
        assert mine.call(*args) == theirs.call(*args), line
    pair.same("ACL", "DRYRUN", "sel", "mget", "a1", "b1")
    _same_log(pair, 2)


def test_exec_checks_again_what_was_queued(pair: AclPair) -> None:
    _create_users(pair)
    mine, theirs = pair.connect("dave")
    for conn in (mine, theirs):
        for line in ("MULTI", "SET k1 v", "GET k1", "INCR k2", "PUBLISH ch x", "GET zz"):
            conn.call(*shlex.split(line))
    pair.same("ACL", "SETUSER", "dave", "-set", "resetkeys", "~k1", "resetchannels", "&other")
    assert mine.call("EXEC") == theirs.call("EXEC")
    _same_log(pair, 2)
    # Refused while queuing: EXECABORT, as in Redis.
    for conn in (mine, theirs):
        conn.call("MULTI")
    for line in ("SET k1 v", "GET k1", "GET zz", "EXEC"):
        args = shlex.split(line)
        assert mine.call(*args) == theirs.call(*args), line
    # AUTH inside MULTI switches the user for the commands after it.
    pair.same("ACL", "SETUSER", "eve", "on", ">pw", "-@all", "+get", "~*")
    for conn in (mine, theirs):
        conn.call("MULTI")
        conn.call("AUTH", "eve", "pw")
        conn.call("GET", "k1")
        conn.call("INCR", "k1")
    assert mine.call("EXEC") == theirs.call("EXEC")
    assert mine.call("SET", "k1", "v") == theirs.call("SET", "k1", "v")


def _alive(conn: RawConnection) -> bool:
    try:
        conn.send("PING")
        conn.read()
        return True
    except (ConnectionError, OSError):
        return False


def _settle() -> None:
    time.sleep(0.2)


def test_subscribers_losing_their_channels_are_disconnected(pair: AclPair) -> None:
    _create_users(pair)
    conns = {}
    for side in pair.sides:
        chat = side.connect("carol")
        chat.call("SUBSCRIBE", "chat")
        room = side.connect("carol")
        room.call("PSUBSCRIBE", "room.*")
        plain = side.connect("carol")
        conns[side.name] = (chat, room, plain)
    # A superset of the old channels changes nothing.
    pair.same("ACL", "SETUSER", "carol", "&extra")
    _settle()
    for name in conns:
        assert [_alive(c) for c in conns[name]] == [True, True, True], name
    # room.* is no longer listed literally: the pattern subscriber goes.
    pair.same("ACL", "SETUSER", "carol", "resetchannels", "&chat", "&room.1")
    _settle()
    states = {name: [_alive(c) for c in conns[name]] for name in conns}
    assert states["sentrykv"] == states["redis"] == [True, False, True], states


def test_deleted_users_clients_are_disconnected_disabled_ones_kept(pair: AclPair) -> None:
    _create_users(pair)
    pair.same("ACL", "SETUSER", "alice", "+acl|whoami")
    alice = {side.name: side.connect("alice") for side in pair.sides}
    bob = {side.name: side.connect("bob") for side in pair.sides}
    pair.same("ACL", "SETUSER", "alice", "off")
    _settle()
    for name in alice:
        assert alice[name].call("ACL", "WHOAMI") == ("bulk", b"alice"), name
        assert alice[name].call("AUTH", "alice", "pw") == (
            "error", b"WRONGPASS invalid username-password pair or user is disabled.")
    pair.same("ACL", "DELUSER", "alice")
    _settle()
    for name in alice:
        assert not _alive(alice[name]), name
        assert _alive(bob[name]), name
    # A client deleting its own user gets the reply, then the connection closes.
    pair.same("ACL", "SETUSER", "self", "on", ">pw", "+@all")
    for side in pair.sides:
        me = side.connect("self")
        assert me.call("ACL", "DELUSER", "self") == ("int", 1)
        assert not _alive(me)


def test_client_kill_user(pair: AclPair) -> None:
    _create_users(pair)
    for side in pair.sides:
        victims = [side.connect("bob"), side.connect("bob")]
        other = side.connect("carol")
        assert side.admin().call("CLIENT", "KILL", "USER", "bob") == ("int", 2)
        _settle()
        assert [_alive(v) for v in victims] == [False, False]
        assert _alive(other)
    pair.same("CLIENT", "KILL", "USER", "nosuch")
    pair.same("CLIENT", "KILL", "USER", "bob", "SKIPME", "no")
    mine, theirs = pair.both("CLIENT", "LIST")
    assert b"user=default" in mine[1]


def test_requirepass_and_auth(pair: AclPair) -> None:
    """requirepass is the default user's password; clients already in stay authenticated."""
    before = pair.connect()
    pair.same("CONFIG", "SET", "requirepass", "s3cret")
    pair.same("ACL", "GETUSER", "default")
    pair.same("CONFIG", "GET", "requirepass")
    after = pair.connect()
    for line in ("GET k", "HELLO 3", "HELLO 2 SETNAME nm", "CLIENT GETNAME", "AUTH wrong", "AUTH default wrong",
                 "AUTH s3cret", "CLIENT GETNAME", "GET k"):
        args = shlex.split(line)
        assert after[0].call(*args) == after[1].call(*args), line
    assert before[0].call("GET", "k") == before[1].call("GET", "k") == ("null",)
    pair.same("ACL", "SETUSER", "default", ">second")
    pair.same("CONFIG", "GET", "requirepass")
    pair.same("CONFIG", "SET", "requirepass", "")
    pair.same("ACL", "GETUSER", "default")
    pair.same("AUTH", "x")
    pair.same("ACL", "SETUSER", "default", "resetpass")
    blocked = pair.connect()
    for line in ("PING", "AUTH x", "AUTH default x", "HELLO 3 AUTH default x"):
        args = shlex.split(line)
        assert blocked[0].call(*args) == blocked[1].call(*args), line
    pair.same("ACL", "SETUSER", "default", "nopass", "off")
    assert blocked[0].call("PING") == blocked[1].call("PING")
    pair.same("ACL", "SETUSER", "default", "on")
    assert blocked[0].call("PING") == blocked[1].call("PING") == ("status", b"PONG")


def test_hello_auth_order(pair: AclPair) -> None:
    pair.same("ACL", "SETUSER", "h", "on", ">p", "+@all", "~*")
    script = [
        "HELLO 3 SETNAME bad\x01name AUTH h x", "HELLO 2 AUTH h x SETNAME bad\x01name",
        "HELLO 2 AUTH h p BADOPT", "ACL WHOAMI", "RESET", "ACL WHOAMI", "HELLO 2 BADOPT AUTH h p", "ACL WHOAMI",
        "HELLO 5 AUTH h p", "HELLO 2 AUTH h", "HELLO 3 AUTH h p SETNAME ok", "CLIENT GETNAME", "AUTH a b c",
    ]
    mine, theirs = pair.connect()
    for line in script:
        args = shlex.split(line)
        got, want = mine.call(*args), theirs.call(*args)
        if args[0] == "HELLO" and want[0] == "map":
            assert got[0] == "map", line
            continue
        assert got == want, f"{line}: redis {want} sentrykv {got}"
    _same_log(pair, 2)


def test_unauthenticated_order_of_refusals(pair: AclPair) -> None:
    """Unknown subcommands and arity come before NOAUTH, as in Redis's processCommand."""
    pair.same("CONFIG", "SET", "requirepass", "s3cret")
    mine, theirs = pair.connect()
    for line in ("CONFIG FOO", "CONFIG GET", "CLIENT", "ACL WHOAMI", "ACL FOO", "NOSUCH", "GET", "MODULE LOAD x",
                 "MODULE LIST", "QUIT x"):
        args = shlex.split(line)
        assert mine.call(*args) == theirs.call(*args), line


def test_slowlog_and_monitor_hide_secrets(pair: AclPair) -> None:
    pair.same("CONFIG", "SET", "slowlog-log-slower-than", "0")
    pair.same("SLOWLOG", "RESET")
    monitors = []
    for side in pair.sides:
        mon = side.connect()
        assert mon.call("MONITOR") == ("status", b"OK")
        monitors.append(mon)
    pair.same("ACL", "SETUSER", "m", "on", ">topsecret", "+@all")
    pair.same("AUTH", "m", "topsecret")
    for side in pair.sides:
        assert side.admin().call("HELLO", "2", "AUTH", "m", "topsecret")[0] == "array"
    pair.same("AUTH", "default", "x")
    pair.same("GET", "after")
    for side, mon in zip(pair.sides, monitors, strict=True):
        seen = b""
        while b'"after"' not in seen:
            seen += mon.read()[1]
        assert b"topsecret" not in seen and b"SETUSER" not in seen.upper(), (side.name, seen)
        assert b'"(redacted)"' in seen, (side.name, seen)
        entries = side.admin().call("SLOWLOG", "GET", "20")
        assert b"topsecret" not in repr(entries).encode(), side.name
    pair.same("CONFIG", "SET", "slowlog-log-slower-than", "10000")


def test_rule_changes_reach_connected_clients_at_once(pair: AclPair) -> None:
    """A client of the default user is on the fast path until the default user gets a
    restriction; a pipelined request after the change is already checked."""
    mine, theirs = pair.connect()
    pair.same("ACL", "SETUSER", "default", "-get")
    for conn in (mine, theirs):
        conn.send("GET", "k")
        conn.send("SET", "k", "v")
    assert (mine.read(), mine.read()) == (theirs.read(), theirs.read())
    for conn in (mine, theirs):  # the client lifts its own restriction in a pipeline
        conn.send("ACL", "SETUSER", "default", "+get")
        conn.send("GET", "k")
    assert (mine.read(), mine.read()) == (theirs.read(), theirs.read()) == (("status", b"OK"), ("bulk", b"v"))
    pair.same("ACL", "SETUSER", "alice", "on", ">pw", "-@all", "+acl", "~*")
    mine, theirs = pair.connect("alice")
    assert mine.call("GET", "k") == theirs.call("GET", "k")
    pair.same("ACL", "SETUSER", "alice", "+@all", "&*")
    assert mine.call("GET", "k") == theirs.call("GET", "k") == ("bulk", b"v")
    for conn in (mine, theirs):
        assert conn.call("RESET") == ("status", b"RESET")
    assert mine.call("ACL", "WHOAMI") == theirs.call("ACL", "WHOAMI") == ("bulk", b"default")
