"""Replication commands on a lone master, SentryKV against redis-server 7.0.15: same replies,
same errors (RESP2 and RESP3), same INFO replication and CONFIG fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.core.helpers import Arg, RawConn, encode_command
from tests.support.procs import RedisProcess, ServerProcess

COMMANDS: list[tuple[Arg, ...]] = [
    ("ROLE",),
    ("ROLE", "x"),
    ("WAIT", 0, 0),
    ("WAIT", 1, 10),
    ("WAIT", "x", 0),
    ("WAIT", 1, -1),
    ("WAIT", 1, "y"),
    ("WAIT", 1),
    ("REPLCONF",),
    ("REPLCONF", "listening-port", 6380),
    ("REPLCONF", "listening-port"),
    ("REPLCONF", "capa", "eof", "capa", "psync2"),
    ("REPLCONF", "ip-address", "10.0.0.1"),
    ("REPLCONF", "nonsense", "1"),
    ("REPLCONF", "listening-port", "x"),
    ("REPLICAOF", "NO", "ONE"),
    ("SLAVEOF", "no", "one"),
    ("REPLICAOF", "127.0.0.1", "99999"),
    ("REPLICAOF", "127.0.0.1", "x"),
    ("REPLICAOF", "127.0.0.1"),
    ("PSYNC", "?"),
    ("SYNC", "x"),
    ("FAILOVER",),
    ("FAILOVER", "ABORT"),
    ("FAILOVER", "TO", "127.0.0.1", 1),
    ("FAILOVER", "TO", "127.0.0.1"),
    ("FAILOVER", "TO", "127.0.0.1", "x"),
    ("FAILOVER", "TIMEOUT", 0),
    ("FAILOVER", "TIMEOUT", "x"),
    ("FAILOVER", "FORCE"),
    ("FAILOVER", "ABORT", "TIMEOUT", 5),
    ("FAILOVER", "nonsense"),
    ("CONFIG", "SET", "replicaof", "127.0.0.1 1"),
    ("CONFIG", "SET", "repl-backlog-size", "0"),
    ("CONFIG", "SET", "repl-timeout", "0"),
    ("CONFIG", "SET", "replica-announce-port", "70000"),
    ("CONFIG", "SET", "min-slaves-to-write", "-1"),
    ("CONFIG", "GET", "replicaof"),
    ("CONFIG", "GET", "slaveof"),
    ("CONFIG", "GET", "min-slaves-max-lag"),
    ("CONFIG", "GET", "repl-ping-slave-period"),
    ("CONFIG", "GET", "slave-announce-ip"),
    ("CONFIG", "GET", "masterauth"),
]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, RedisProcess]]:
    ours = ServerProcess(args=["--appendonly", "yes"]).start()
    ref = RedisProcess(args=["--appendonly", "yes"]).start()
    yield ours, ref
    for proc in (ours, ref):
        proc.stop()
        proc.cleanup()


def _replies(port: int, protocol: int) -> list[Any]:
    with RawConn(port) as conn:
        if protocol == 3:
            conn.send(encode_command("HELLO", 3))
            conn.read_replies(1)
        out = []
        for cmd in COMMANDS:
            conn.send(encode_command(*cmd))
            out.append(conn.read_replies(1)[0])
        return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_replies_match_redis(pair: tuple[ServerProcess, RedisProcess], protocol: int) -> None:
    ours, ref = pair
    got, want = _replies(ours.port, protocol), _replies(ref.port, protocol)
    for cmd, a, b in zip(COMMANDS, got, want, strict=True):
        assert a == b, f"{cmd}: SentryKV {a!r} != redis-server {b!r}"


def test_info_replication_fields_match_redis(pair: tuple[ServerProcess, RedisProcess]) -> None:
    ours, ref = pair
    a, b = ours.client().info("replication"), ref.client().info("replication")
    assert list(a) == list(b)
    for field in ("role", "connected_slaves", "master_failover_state", "master_replid2", "second_repl_offset",
                  "repl_backlog_size"):
        assert a[field] == b[field], field
    stats_a, stats_b = ours.client().info("stats"), ref.client().info("stats")
    for field in ("sync_full", "sync_partial_ok", "sync_partial_err"):
        assert stats_a[field] == stats_b[field] == 0
