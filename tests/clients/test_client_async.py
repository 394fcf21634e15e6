"""AsyncSentryKV: the same helpers, awaited."""

from __future__ import annotations

import asyncio

import pytest
import redis
from sentrykv_client import AsyncSentryKV, PersistenceStats

from tests.support.procs import RedisProcess, ServerProcess


async def test_async_against_redis(reference: RedisProcess) -> None:
    kv = AsyncSentryKV(port=reference.port)
    try:
        assert isinstance(kv, redis.asyncio.Redis)
        await kv.set("k", "v")
        assert await kv.get("k") == b"v"
        stats = await kv.stats()
        assert isinstance(stats, PersistenceStats)
        assert stats.aof_enabled is False and stats.wal_durable_lsn is None
        assert stats.appendfsync == "everysec"
        assert await kv.checkpoint() is True
        assert (await kv.stats()).rdb_changes_since_last_save == 0
        assert await kv.checkpoint_interval() is None
        with pytest.raises(redis.ResponseError):
            await kv.durability_barrier()
        with pytest.raises(ValueError):
            await kv.set_checkpoint_interval(-1)
    finally:
        await kv.aclose()


async def test_async_against_sentrykv(durable_server: ServerProcess) -> None:
    kv = AsyncSentryKV(port=durable_server.port)
    try:
        # Concurrent writers, then one barrier: everything acknowledged is durable.
        await asyncio.gather(*(kv.set(f"k{i}", i) for i in range(50)))
        assert await kv.durability_barrier() == 1
        stats = await kv.stats()
        assert stats.aof_enabled is True
        assert stats.wal_written_lsn is not None and stats.wal_written_lsn >= 1  # one frame per loop pass, not per write
        assert stats.unsynced_lsns == 0
        assert await kv.set_checkpoint_interval(1500) is True
        assert await kv.checkpoint_interval() == 1500
        assert await kv.set_checkpoint_interval(0) is True
    finally:
        await kv.aclose()
