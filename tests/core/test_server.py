"""Server commands and tools: INFO field names, COMMAND, DEBUG DIGEST, SHUTDOWN / SIGTERM,
redis-cli one-shot commands and redis-benchmark.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator

import pytest
import redis

from tests.core.helpers import Pair, RawConn, call, encode_command, raw_client
from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture(scope="module")
def pair(server: ServerProcess, reference: RedisProcess) -> Iterator[Pair]:
    mine, theirs = raw_client(server.port), raw_client(reference.port)
    yield Pair(mine, theirs)
    mine.close()
    theirs.close()


# ---------------------------------------------------------------------------------------------
# INFO

# Fields redis_exporter (oliver006/redis_exporter) turns into metrics, limited to the sections
# server, clients, stats, persistence and keyspace, and to what Redis 7.0 reports there.
EXPORTER_FIELDS = {
    "server": ["uptime_in_seconds", "process_id", "redis_version", "redis_build_id", "redis_mode", "os",
               "tcp_port", "run_id", "executable", "config_file"],
    "clients": ["connected_clients", "blocked_clients", "tracking_clients", "client_recent_max_output_buffer",
                "client_recent_max_input_buffer", "maxclients"],
    "persistence": ["loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
                    "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec",
                    "rdb_last_cow_size", "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
                    "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec", "aof_last_cow_size",
                    "aof_last_bgrewrite_status", "aof_last_write_status", "module_fork_in_progress",
                    "module_fork_last_cow_size"],
    "stats": ["total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
              "total_net_input_bytes", "total_net_output_bytes", "rejected_connections", "expired_keys",
              "expired_stale_perc", "expired_time_cap_reached_count", "evicted_keys", "keyspace_hits",
              "keyspace_misses", "pubsub_channels", "pubsub_patterns", "latest_fork_usec",
              "migrate_cached_sockets", "active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits",
              "active_defrag_key_misses", "sync_full", "sync_partial_ok", "sync_partial_err",
              "slave_expires_tracked_keys", "total_error_replies"],
    "memory": ["used_memory", "used_memory_rss", "used_memory_peak", "used_memory_lua", "used_memory_overhead",
               "used_memory_startup", "used_memory_dataset", "used_memory_scripts", "maxmemory",
               "maxmemory_policy", "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_clients_slaves",
               "mem_clients_normal", "mem_not_counted_for_evict", "lazyfree_pending_objects",
               "active_defrag_running", "allocator_active", "allocator_allocated", "allocator_resident"],
    "replication": ["role", "connected_slaves", "repl_backlog_size", "repl_backlog_active",
                    "repl_backlog_first_byte_offset", "repl_backlog_histlen", "master_repl_offset",
                    "second_repl_offset"],
    "cpu": ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"],
}


def _info_fields(client: redis.Redis, section: str) -> dict[str, str]:
    text = call(client, "INFO", section)
    assert isinstance(text, bytes), text
    fields = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name] = value
    return fields


@pytest.mark.parametrize("section", list(EXPORTER_FIELDS))
def test_info_has_the_fields_monitoring_uses(pair: Pair, section: str) -> None:
    mine, theirs = _info_fields(pair.mine, section), _info_fields(pair.theirs, section)
    wanted = set(EXPORTER_FIELDS[section])
    assert wanted <= set(theirs), f"test list is wrong for Redis 7.0: {wanted - set(theirs)}"
    assert wanted <= set(mine), f"missing in SentryKV INFO {section}: {sorted(wanted - set(mine))}"


@pytest.mark.parametrize("section", ["server", "clients", "stats", "persistence", "memory", "replication", "cpu"])
def test_info_field_names_superset_of_redis(pair: Pair, section: str) -> None:
    mine, theirs = _info_fields(pair.mine, section), _info_fields(pair.theirs, section)
    assert set(theirs) - set(mine) == set()


def test_info_keyspace_format(pair: Pair) -> None:
    for client in (pair.mine, pair.theirs):
        call(client, "FLUSHALL")
        call(client, "MSET", "a", "1", "b", "2")
        call(client, "SET", "c", "3", "EX", "1000")
        call(client, "SELECT", "2")
        call(client, "SET", "d", "4")
        call(client, "SELECT", "0")
    mine, theirs = _info_fields(pair.mine, "keyspace"), _info_fields(pair.theirs, "keyspace")
    assert set(mine) == set(theirs) == {"db0", "db2"}
    assert mine["db2"] == theirs["db2"] == "keys=1,expires=0,avg_ttl=0"
    keys, expires, avg = (part.split("=") for part in mine["db0"].split(","))
    assert (keys, expires) == (["keys", "3"], ["expires", "1"]) and avg[0] == "avg_ttl"
    assert 990_000 <= int(avg[1]) <= 1_000_000


@pytest.mark.parametrize("args", [["INFO", "server", "clients"], ["INFO", "all"], ["INFO", "everything"],
                                  ["INFO"], ["INFO", "default"], ["INFO", "nosuch"], ["INFO", "SERVER"],
                                  ["INFO", "commandstats"]])
def test_info_section_selection_matches_redis(pair: Pair, args: list[str]) -> None:
    def titles(client: redis.Redis) -> list[str]:
        text = call(client, *args)
        return [line for line in text.decode().splitlines() if line.startswith("#")]

    assert titles(pair.mine) == titles(pair.theirs)


def test_info_counters_move(r: redis.Redis) -> None:
    before = r.info("stats")
    r.set("x", "1")
    r.get("x")
    r.get("nosuch")
    after = r.info("stats")
    assert after["total_commands_processed"] >= before["total_commands_processed"] + 3
    assert after["keyspace_hits"] == before["keyspace_hits"] + 1
    assert after["keyspace_misses"] == before["keyspace_misses"] + 1
    assert "cmdstat_get" in r.info("commandstats")


# ---------------------------------------------------------------------------------------------
# COMMAND

COMMAND_SCRIPT = """
COMMAND COUNT x
COMMAND LIST x
COMMAND LIST FILTERBY
COMMAND LIST FILTERBY foo bar
COMMAND HELP x
COMMAND GETKEYS
COMMAND GETKEYS foo
COMMAND GETKEYS foo bar
COMMAND GETKEYS get
COMMAND GETKEYS get a b
COMMAND GETKEYS ping x
COMMAND GETKEYS set a b
COMMAND GETKEYS mset a b c d
COMMAND GETKEYS del a b c
COMMAND GETKEYS rename a b
COMMAND GETKEYS copy a b
COMMAND GETKEYS lcs a b
COMMAND GETKEYS expire a 1
COMMAND GETKEYS getex k
COMMAND GETKEYS mget a b c
COMMAND INFO nosuch
COMMAND DOCS nosuch
COMMAND FOO
"""


def test_command_subcommands_match_redis(pair: Pair) -> None:
    pair.run([shlex.split(line) for line in COMMAND_SCRIPT.strip().splitlines()])


def test_command_count_list_and_info_agree(pair: Pair) -> None:
    count = call(pair.mine, "COMMAND", "COUNT")
    names = call(pair.mine, "COMMAND", "LIST")
    table = call(pair.mine, "COMMAND")
    assert count == len(names) == len(table) > 100
    assert {b"get", b"set", b"config", b"client", b"command", b"info", b"scan"} <= set(names)
    assert {entry[0] for entry in table} == set(names)
    redis_names = set(call(pair.theirs, "COMMAND", "LIST"))
    for args in (["PATTERN", "getr*"], ["ACLCAT", "keyspace"], ["ACLCAT", "@string"]):
        mine = set(call(pair.mine, "COMMAND", "LIST", "FILTERBY", *args)) & redis_names
        theirs = set(call(pair.theirs, "COMMAND", "LIST", "FILTERBY", *args)) & set(names)
        assert mine == theirs, args


@pytest.fixture(scope="module")
def core_commands(pair: Pair) -> list[bytes]:
    """Redis's string, keyspace, connection and server commands that SentryKV implements."""
    mine = set(call(pair.mine, "COMMAND", "LIST"))
    docs = call(pair.theirs, "COMMAND", "DOCS")
    names = []
    for name, doc in zip(docs[::2], docs[1::2], strict=True):
        fields = dict(zip(doc[::2], doc[1::2], strict=True))
        if fields[b"group"] in (b"string", b"generic", b"connection", b"server") and name in mine:
            names.append(name)
    assert len(names) > 60
    return names


