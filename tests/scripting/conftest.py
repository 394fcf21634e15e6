"""Fixtures of the scripting tests: a Differ over SentryKV and redis-server (both emptied of
data, cached scripts and function libraries before each test) and the Lua libraries' runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.scripting.luadiff import LuaDiff
from tests.support.procs import RedisProcess, ServerProcess
from tests.types.diff import Differ


@pytest.fixture(scope="module")
def luadiff(reference: RedisProcess) -> Iterator[LuaDiff]:
    client = reference.client()
    yield LuaDiff(client)
    client.close()


def port_of(client: redis.Redis) -> int:
    return int(client.connection_pool.connection_kwargs["port"])


def clean(client: redis.Redis) -> None:
    client.flushall()
    client.script_flush()
    client.function_flush()


@pytest.fixture
def sdiff(r: redis.Redis, ref: redis.Redis) -> Iterator[Differ]:
    clean(r)
    clean(ref)
    d = Differ(port_of(r), port_of(ref))
    yield d
    d.close()


def same(d: Differ, *args: bytes | str | int, proto: int = 2) -> object:
    """Run on both servers; the tagged replies must be identical. Returns SentryKV's."""
    got, want = d.both(*args, proto=proto)
    assert got == want, f"{args!r} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}"
    return got


@pytest.fixture
def durable() -> Iterator[ServerProcess]:
    """A fresh SentryKV with appendfsync always, for one test (tests kill -9 and restart it)."""
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always"]).start()
    yield srv
    srv.stop()
    srv.cleanup()
