"""INFO in Redis's text format, with Redis's field names.

Field names matter: redis-cli, redis_exporter and client libraries parse
them.  Sections are functions returning ``[(field, value), ...]``; the
persistence layer and the checkpointer contribute their own fields through
``info_fields()``.
"""

from __future__ import annotations

import itertools
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentrykv_server import REDIS_COMPAT_VERSION, __version__, buildinfo
from sentrykv_server.commands.registry import COMMANDS, total_calls
from sentrykv_server.memory import anon_rss_bytes
from sentrykv_server.protocol.reply import Verbatim
from sentrykv_server.store.memory import human

if TYPE_CHECKING:
    from sentrykv_server.server import Server

Fields = list[tuple[str, Any]]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def section_server(s: Server) -> Fields:
    now = time.time()
    uptime = int(now - s.started)
    return [
        ("redis_version", REDIS_COMPAT_VERSION),
        ("sentrykv_version", __version__),
        ("sentrykv_build", buildinfo.build_kind()),
        ("sentrykv_compiled_modules", len(buildinfo.compiled_modules())),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "sentrykv"),
        ("redis_mode", "standalone"),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll" if type(s.loop).__module__.startswith("uvloop") else "asyncio"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("event_loop", type(s.loop).__module__.split(".")[0]),
        ("python_version", platform.python_version()),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", s.run_id),
        ("tcp_port", s.port),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", s.config.hz),
        ("configured_hz", s.config.hz),
        ("lru_clock", s.keyspace.clock.lru),
        ("executable", sys.argv[0]),
        ("config_file", s.config.config_file or ""),
        ("io_threads_active", 0),
    ]


def section_clients(s: Server) -> Fields:
    clients = s.clients.values()
    return [
        ("connected_clients", len(s.clients) - len(s.repl.replicas)),  # replicas are not clients here
        ("cluster_connections", 0),
        ("maxclients", s.config.maxclients),
        ("client_recent_max_input_buffer", 0),
        ("client_recent_max_output_buffer", max((c.held_bytes for c in clients), default=0)),
        ("blocked_clients", s.blocking.count()),
        ("tracking_clients", s.tracking.clients),
        ("clients_in_timeout_table", s.blocking.count()),
        ("pubsub_clients", sum(1 for c in clients if c.channels or c.patterns)),
        ("held_reply_clients", len(s.holding)),
    ]


def _scripting_memory(s: Server) -> Fields:
    """The Lua fields of INFO memory; one Lua heap serves EVAL and functions."""
    from sentrykv_server.scripting.eval import cached_scripts
    from sentrykv_server.scripting.functions import function_counts

    engine = s.lua_engine
    vm = engine.memory() if engine is not None else 0
    scripts, scripts_mem = cached_scripts(s)
    libraries, functions, functions_mem = function_counts(s)
    return [
        ("used_memory_lua", vm),
        ("used_memory_vm_eval", vm),
        ("used_memory_lua_human", human(vm)),
        ("used_memory_scripts_eval", scripts_mem),
        ("number_of_cached_scripts", scripts),
        ("number_of_functions", functions),
        ("number_of_libraries", libraries),
        ("used_memory_vm_functions", 0),
        ("used_memory_vm_total", vm),
        ("used_memory_vm_total_human", human(vm)),
        ("used_memory_functions", functions_mem),
        ("used_memory_scripts", scripts_mem + functions_mem),
        ("used_memory_scripts_human", human(scripts_mem + functions_mem)),
    ]