def _info(client: redis.Redis, name: bytes | str) -> object:
    """COMMAND INFO with subcommands sorted: Redis lists them in (seeded) hash-table order."""
    def norm(entry: object) -> object:
        if isinstance(entry, list) and len(entry) == 10:
            return [*entry[:9], sorted((norm(sub) for sub in entry[9]), key=repr)]
        return entry

    reply = call(client, "COMMAND", "INFO", name)
    return [norm(entry) for entry in reply] if isinstance(reply, list) else reply


def test_command_info_matches_redis(pair: Pair, core_commands: list[bytes]) -> None:
    """Name, arity, flags, key positions, ACL categories, tips, key specs, subcommands."""
    different = [name for name in core_commands if _info(pair.mine, name) != _info(pair.theirs, name)]
    assert different == []


@pytest.mark.parametrize("name", ["config|get", "client|list", "object|encoding", "nosuch", "get|nosuch"])
def test_command_info_of_subcommands_matches_redis(pair: Pair, name: str) -> None:
    assert _info(pair.mine, name) == _info(pair.theirs, name)


def test_command_docs_match_redis(server: ServerProcess, reference: RedisProcess,
                                  core_commands: list[bytes]) -> None:
    mine, theirs = raw_client(server.port, 3), raw_client(reference.port, 3)  # RESP3: maps compare as dicts
    try:
        different = [name for name in core_commands
                     if call(mine, "COMMAND", "DOCS", name) != call(theirs, "COMMAND", "DOCS", name)]
        assert different == []
    finally:
        mine.close()
        theirs.close()


