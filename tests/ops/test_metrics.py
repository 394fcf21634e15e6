"""--metrics-port: Prometheus text with the durability metrics Redis does not have;
INFO keeps the field names redis_exporter reads."""

from __future__ import annotations

import time
import urllib.request

from tests.support.procs import RedisProcess, ServerProcess, free_port


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_durability_metrics_endpoint() -> None:
    mport = free_port()
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always", "--metrics-port", str(mport)]).start()
    try:
        r = srv.client()
        for i in range(50):
            r.set(f"k{i}", "v")
        time.sleep(0.2)
        m = scrape(mport)
        assert m["sentrykv_fsync_seconds_count"] >= 1
        assert m["sentrykv_group_commit_batch_commands_sum"] >= 50
        assert m["sentrykv_wal_durable_lsn"] >= 1
        assert m["sentrykv_wal_durable_lag"] == 0
        assert 'sentrykv_fsync_seconds_bucket{le="+Inf"}' in m
        info = r.info("persistence")
        assert int(info["wal_commands_per_fsync_max"]) >= 1
    finally:
        srv.stop()
        srv.cleanup()


# Fields redis_exporter turns into its standard metrics (a subset that dashboards chart).
EXPORTER_FIELDS = {
    "server": ["redis_version", "uptime_in_seconds", "process_id", "tcp_port", "run_id"],
    "clients": ["connected_clients", "blocked_clients", "maxclients"],
    "memory": ["used_memory", "used_memory_rss", "used_memory_peak", "maxmemory", "mem_fragmentation_ratio"],
    "persistence": ["loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
                    "rdb_last_bgsave_status", "aof_enabled", "aof_rewrite_in_progress", "aof_last_write_status"],
    "stats": ["total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
              "rejected_connections", "expired_keys", "evicted_keys", "keyspace_hits", "keyspace_misses",
              "pubsub_channels", "pubsub_patterns", "total_net_input_bytes", "total_net_output_bytes"],
    "replication": ["role", "connected_slaves", "master_repl_offset"],
    "cpu": ["used_cpu_sys", "used_cpu_user"],
}


def test_info_has_the_fields_redis_exporter_reads() -> None:
    ours = ServerProcess(args=["--appendonly", "no"]).start()
    ref = RedisProcess().start()
    try:
        for section, fields in EXPORTER_FIELDS.items():
            mine = ours.client().info(section)
            theirs = ref.client().info(section)
            for field in fields:
                assert field in theirs, f"test list is wrong about {section}.{field}"
                assert field in mine, f"INFO {section} lacks {field}"
        ours.client().set("a", "1")
        assert ours.client().info("keyspace")["db0"]["keys"] == 1
        stats = ours.client().info("commandstats")
        assert stats["cmdstat_set"]["calls"] >= 1
    finally:
        ours.stop()
        ref.stop()
        ours.cleanup()
        ref.cleanup()
