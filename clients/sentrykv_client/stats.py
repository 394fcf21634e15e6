"""``PersistenceStats``: INFO persistence as a typed, forward-compatible dataclass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

CHECKPOINT_INTERVAL = "checkpoint-interval-ms"


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    number = _int(value)
    if number is not None:
        return number != 0
    if isinstance(value, str) and value.lower() in ("yes", "no"):
        return value.lower() == "yes"
    return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True)
class PersistenceStats:
    """What the server says about durability; None means "this server does not report it".

    The ``wal_*`` fields are SentryKV's; plain Redis leaves them None. ``raw``
    keeps every field of INFO persistence, including ones this class predates.
    """

    loading: bool | None = None
    aof_enabled: bool | None = None
    appendfsync: str | None = None
    aof_rewrite_in_progress: bool | None = None
    aof_last_write_status: str | None = None
    rdb_bgsave_in_progress: bool | None = None
    rdb_changes_since_last_save: int | None = None
    rdb_saves: int | None = None
    rdb_last_save_time: int | None = None
    rdb_last_bgsave_status: str | None = None
    wal_written_lsn: int | None = None
    wal_durable_lsn: int | None = None
    wal_fsyncs: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def checkpoint_in_progress(self) -> bool | None:
        """A checkpoint is a background save: this is ``rdb_bgsave_in_progress``."""
        return self.rdb_bgsave_in_progress

    @property
    def unsynced_lsns(self) -> int | None:
        """How many logged writes are not yet fsynced (written - durable LSN)."""
        if self.wal_written_lsn is None or self.wal_durable_lsn is None:
            return None
        return self.wal_written_lsn - self.wal_durable_lsn

    @classmethod
    def from_info(cls, info: Mapping[str, Any], appendfsync: str | None = None) -> PersistenceStats:
        """Build from redis-py's parsed ``INFO persistence`` dict.

        ``appendfsync`` is a configuration value rather than an INFO field in
        Redis; callers pass what CONFIG GET said when INFO does not carry it.
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "raw":
                continue
            value = info.get(f.name)
            # f.type is the annotation text ("bool | None"), postponed by __future__.
            convert = _bool if "bool" in str(f.type) else _int if "int" in str(f.type) else _str
            values[f.name] = convert(value)
        if values["appendfsync"] is None:
            values["appendfsync"] = appendfsync
        return cls(**values, raw=dict(info))


def config_value(reply: Any, name: str) -> str | None:
    """One value out of a CONFIG GET reply (dict in redis-py); None if absent or an error."""
    if isinstance(reply, Mapping):
        return _str(reply.get(name))
    return None


def interval_from_config(reply: Any) -> int | None:
    return _int(config_value(reply, CHECKPOINT_INTERVAL))


def validate_interval(ms: int | None) -> int:
    """None and 0 both mean "no automatic checkpoints"."""
    if ms is None:
        return 0
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
        raise ValueError(f"checkpoint interval must be a whole number of milliseconds >= 0, got {ms!r}")
    return ms


def local_fsyncs(reply: Any) -> int:
    """WAITAOF replies ``[numlocal, numreplicas]``; the barrier's answer is numlocal."""
    if isinstance(reply, list | tuple) and reply:
        return int(reply[0])
    raise ValueError(f"unexpected WAITAOF reply: {reply!r}")