SERVER_SCRIPT = """
SLOWLOG GET abc
SLOWLOG GET -2
SLOWLOG GET 1 2
SLOWLOG LEN x
SLOWLOG RESET x
SLOWLOG FOO
SLOWLOG HELP
SLOWLOG RESET
SLOWLOG LEN
LATENCY FOO
LATENCY LATEST x
LATENCY DOCTOR x
LATENCY HELP
LATENCY HISTORY
LATENCY LATEST
TIME x
LASTSAVE x
FUNCTION FOO
FUNCTION LIST
FUNCTION FLUSH
FUNCTION FLUSH foo
SCRIPT FOO
SCRIPT EXISTS a b
SCRIPT FLUSH
SCRIPT FLUSH ASYNC
MONITOR x
SHUTDOWN FOO
SHUTDOWN ABORT
DBSIZE x
ECHO
"""


def test_server_commands_match_redis(pair: Pair) -> None:
    pair.run([shlex.split(line) for line in SERVER_SCRIPT.strip().splitlines()])


# ---------------------------------------------------------------------------------------------
# DEBUG DIGEST


def test_debug_digest_stable_and_data_dependent(r: redis.Redis) -> None:
    empty = r.execute_command("DEBUG", "DIGEST")
    assert empty == b"0" * 40
    r.set("a", "1")
    r.set("b", "2", ex=1000)
    first = r.execute_command("DEBUG", "DIGEST")
    assert len(first) == 40 and first != empty
    assert r.execute_command("DEBUG", "DIGEST") == first
    r.set("a", "changed")
    changed = r.execute_command("DEBUG", "DIGEST")
    assert changed != first
    r.set("a", "1")
    assert r.execute_command("DEBUG", "DIGEST") == first  # same data, same digest
    r.execute_command("SELECT", 1)
    r.set("a", "1")
    r.execute_command("SELECT", 0)
    assert r.execute_command("DEBUG", "DIGEST") != first  # the database number counts
    values = r.execute_command("DEBUG", "DIGEST-VALUE", "a", "nosuch")
    assert len(values) == 2 and values[1] == b"0" * 40 and values[0] != values[1]


