"""``SentryKV``: the blocking client."""

from __future__ import annotations

from typing import Any

import redis

from sentrykv_client.stats import (
    CHECKPOINT_INTERVAL,
    PersistenceStats,
    config_value,
    interval_from_config,
    local_fsyncs,
    validate_interval,
)


class SentryKV(redis.Redis):
    """``redis.Redis`` with SentryKV's durability operations as typed methods."""

    def checkpoint(self) -> bool:
        """Write a snapshot now and wait for it (SAVE); afterwards the log can be truncated."""
        return bool(self.execute_command("SAVE"))

    def bgcheckpoint(self) -> bool:
        """Start a snapshot in the background (BGSAVE); poll :meth:`stats` to see it finish."""
        return bool(self.execute_command("BGSAVE"))

    def durability_barrier(self, timeout_ms: int = 0) -> int:
        """Block until every write this connection was acknowledged for is fsynced.

        Sends ``WAITAOF 1 0 timeout_ms`` and returns how many local fsyncs
        confirmed it: 1 on success, 0 if ``timeout_ms`` (> 0) ran out first.
        ``timeout_ms=0`` waits as long as it takes.
        """
        if timeout_ms < 0:
            raise ValueError("timeout_ms must be >= 0")
        return local_fsyncs(self.execute_command("WAITAOF", 1, 0, timeout_ms))

    def stats(self) -> PersistenceStats:
        """INFO persistence (plus the appendfsync setting) in one round trip."""
        pipe = self.pipeline(transaction=False)
        pipe.info("persistence")
        pipe.config_get("appendfsync")
        info, config = pipe.execute(raise_on_error=False)
        if isinstance(info, Exception):
            raise info
        appendfsync = None if isinstance(config, Exception) else config_value(config, "appendfsync")
        return PersistenceStats.from_info(info, appendfsync)

    def set_checkpoint_interval(self, ms: int | None) -> bool:
        """Checkpoint automatically every ``ms`` milliseconds; None or 0 turns it off."""
        return bool(self.config_set(CHECKPOINT_INTERVAL, validate_interval(ms)))

    def checkpoint_interval(self) -> int | None:
        """The automatic checkpoint period in ms (0 = off), or None if the server has no such setting."""
        reply: Any = self.config_get(CHECKPOINT_INTERVAL)
        return interval_from_config(reply)
