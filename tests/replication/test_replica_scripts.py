"""Scripts on replicas, SentryKV against redis-server 7.0.15 replicas of one Redis master:
a script's declared flags decide READONLY and MASTERDOWN before it runs, as Redis's
getCommandFlags does (a shebang script that may write is a write; one without allow-stale
is refused on a stale replica; a script without a shebang gets MASTERDOWN there)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.replication.helpers import redis_server, sentrykv, wait_for, wait_synced

LIB = (
    "#!lua name=l1\n"
    "redis.register_function('w', function() return redis.call('set', 'x', 'z') end)\n"
    "redis.register_function{function_name='ro', callback=function() return 5 end, flags={'no-writes'}}\n"
    "redis.register_function{function_name='st', callback=function() return 6 end, "
    "flags={'no-writes', 'allow-stale'}}\n"
)

SCRIPTS: list[tuple[Any, ...]] = [
    ("EVAL", "#!lua\nreturn 1", 0),
    ("EVAL", "return 1", 0),
    ("EVAL", "return redis.call('set', 'q', '1')", 0),
    ("EVAL", "#!lua flags=no-writes\nreturn 1", 0),
    ("EVAL", "#!lua flags=no-writes,allow-stale\nreturn 2", 0),
    ("EVAL_RO", "return redis.call('get', 'x')", 0),
    ("FCALL", "w", 0),
    ("FCALL_RO", "w", 0),
    ("FCALL", "ro", 0),
    ("FCALL_RO", "st", 0),
    ("GET", "x"),
    ("CONFIG", "GET", "maxmemory"),
]


def _replies(client: redis.Redis) -> list[Any]:
    out: list[Any] = []
    for cmd in SCRIPTS:
        try:
            out.append(client.execute_command(*cmd))
        except redis.ResponseError as exc:
            out.append(("error", str(exc)))
    return out


@pytest.fixture
def replicas() -> Iterator[tuple[redis.Redis, redis.Redis, redis.Redis, list[Any]]]:
    master = redis_server().start()
    ours = sentrykv().start()
    ref = redis_server().start()
    procs: list[Any] = [master, ours, ref]
    m = master.client()
    m.set("x", "v")
    m.function_load(LIB)
    clients = [ours.client(), ref.client()]
    for c in clients:
        c.replicaof("127.0.0.1", master.port)
    for c in clients:
        wait_synced(c, m)
    yield m, clients[0], clients[1], procs
    for c in [m, *clients]:
        c.close()
    for proc in procs:
        proc.stop()
        proc.cleanup()


def test_scripts_on_replicas(replicas: tuple[redis.Redis, redis.Redis, redis.Redis, list[Any]]) -> None:
    m, ours, ref, procs = replicas
    assert _replies(ours) == _replies(ref)
    for c in (ours, ref):
        c.config_set("replica-serve-stale-data", "no")
    procs[0].stop()  # the master goes away: both replicas are stale
    for c in (ours, ref):
        wait_for(lambda c=c: c.info("replication")["master_link_status"] == "down", what="link down")
    stale_ours, stale_ref = _replies(ours), _replies(ref)
    assert stale_ours == stale_ref
    assert ("error", "Link with MASTER is down and replica-serve-stale-data is set to 'no'.") in stale_ref