def test_debug_digest_independent_of_insertion_order(server: ServerProcess, r: redis.Redis) -> None:
    r.mset({f"k{i}": i for i in range(50)})
    forward = r.execute_command("DEBUG", "DIGEST")
    r.flushall()
    for i in reversed(range(50)):
        r.set(f"k{i}", i)
    assert r.execute_command("DEBUG", "DIGEST") == forward


# ---------------------------------------------------------------------------------------------
# Process lifecycle


def test_shutdown_nosave_exits_zero() -> None:
    proc = ServerProcess(args=["--appendonly", "no"]).start()
    try:
        with RawConn(proc.port) as conn:
            conn.send(encode_command("SET", "k", "v") + encode_command("SHUTDOWN", "NOSAVE"))
            data, closed = conn.read_until_closed(10)
        assert data == b"+OK\r\n" and closed
        assert proc.proc is not None
        assert proc.proc.wait(10) == 0
    finally:
        proc.stop()
        proc.cleanup()


def test_shutdown_rejects_bad_arguments(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SHUTDOWN", "MAYBE")
    assert r.ping()


def test_sigterm_exits_zero_while_clients_are_connected() -> None:
    proc = ServerProcess(args=["--appendonly", "no"]).start()
    try:
        with RawConn(proc.port) as conn:
            conn.send(encode_command("PING"))
            assert conn.read_replies(1) == [b"PONG"]
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGTERM)
            assert proc.proc.wait(10) == 0
            assert conn.read_until_closed(5)[1]
        assert "ready to exit" in proc.log_text()
    finally:
        proc.stop()
        proc.cleanup()


# ---------------------------------------------------------------------------------------------
# Redis tools against SentryKV

CLI_COMMANDS = [
    ["PING"], ["SET", "cli", "hello world"], ["GET", "cli"], ["GET", "nosuch"], ["INCR", "n"], ["INCR", "cli"],
    ["MSET", "a", "1", "b", "2"], ["MGET", "a", "b", "nosuch"], ["DBSIZE"], ["EXISTS", "a", "b"],
    ["TYPE", "cli"], ["EXPIRE", "cli", "100"], ["PERSIST", "cli"], ["TTL", "cli"], ["INCRBYFLOAT", "f", "1.5"],
    ["CONFIG", "GET", "maxclients"], ["ECHO", "multi\nline"], ["NOSUCHCMD"], ["DEL", "a", "b", "cli", "n", "f"],
]


def _cli(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("redis-cli")
    assert exe is not None, "redis-cli is not installed (make redis-tools)"
    return subprocess.run([exe, "-p", str(port), *args], capture_output=True, text=True, timeout=30)


def test_redis_cli_one_shot_commands_match_redis(server: ServerProcess, reference: RedisProcess) -> None:
    for port in (server.port, reference.port):
        assert _cli(port, "FLUSHALL").stdout == "OK\n"
    for cmd in CLI_COMMANDS:
        mine, theirs = _cli(server.port, *cmd), _cli(reference.port, *cmd)
        assert (mine.returncode, mine.stdout) == (theirs.returncode, theirs.stdout), cmd
    assert _cli(server.port, "--no-raw", "GET", "nosuch").stdout == "(nil)\n"
    info = _cli(server.port, "INFO", "server").stdout
    assert "redis_version:7." in info


def test_redis_cli_pipe_mode(server: ServerProcess) -> None:
    exe = shutil.which("redis-cli")
    assert exe is not None
    payload = "".join(f"SET pipe:{i} {i}\r\n" for i in range(1000))
    done = subprocess.run([exe, "-p", str(server.port), "--pipe"], input=payload, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors: 0, replies: 1000" in done.stdout
    assert _cli(server.port, "GET", "pipe:999").stdout == "999\n"


def test_redis_benchmark_has_no_errors(server: ServerProcess) -> None:
    exe = shutil.which("redis-benchmark")
    assert exe is not None, "redis-benchmark is not installed (make redis-tools)"
    done = subprocess.run([exe, "-p", str(server.port), "-q", "-t", "ping,set,get,incr,mset", "-n", "20000"],
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Error from server" not in output and "ERR" not in output, output
    for test in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"):
        assert f"\n{test}: " in output and "requests per second" in output, output