def section_memory(s: Server) -> Fields:
    """Redis 7.0's memory fields from the accounting model (sentrykv_server/memory.py)."""
    m = s.memory.stats()
    used, rss, peak = m["used"], m["rss"], m["peak"]
    maxmemory = s.evictor.maxmemory
    system = _total_system_memory()
    # No allocator reports per-object bytes here: "allocated" is the model, "active" and
    # "resident" the anonymous memory the allocators hold (pymalloc arenas and the malloc
    # heap); the rest of the RSS is mapped code (rss_overhead).
    allocated = used
    active = resident = anon_rss_bytes()
    return [
        ("used_memory", used),
        ("used_memory_human", human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", human(peak)),
        ("used_memory_peak_perc", f"{m['peak_perc']:.2f}%"),
        ("used_memory_overhead", m["overhead"]),
        ("used_memory_startup", m["startup"]),
        ("used_memory_dataset", m["dataset"]),
        ("used_memory_dataset_perc", f"{m['dataset_perc']:.2f}%"),
        ("allocator_allocated", allocated),
        ("allocator_active", active),
        ("allocator_resident", resident),
        ("total_system_memory", system),
        ("total_system_memory_human", human(system)),
        *_scripting_memory(s),
        ("maxmemory", maxmemory),
        ("maxmemory_human", human(maxmemory)),
        ("maxmemory_policy", s.evictor.policy),
        ("allocator_frag_ratio", f"{active / allocated if allocated else 0:.2f}"),
        ("allocator_frag_bytes", active - allocated),
        ("allocator_rss_ratio", f"{resident / active if active else 0:.2f}"),
        ("allocator_rss_bytes", resident - active),
        ("rss_overhead_ratio", f"{rss / resident if resident else 0:.2f}"),
        ("rss_overhead_bytes", rss - resident),
        ("mem_fragmentation_ratio", f"{m['frag']:.2f}"),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", m["aof_buffer"]),
        ("mem_replication_backlog", s.repl.backlog.histlen if s.repl.backlog is not None else 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", m["clients_normal"]),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", m["aof_buffer"]),
        ("mem_allocator", "pymalloc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _total_system_memory() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * _PAGE
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 0


def section_persistence(s: Server) -> Fields:
    fields: Fields = [
        ("loading", 0),
        ("async_loading", int(s.repl.loading)),  # a replica loading a full sync still serves reads
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", s.keyspace.dirty),
        ("rdb_last_save_time", s.lastsave),
    ]
    if s.checkpointer is not None:
        fields += s.checkpointer.info_fields()
    else:
        fields += [
            ("rdb_bgsave_in_progress", 0),
            ("rdb_last_bgsave_status", "ok"),
            ("rdb_last_bgsave_time_sec", -1),
            ("rdb_current_bgsave_time_sec", -1),
            ("aof_rewrite_in_progress", 0),
            ("aof_rewrite_scheduled", 0),
            ("aof_last_rewrite_time_sec", -1),
            ("aof_current_rewrite_time_sec", -1),
            ("aof_last_bgrewrite_status", "ok"),
            ("aof_rewrites", 0),
        ]
    fields.append(("aof_enabled", 1 if s.aof is not None else 0))
    if s.aof is not None:
        fields += s.aof.info_fields()
    else:
        fields += [("aof_last_write_status", "ok")]
    # Redis 7.0 persistence fields SentryKV has no equivalent for (no fork, no RDB load).
    present = {name for name, _ in fields}
    fields += [(name, value) for name, value in _PERSISTENCE_DEFAULTS if name not in present]
    info = s.recovery_info
    fields += [
        ("recovery_snapshot_entries", info.get("snapshot_entries", 0)),
        ("recovery_wal_frames", info.get("wal_frames", 0)),
        ("recovery_truncated_file", info.get("truncated_file", "")),
        ("recovery_truncated_offset", info.get("truncated_offset", -1)),
        ("recovery_truncated_bytes", info.get("truncated_bytes", 0)),
        ("recovery_seconds", f"{info.get('seconds', 0.0):.3f}"),
    ]
    return fields


_PERSISTENCE_DEFAULTS: Fields = [
    ("current_cow_size_age", 0), ("rdb_last_cow_size", 0), ("rdb_last_load_keys_expired", 0),
    ("rdb_last_load_keys_loaded", 0), ("aof_rewrites_consecutive_failures", 0), ("aof_last_cow_size", 0),
    ("module_fork_in_progress", 0), ("module_fork_last_cow_size", 0),
]


def section_stats(s: Server) -> Fields:
    from sentrykv_server.replication.info import stats_fields

    st = s.stats
    ks = s.keyspace
    exceeded_total, exceeded_now = s.evictor.exceeded_ms()
    repl = stats_fields(s)
    return [
        ("total_connections_received", st.connections_received),
        ("total_commands_processed", total_calls()),
        ("instantaneous_ops_per_sec", st.instantaneous_ops()),
        ("total_net_input_bytes", st.net_input_bytes),
        ("total_net_output_bytes", st.net_output_bytes),
        ("total_net_repl_input_bytes", repl["total_net_repl_input_bytes"]),
        ("total_net_repl_output_bytes", repl["total_net_repl_output_bytes"]),
        ("instantaneous_input_kbps", "0.00"),
        ("instantaneous_output_kbps", "0.00"),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", st.rejected_connections),
        ("sync_full", repl["sync_full"]),
        ("sync_partial_ok", repl["sync_partial_ok"]),
        ("sync_partial_err", repl["sync_partial_err"]),
        ("expired_keys", ks.expired_keys),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", ks.evicted_keys),
        ("evicted_clients", st.evicted_clients),
        ("total_eviction_exceeded_time", exceeded_total),
        ("current_eviction_exceeded_time", exceeded_now),
        ("keyspace_hits", ks.hits),
        ("keyspace_misses", ks.misses),
        ("pubsub_channels", s.pubsub.channel_count()),
        ("pubsub_patterns", s.pubsub.pattern_count()),
        ("pubsubshard_channels", getattr(s.pubsub, "shard_channel_count", lambda: 0)()),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", len(s.tracking.table)),
        ("tracking_total_items", s.tracking.items),
        ("tracking_total_prefixes", len(s.tracking.prefixes)),
        ("unexpected_error_replies", 0),
        ("total_error_replies", st.rejected_calls + sum(c.failed_calls for c in COMMANDS.values())),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", 0),
        ("total_writes_processed", 0),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
        ("protocol_errors", st.protocol_errors),
    ]


def section_replication(s: Server) -> Fields:
    from sentrykv_server.replication.info import section_replication as fields

    return fields(s)


def section_cpu(s: Server) -> Fields:
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        ("used_cpu_sys", f"{self_usage.ru_stime:.6f}"),
        ("used_cpu_user", f"{self_usage.ru_utime:.6f}"),
        ("used_cpu_sys_children", f"{child.ru_stime:.6f}"),
        ("used_cpu_user_children", f"{child.ru_utime:.6f}"),
        ("used_cpu_sys_main_thread", f"{self_usage.ru_stime:.6f}"),
        ("used_cpu_user_main_thread", f"{self_usage.ru_utime:.6f}"),
    ]


def section_modules(s: Server) -> Fields:
    return []


def section_errorstats(s: Server) -> Fields:
    return []


def section_cluster(s: Server) -> Fields:
    return [("cluster_enabled", 0)]


def section_keyspace(s: Server) -> Fields:
    out: Fields = []
    now = s.keyspace.now()
    for db in s.keyspace.dbs:
        if db.data:
            out.append((f"db{db.id}", f"keys={len(db.data)},expires={len(db.expires)},avg_ttl={_avg_ttl(db, now)}"))
    return out


def _avg_ttl(db: Any, now: int) -> int:
    """Mean remaining TTL in ms, like Redis an estimate: from up to 1024 keys with a TTL."""
    sample = [when - now for when in itertools.islice(db.expires.values(), 1024) if when > now]
    return sum(sample) // len(sample) if sample else 0


def section_latencystats(s: Server) -> Fields:
    return []


def section_commandstats(s: Server) -> Fields:
    out: Fields = []
    for cmd in sorted(COMMANDS.values(), key=lambda c: c.name):
        for entry in (cmd, *cmd.subcommands.values()):
            if entry.calls or entry.rejected_calls or entry.failed_calls:
                per = entry.usec / entry.calls if entry.calls else 0.0
                out.append((
                    f"cmdstat_{entry.full_name}",
                    f"calls={entry.calls},usec={entry.usec},usec_per_call={per:.2f},"
                    f"rejected_calls={entry.rejected_calls},failed_calls={entry.failed_calls}",
                ))
    return out


SECTIONS: dict[str, Callable[[Server], Fields]] = {
    "server": section_server,
    "clients": section_clients,
    "memory": section_memory,
    "persistence": section_persistence,
    "stats": section_stats,
    "replication": section_replication,
    "cpu": section_cpu,
    "modules": section_modules,
    "errorstats": section_errorstats,
    "cluster": section_cluster,
    "keyspace": section_keyspace,
    "commandstats": section_commandstats,
    "latencystats": section_latencystats,
}
# INFO ALL / EVERYTHING list the sections in this order (Redis 7.0's genRedisInfoString).
ALL = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
       "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]
DEFAULT = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
           "modules", "errorstats", "cluster", "keyspace"]


def render_info(server: Server, wanted: list[str]) -> str:
    if not wanted or wanted == ["default"]:
        names = DEFAULT
    elif "all" in wanted or "everything" in wanted:
        names = list(ALL)
    else:
        names = []
        for w in wanted:
            if w == "default":
                names += DEFAULT
            elif w in SECTIONS and w not in names:
                names.append(w)
    parts = []
    for name in names:
        fields = SECTIONS[name](server)
        title = "Commandstats" if name == "commandstats" else name.capitalize()
        if name == "cpu":
            title = "CPU"
        body = "".join(f"{k}:{v}\r\n" for k, v in fields)
        parts.append(f"# {title}\r\n{body}")
    return "\r\n".join(parts)


from sentrykv_server.commands.registry import command  # noqa: E402


@command("info", -1, "loading stale", group="server")
def info_cmd(c: Any, argv: list[bytes]) -> Any:
    """Information and statistics about the server."""
    wanted = [a.decode("utf-8", "replace").lower() for a in argv[1:]]
    return Verbatim(render_info(c.server, wanted).encode())
