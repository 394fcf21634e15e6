"""``AsyncSentryKV``: the asyncio client (same methods, awaited)."""

from __future__ import annotations

from typing import Any

import redis.asyncio

from sentrykv_client.stats import (
    CHECKPOINT_INTERVAL,
    PersistenceStats,
    config_value,
    interval_from_config,
    local_fsyncs,
    validate_interval,
)


class AsyncSentryKV(redis.asyncio.Redis):
    """``redis.asyncio.Redis`` with SentryKV's durability operations; see :class:`SentryKV`."""

    async def checkpoint(self) -> bool:
        return bool(await self.execute_command("SAVE"))

    async def bgcheckpoint(self) -> bool:
        return bool(await self.execute_command("BGSAVE"))

    async def durability_barrier(self, timeout_ms: int = 0) -> int:
        if timeout_ms < 0:
            raise ValueError("timeout_ms must be >= 0")
        return local_fsyncs(await self.execute_command("WAITAOF", 1, 0, timeout_ms))

    async def stats(self) -> PersistenceStats:
        pipe = self.pipeline(transaction=False)
        pipe.info("persistence")
        pipe.config_get("appendfsync")
        info, config = await pipe.execute(raise_on_error=False)
        if isinstance(info, Exception):
            raise info
        appendfsync = None if isinstance(config, Exception) else config_value(config, "appendfsync")
        return PersistenceStats.from_info(info, appendfsync)

    async def set_checkpoint_interval(self, ms: int | None) -> bool:
        return bool(await self.config_set(CHECKPOINT_INTERVAL, validate_interval(ms)))

    async def checkpoint_interval(self) -> int | None:
        reply: Any = await self.config_get(CHECKPOINT_INTERVAL)
        return interval_from_config(reply)
