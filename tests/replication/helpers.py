"""Real replication topologies on loopback: SentryKV and redis-server masters and replicas,
redis-sentinel processes, and dataset comparison.

Every process is started on a free port in its own directory and stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.support.procs import RedisProcess, ServerProcess


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what} (last value {last!r})")


def info(client: redis.Redis, section: str = "replication") -> dict[str, Any]:
    return client.info(section)  # type: ignore[no-any-return]


def replica_synced(replica: redis.Redis, master: redis.Redis) -> bool:
    """The replica's link is up and it has applied everything the master produced."""
    r = info(replica)
    m = info(master)
    return (r.get("master_link_status") == "up" and r.get("master_sync_in_progress") == 0
            and r.get("slave_repl_offset") == m["master_repl_offset"])


def wait_synced(replica: redis.Redis, master: redis.Redis, timeout: float = 30.0) -> None:
    try:
        wait_for(lambda: replica_synced(replica, master), timeout, "the replica to catch up")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: replica {info(replica)}, master {info(master)}") from None


class SentryKV(ServerProcess):
    """A SentryKV server started from a config file in its data directory (so that
    CONFIG REWRITE, which Sentinel sends in its failover transaction, has a file to write)."""

    def __init__(self, args: list[str] | None = None, durable: bool = True) -> None:
        base = ["--appendonly", "yes", "--appendfsync", "always"] if durable else ["--appendonly", "no"]
        super().__init__(args=base + list(args or []))
        self.conf = os.path.join(self.dir, "sentrykv.conf")
        Path(self.conf).write_text("# written by the tests; Sentinel may rewrite it\n")

    def command(self) -> list[str]:
        cmd = super().command()
        return [*cmd[:3], self.conf, *cmd[3:]]

    def replica_of(self, master: ServerProcess) -> SentryKV:
        with open(self.conf, "a", encoding="utf-8") as fh:
            fh.write(f"replicaof 127.0.0.1 {master.port}\n")
        return self


def sentrykv(args: list[str] | None = None, durable: bool = True) -> SentryKV:
    return SentryKV(args, durable)


def redis_server(args: list[str] | None = None) -> RedisProcess:
    return RedisProcess(args=["--enable-debug-command", "yes", *(args or [])])


def dataset(client: redis.Redis, databases: int = 16) -> dict[tuple[int, bytes], Any]:
    """Every key of every database: type, value, whether it has a TTL."""
    out: dict[tuple[int, bytes], Any] = {}
    conn = redis.Redis(connection_pool=client.connection_pool)
    for db in range(databases):
        conn.execute_command("SELECT", db)
        for key in conn.scan_iter(count=1000):
            kind = conn.type(key).decode()
            value: Any
            if kind == "string":
                value = conn.get(key)
            elif kind == "hash":
                value = sorted(conn.hgetall(key).items())
            elif kind == "list":
                value = conn.lrange(key, 0, -1)
            elif kind == "set":
                value = sorted(conn.smembers(key))
            elif kind == "zset":
                value = conn.zrange(key, 0, -1, withscores=True)
            elif kind == "stream":
                groups = [(g["name"], g["last-delivered-id"], g["pending"]) for g in conn.xinfo_groups(key)]
                value = (conn.xrange(key), sorted(groups))
            else:
                value = None
            out[(db, key)] = (kind, value, conn.pttl(key) > 0)
    conn.execute_command("SELECT", 0)
    return out


def populate(client: redis.Redis, n: int, prefix: str = "k", db: int = 0) -> None:
    """Keys of every type, in pipelines."""
    pipe = client.pipeline(transaction=False)
    if db:
        pipe.execute_command("SELECT", db)
    for i in range(n):
        pipe.set(f"{prefix}:s:{i}", f"value-{i}" * (1 + i % 5))
        if i % 5 == 0:
            pipe.hset(f"{prefix}:h:{i}", mapping={"a": i, "b": "x" * (i % 70)})
            pipe.rpush(f"{prefix}:l:{i}", *[f"e{j}" for j in range(i % 7 + 1)])
            pipe.sadd(f"{prefix}:set:{i}", *range(i % 9 + 1))
            pipe.zadd(f"{prefix}:z:{i}", {f"m{j}": j * 1.5 for j in range(i % 6 + 1)})
        if i % 50 == 0:
            pipe.set(f"{prefix}:ttl:{i}", "t", ex=10_000)
        if len(pipe) >= 1000:
            pipe.execute()
            if db:
                pipe.execute_command("SELECT", db)
    pipe.execute()


class SentinelProcess(ServerProcess):
    """A real redis-sentinel (Debian's package) watching one master."""

    def __init__(self, master_port: int, quorum: int = 2, name: str = "mymaster",
                 down_after_ms: int = 1000, failover_timeout_ms: int = 6000) -> None:
        super().__init__()
        self.conf = os.path.join(self.dir, "sentinel.conf")
        Path(self.conf).write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
            f"sentinel failover-timeout {name} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {name} 2\n"
        )

    def command(self) -> list[str]:
        exe = shutil.which("redis-sentinel")
        if exe is None:
            raise RuntimeError("redis-sentinel is not installed: run `make redis-tools`")
        return [exe, self.conf]

    def client(self, **kw: object) -> redis.Redis:
        kw.setdefault("socket_timeout", 5)
        return super().client(**kw)
