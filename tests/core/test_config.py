"""CONFIG GET/SET/RESETSTAT/REWRITE and the config file / command line precedence,
compared with redis-server wherever Redis defines the behaviour.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.core.helpers import Pair, call, raw_client
from tests.support.procs import RedisProcess, ServerProcess


@pytest.fixture(scope="module")
def pair(server: ServerProcess, reference: RedisProcess) -> Iterator[Pair]:
    mine, theirs = raw_client(server.port), raw_client(reference.port)
    yield Pair(mine, theirs)
    for client in (mine, theirs):  # leave the shared servers as they were
        call(client, "CONFIG", "SET", "maxclients", "10000", "timeout", "0", "hash-max-listpack-entries", "128")
        client.close()


def _names(client: redis.Redis, *patterns: str) -> set[bytes]:
    reply = call(client, "CONFIG", "GET", *patterns)
    assert isinstance(reply, list), reply
    return set(reply[::2])


@pytest.mark.parametrize("patterns", [["*max*"], ["maxmemory*"], ["hash-max-*"], ["*-ziplist-*"], ["[a-c]*"],
                                      ["appendonly"], ["maxclients", "timeout"], ["*clients*", "*timeout*"],
                                      ["nosuch"], ["MAXCLIENTS"], ["Max*"], ["?ind"]])
def test_config_get_patterns_match_redis(pair: Pair, patterns: list[str]) -> None:
    own = _names(pair.mine, "*") - _names(pair.theirs, "*")  # SentryKV's own directives (wal-*, ...)
    assert _names(pair.mine, *patterns) - own == _names(pair.theirs, *patterns)


def test_config_get_star_is_a_superset_of_redis(pair: Pair) -> None:
    mine, theirs = _names(pair.mine, "*"), _names(pair.theirs, "*")
    assert theirs - mine == set()


# Values that do not depend on the environment (port, dir) or on a deliberate SentryKV default.
COMPARABLE = ["maxclients", "timeout", "databases", "proto-max-bulk-len", "client-query-buffer-limit",
              "hash-max-listpack-entries", "hash-max-ziplist-entries", "maxmemory", "maxmemory-policy",
              "appendfsync", "hz", "slowlog-log-slower-than", "slowlog-max-len", "tcp-keepalive",
              "client-output-buffer-limit", "list-max-listpack-size", "lua-time-limit", "bind"]


def test_config_values_match_redis(pair: Pair) -> None:
    for name in COMPARABLE:
        assert call(pair.mine, "CONFIG", "GET", name) == call(pair.theirs, "CONFIG", "GET", name), name


CONFIG_SCRIPT = """
CONFIG GET
CONFIG SET
CONFIG SET maxclients
CONFIG SET maxclients 10 timeout
CONFIG SET foo bar
CONFIG SET maxclients 123 timeout abc
CONFIG GET maxclients
CONFIG SET maxclients 123 maxclients 124
CONFIG SET maxclients 123 MAXCLIENTS 124
CONFIG GET maxclients
CONFIG SET timeout 7 maxclients 0
CONFIG GET timeout
CONFIG SET timeout 7 maxclients 77
CONFIG GET timeout maxclients
CONFIG SET dir /tmp
CONFIG SET logfile /tmp/x
CONFIG SET dbfilename x.rdb
CONFIG SET daemonize yes
CONFIG SET databases 3
CONFIG SET hash-max-listpack-entries 256
CONFIG GET hash-max-listpack-entries
CONFIG GET hash-max-ziplist-entries
CONFIG SET hash-max-ziplist-entries 77
CONFIG GET hash-max-listpack-entries
CONFIG SET maxmemory 1gb
CONFIG GET maxmemory
CONFIG SET maxmemory 0
CONFIG SET maxmemory-policy allkeys-lru
CONFIG GET maxmemory-policy
CONFIG SET maxmemory-policy noeviction
CONFIG SET appendfsync foo
CONFIG SET save "900 1"
CONFIG GET save
CONFIG SET save ""
CONFIG SET slowlog-log-slower-than -1
CONFIG SET slowlog-log-slower-than -2
CONFIG SET slowlog-log-slower-than 10000
CONFIG SET MAXclients 10000
CONFIG GET MAXCLIENTS
CONFIG SET timeout 0
CONFIG RESETSTAT x
CONFIG REWRITE x
CONFIG HELP
CONFIG HELP x
CONFIG FOO
CONFIG GET requirepass
"""


def test_config_commands_match_redis(pair: Pair) -> None:
    script = [shlex.split(line) for line in CONFIG_SCRIPT.strip().splitlines()]
    pair.run(script)


def test_config_set_is_all_or_nothing(r: redis.Redis) -> None:
    before = r.config_get("maxclients", "timeout", "slowlog-max-len")
    with pytest.raises(redis.ResponseError, match="argument 'timeout'"):
        r.execute_command("CONFIG", "SET", "maxclients", "55", "slowlog-max-len", "9", "timeout", "-5")
    assert r.config_get("maxclients", "timeout", "slowlog-max-len") == before


def test_protected_config_error_text(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError) as info:
        r.config_set("dir", "/tmp")
    assert str(info.value) == "CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    with pytest.raises(redis.ResponseError) as info:
        r.config_set("no-such-parameter", "1")
    assert str(info.value) == "Unknown option or number of arguments for CONFIG SET - 'no-such-parameter'"


def test_redis_only_parameters_are_accepted_and_reported(r: redis.Redis) -> None:
    for name, value in [("hash-max-listpack-entries", "300"), ("zset-max-listpack-value", "80"),
                        ("lazyfree-lazy-eviction", "yes"), ("list-compress-depth", "2")]:
        assert r.config_set(name, value) is True
        assert r.config_get(name) == {name: value}
    assert r.config_get("hash-max-ziplist-entries") == {"hash-max-ziplist-entries": "300"}


def test_resetstat_clears_counters(r: redis.Redis) -> None:
    r.set("x", 1)
    for _ in range(20):
        r.get("x")
        r.get("nosuch")
    stats = r.info("stats")
    assert stats["keyspace_hits"] >= 20 and stats["keyspace_misses"] >= 20
    assert r.config_resetstat() is True
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 0 and stats["keyspace_misses"] == 0
    assert stats["total_commands_processed"] <= 2
    assert "cmdstat_get" not in r.info("commandstats")


# ---------------------------------------------------------------------------------------------
# Config file, command line, CONFIG REWRITE

CONF = """# SentryKV test configuration
maxclients 50
timeout 7
# a quoted value and an alias
hash-max-ziplist-entries 99
save ""
slowlog-max-len 33
"""


def _start_pair_with_file(extra: list[str]) -> tuple[ServerProcess, ServerProcess, str, str]:
    mine_file = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    theirs_file = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    for fh in (mine_file, theirs_file):
        fh.write(CONF)
        fh.close()
    mine = ServerProcess(args=["--appendonly", "no", *extra])
    mine.command = lambda: [*ServerProcess.command(mine)[:3], mine_file.name, *ServerProcess.command(mine)[3:]]  # type: ignore[method-assign]
    theirs = RedisProcess(args=extra)
    theirs.command = lambda: [RedisProcess.command(theirs)[0], theirs_file.name,  # type: ignore[method-assign]
                              *RedisProcess.command(theirs)[1:]]
    return mine.start(), theirs.start(), mine_file.name, theirs_file.name


def test_file_then_command_line_precedence_matches_redis() -> None:
    mine, theirs, f1, f2 = _start_pair_with_file(["--maxclients", "60", "--slowlog-max-len", "44"])
    try:
        a, b = raw_client(mine.port), raw_client(theirs.port)
        for name, want in [("maxclients", b"60"), ("timeout", b"7"), ("hash-max-listpack-entries", b"99"),
                           ("slowlog-max-len", b"44"), ("save", b"")]:
            got = call(a, "CONFIG", "GET", name)
            assert got == call(b, "CONFIG", "GET", name) == [name.encode(), want], name
        info = call(a, "INFO", "server")
        assert b"config_file:" + os.path.abspath(f1).encode() in info
        a.close()
        b.close()
    finally:
        for proc in (mine, theirs):
            proc.stop()
            proc.cleanup()
        os.unlink(f1)
        os.unlink(f2)


def test_config_rewrite_keeps_comments_and_persists_changes() -> None:
    mine, theirs, f1, f2 = _start_pair_with_file([])
    try:
        for proc in (mine, theirs):
            client = raw_client(proc.port)
            assert call(client, "CONFIG", "SET", "maxclients", "123", "hash-max-listpack-entries", "77",
                        "timeout", "0") == b"OK"
            assert call(client, "CONFIG", "REWRITE") == b"OK"
            client.close()
        text = Path(f1).read_text()
        assert text.startswith("# SentryKV test configuration\n")
        assert "# a quoted value and an alias" in text
        lines = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
        assert ["maxclients", "123"] in lines
        assert not any(w[0] == "timeout" and w[1:] != ["0"] for w in lines)
        mine.restart()
        client = raw_client(mine.port)
        assert call(client, "CONFIG", "GET", "maxclients", "hash-max-listpack-entries", "timeout") == [
            b"maxclients", b"123", b"hash-max-listpack-entries", b"77", b"timeout", b"0"]
        client.close()
    finally:
        for proc in (mine, theirs):
            proc.stop()
            proc.cleanup()
        os.unlink(f1)
        os.unlink(f2)


def test_config_rewrite_without_file_matches_redis(pair: Pair) -> None:
    assert call(pair.mine, "CONFIG", "REWRITE") == call(pair.theirs, "CONFIG", "REWRITE")
    assert call(pair.mine, "CONFIG", "REWRITE") == ("ERR", "The server is running without a config file")


def test_bad_config_file_fails_to_start() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as fh:
        fh.write("maxclients lots\n")
    proc = ServerProcess(args=["--appendonly", "no"])
    proc.command = lambda: [*ServerProcess.command(proc)[:3], fh.name, *ServerProcess.command(proc)[3:]]  # type: ignore[method-assign]
    try:
        proc.start(wait=False)
        assert proc.proc is not None and proc.proc.wait(20) == 1
        assert "FATAL CONFIG FILE ERROR" in proc.log_text()
    finally:
        proc.stop()
        proc.cleanup()
        os.unlink(fh.name)
