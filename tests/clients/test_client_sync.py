"""SentryKV (blocking client) against redis-server, and the SentryKV-only parts against SentryKV."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from sentrykv_client import PersistenceStats, SentryKV

from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture
def kv(reference: RedisProcess) -> Iterator[SentryKV]:
    client = SentryKV(port=reference.port, socket_timeout=30)
    client.flushall()
    yield client
    client.close()


def test_is_a_redis_client(kv: SentryKV) -> None:
    assert isinstance(kv, redis.Redis)
    kv.set("a", 1)
    assert kv.get("a") == b"1"
    pipe = kv.pipeline()
    pipe.incr("n")
    pipe.incr("n")
    assert pipe.execute() == [1, 2]


def test_from_url_builds_a_sentrykv(reference: RedisProcess) -> None:
    client = SentryKV.from_url(f"redis://127.0.0.1:{reference.port}/0")
    assert isinstance(client, SentryKV)
    assert client.ping()
    client.close()


def test_checkpoint_is_a_save(kv: SentryKV) -> None:
    kv.set("x", 1)
    assert (kv.stats().rdb_changes_since_last_save or 0) >= 1
    assert kv.checkpoint() is True
    assert kv.stats().rdb_changes_since_last_save == 0


def test_bgcheckpoint_runs_in_background(kv: SentryKV) -> None:
    before = kv.stats().rdb_saves or 0
    kv.set("x", 1)
    assert kv.bgcheckpoint() is True
    deadline = time.monotonic() + 10
    while True:
        stats = kv.stats()
        if not stats.checkpoint_in_progress and (stats.rdb_saves or 0) > before:
            break
        assert time.monotonic() < deadline, stats
        time.sleep(0.05)
    assert stats.rdb_last_bgsave_status == "ok"


def test_stats_on_redis(kv: SentryKV) -> None:
    stats = kv.stats()
    assert isinstance(stats, PersistenceStats)
    assert stats.aof_enabled is False
    assert stats.appendfsync == "everysec"  # from CONFIG GET: Redis has no such INFO field
    assert stats.loading is False
    assert isinstance(stats.rdb_last_save_time, int) and stats.rdb_last_save_time > 0
    # SentryKV-only fields are absent, not zero.
    assert stats.wal_written_lsn is None and stats.wal_durable_lsn is None and stats.wal_fsyncs is None
    assert stats.unsynced_lsns is None
    assert "aof_rewrites" in stats.raw  # everything else is kept


def test_from_info_tolerates_odd_values() -> None:
    stats = PersistenceStats.from_info({"aof_enabled": "1", "wal_written_lsn": "12", "wal_durable_lsn": 10,
                                        "rdb_saves": "n/a", "appendfsync": b"always", "future_field": 3})
    assert stats.aof_enabled is True
    assert stats.unsynced_lsns == 2
    assert stats.rdb_saves is None
    assert stats.appendfsync == "always"
    assert stats.raw["future_field"] == 3


def test_redis_has_no_checkpoint_interval(kv: SentryKV) -> None:
    assert kv.checkpoint_interval() is None
    with pytest.raises(redis.ResponseError):
        kv.set_checkpoint_interval(1000)


def test_bad_arguments_are_rejected_locally(kv: SentryKV) -> None:
    with pytest.raises(ValueError):
        kv.set_checkpoint_interval(-5)
    with pytest.raises(ValueError):
        kv.durability_barrier(-1)


def test_redis_7_0_has_no_waitaof(kv: SentryKV) -> None:
    with pytest.raises(redis.ResponseError, match="(?i)unknown command"):
        kv.durability_barrier()


# ---- against SentryKV itself -------------------------------------------------------------


@pytest.fixture
def skv(durable_server: ServerProcess) -> Iterator[SentryKV]:
    client = SentryKV(port=durable_server.port, socket_timeout=30)
    client.flushall()
    yield client
    client.close()


def test_sentrykv_reports_wal_progress(skv: SentryKV) -> None:
    skv.set("a", 1)
    stats = skv.stats()
    assert stats.aof_enabled is True
    assert stats.appendfsync == "always"
    assert isinstance(stats.wal_written_lsn, int) and stats.wal_written_lsn >= 1
    assert isinstance(stats.wal_durable_lsn, int)
    assert stats.wal_durable_lsn <= stats.wal_written_lsn
    assert isinstance(stats.wal_fsyncs, int)
    skv.set("b", 2)
    assert (skv.stats().wal_written_lsn or 0) > stats.wal_written_lsn


def test_sentrykv_durability_barrier(skv: SentryKV) -> None:
    skv.set("a", 1)
    assert skv.durability_barrier() == 1
    stats = skv.stats()
    assert stats.unsynced_lsns == 0
    assert skv.durability_barrier(timeout_ms=1000) == 1


def test_sentrykv_checkpoint_interval_round_trip(skv: SentryKV) -> None:
    try:
        assert skv.set_checkpoint_interval(2000) is True
        assert skv.checkpoint_interval() == 2000
        assert skv.set_checkpoint_interval(None) is True
        assert skv.checkpoint_interval() == 0
    finally:
        skv.config_set("checkpoint-interval-ms", 0)


def test_sentrykv_checkpoint(skv: SentryKV) -> None:
    skv.set("a", 1)
    assert skv.checkpoint() is True
    assert skv.stats().rdb_changes_since_last_save == 0
