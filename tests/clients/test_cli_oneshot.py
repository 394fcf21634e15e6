"""One-shot mode: flags, vocabulary words and the exit codes scripts rely on."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.clients.clitools import DroppingServer, run_cli
from tests.support.procs import RedisProcess, free_port

OK, SERVER_ERROR, USAGE, CANNOT_CONNECT = 0, 1, 2, 3


def test_ping(reference: RedisProcess) -> None:
    result = run_cli("-p", str(reference.port), "ping")
    assert (result.returncode, result.stdout, result.stderr) == (OK, b"PONG\n", b"")


def test_set_then_get(reference: RedisProcess, ref: redis.Redis) -> None:
    port = str(reference.port)
    assert run_cli("-p", port, "set", "user:1", "alice").stdout == b"OK\n"
    assert ref.get("user:1") == b"alice"
    assert run_cli("-p", port, "--no-raw", "get", "user:1").stdout == b'"alice"\n'
    # The command's own arguments may start with '-': they are not options.
    assert run_cli("-p", port, "set", "neg", "-1").returncode == OK
    assert ref.get("neg") == b"-1"


def test_server_error_exits_1(reference: RedisProcess, ref: redis.Redis) -> None:
    ref.set("s", "not a number")
    result = run_cli("-p", str(reference.port), "--no-raw", "incr", "s")
    assert result.returncode == SERVER_ERROR
    assert result.stdout.startswith(b"(error) ERR value is not an integer")


def test_nil_is_not_an_error(reference: RedisProcess, ref: redis.Redis) -> None:
    assert run_cli("-p", str(reference.port), "get", "missing").returncode == OK


def test_cannot_connect_exits_3_with_a_clear_message() -> None:
    port = free_port()  # nothing listens there
    result = run_cli("-p", str(port), "ping")
    assert result.returncode == CANNOT_CONNECT
    assert result.stdout == b""
    assert result.stderr == f"Could not connect to SentryKV at 127.0.0.1:{port}: Connection refused\n".encode()


def test_cannot_connect_default_host_in_message() -> None:
    port = free_port()
    result = run_cli("-h", "127.0.0.1", "-p", str(port), "get", "k")
    assert b"Could not connect to SentryKV at 127.0.0.1:" in result.stderr
    assert b"Traceback" not in result.stderr


def test_connection_dropped_mid_command_exits_3(dropping_server: DroppingServer) -> None:
    result = run_cli("-p", str(dropping_server.port), "get", "k")
    assert result.returncode == CANNOT_CONNECT
    assert b"lost" in result.stderr and b"Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [
    ["--bogus"], ["-p"], ["-p", "notaport"], ["-p", "70000"], ["-n", "x"], ["-u", "http://x"],
    ["--cacert", "x.pem"],
])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    result = run_cli(*argv, "ping")
    assert result.returncode == USAGE
    assert b"sentrykv-cli --help" in result.stderr


def test_help_and_version_need_no_server() -> None:
    result = run_cli("--help")
    assert result.returncode == OK
    assert b"Exit status: 0 ok, 1" in result.stdout
    result = run_cli("-p", str(free_port()), "help")
    assert result.returncode == OK
    assert b"autockpt <ms|off>" in result.stdout
    assert run_cli("--version").stdout.startswith(b"sentrykv-cli ")


@pytest.mark.parametrize("words", [["size", "x"], ["clear", "x"], ["autockpt"], ["autockpt", "soon"],
                                   ["flush", "x"], ["keys", "a", "b"], ["stats", "x"]])
def test_bad_vocabulary_arguments_exit_2(reference: RedisProcess, words: list[str]) -> None:
    result = run_cli("-p", str(reference.port), *words)
    assert result.returncode == USAGE
    assert result.stderr.startswith(b"(error) usage: ")


def test_size_clear_keys(reference: RedisProcess, ref: redis.Redis) -> None:
    port = str(reference.port)
    ref.mset({"b": 1, "a": 2, "c": 3})
    assert run_cli("-p", port, "--no-raw", "size").stdout == b"(integer) 3\n"
    assert run_cli("-p", port, "--no-raw", "keys").stdout == b'1) "a"\n2) "b"\n3) "c"\n'
    assert run_cli("-p", port, "keys", "[ab]").stdout == b"a\nb\n"
    assert run_cli("-p", port, "clear").stdout == b"OK\n"
    assert ref.dbsize() == 0
    assert run_cli("-p", port, "--no-raw", "keys").stdout == b"(empty array)\n"


def test_scan_prefix_is_literal_and_sorted(reference: RedisProcess, ref: redis.Redis) -> None:
    keys = [b"user:2", b"user:10", b"user:1", b"us*r:1", b"use?:x", b"user[1]", b"u\\x", b"other"]
    for i, k in enumerate(keys):
        ref.set(k, i)
    ref.mset({f"bulk:{i}": i for i in range(2500)})  # several SCAN round trips
    port = str(reference.port)
    assert run_cli("-p", port, "scan", "user:").stdout == b"user:1\nuser:10\nuser:2\n"
    assert run_cli("-p", port, "scan", "us*").stdout == b"us*r:1\n"
    assert run_cli("-p", port, "scan", "use?").stdout == b"use?:x\n"
    assert run_cli("-p", port, "scan", "user[").stdout == b"user[1]\n"
    assert run_cli("-p", port, "scan", "u\\").stdout == b"u\\x\n"
    bulk = run_cli("-p", port, "scan", "bulk:").stdout.split()
    assert len(bulk) == 2500 and bulk == sorted(bulk)
    # With a cursor and options it is Redis' own SCAN.
    raw_scan = run_cli("-p", port, "--no-raw", "scan", "0", "MATCH", "other", "COUNT", "100000")
    assert raw_scan.stdout.startswith(b'1) "0"\n2) 1) "other"\n')


def test_select_with_n(reference: RedisProcess, ref: redis.Redis) -> None:
    port = str(reference.port)
    assert run_cli("-p", port, "-n", "2", "set", "in2", "x").returncode == OK
    assert ref.get("in2") is None
    assert redis.Redis(port=reference.port, db=2).get("in2") == b"x"
    assert run_cli("-p", port, "-n", "2", "size").stdout == b"1\n"


def test_stdin_as_last_argument(reference: RedisProcess, ref: redis.Redis) -> None:
    blob = bytes(range(256)) * 4
    assert run_cli("-p", str(reference.port), "-x", "set", "blob", stdin=blob).returncode == OK
    assert ref.get("blob") == blob


def test_uri(reference: RedisProcess, ref: redis.Redis) -> None:
    result = run_cli("-u", f"redis://127.0.0.1:{reference.port}/3", "set", "via-uri", "1")
    assert result.returncode == OK
    assert redis.Redis(port=reference.port, db=3).get("via-uri") == b"1"


def test_stats_and_status_on_redis_show_na_for_sentrykv_fields(reference: RedisProcess) -> None:
    port = str(reference.port)
    stats = run_cli("-p", port, "stats")
    assert stats.returncode == OK
    lines = stats.stdout.decode().splitlines()
    assert lines[0] == "Stats" and "Persistence" in lines and "Keyspace" in lines
    row = next(line for line in lines if "wal_durable_lsn" in line)
    assert row.split() == ["wal_durable_lsn", "n/a"]
    assert any(line.split()[:1] == ["total_commands_processed"] and line.split()[1].isdigit() for line in lines)
    # Aligned: every value starts in the same column.
    matches = [re.match(r"^  (\S.*?)\s{2,}(\S.*)$", line) for line in lines if line.startswith("  ")]
    assert all(matches) and len({m.start(2) for m in matches if m}) == 1

    status = run_cli("-p", port, "status").stdout.decode()
    rows = {line[:26].strip(): line[26:].strip() for line in status.splitlines()}
    assert rows["appendonly (WAL enabled)"] == "no"
    assert rows["appendfsync"] == "everysec"
    assert rows["checkpoint interval"] == "n/a"  # Redis has no checkpoint-interval-ms
    assert rows["checkpoint in progress"] == "no"
    assert rows["WAL written LSN"] == rows["WAL durable LSN"] == "n/a"


def test_checkpoint_is_save(reference: RedisProcess, ref: redis.Redis) -> None:
    before = ref.lastsave()
    ref.set("x", 1)
    result = run_cli("-p", str(reference.port), "checkpoint")
    assert (result.returncode, result.stdout) == (OK, b"OK\n")
    assert ref.info("persistence")["rdb_changes_since_last_save"] == 0
    assert ref.lastsave() >= before
    assert os.path.exists(os.path.join(reference.dir, "dump.rdb"))


def test_flush_and_autockpt_report_server_errors(reference: RedisProcess) -> None:
    # redis 7.0 has no WAITAOF and no checkpoint-interval-ms: the server's error is shown, exit 1.
    port = str(reference.port)
    flush = run_cli("-p", port, "--no-raw", "flush")
    assert flush.returncode == SERVER_ERROR
    assert flush.stdout.startswith(b"(error) ERR unknown command")
    autockpt = run_cli("-p", port, "--no-raw", "autockpt", "off")
    assert autockpt.returncode == SERVER_ERROR
    assert b"checkpoint-interval-ms" in autockpt.stdout


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[RedisProcess]:
    srv = RedisProcess(args=["--requirepass", "s3cret pass"])
    srv.start()
    yield srv
    srv.stop()
    srv.cleanup()


def test_password(locked_redis: RedisProcess) -> None:
    port = str(locked_redis.port)
    assert run_cli("-p", port, "-a", "s3cret pass", "ping").stdout == b"PONG\n"
    assert run_cli("-p", port, "ping", env={"SENTRYKV_CLI_AUTH": "s3cret pass"}).stdout == b"PONG\n"
    assert run_cli("-u", f"redis://:s3cret%20pass@127.0.0.1:{port}", "ping").stdout == b"PONG\n"
    noauth = run_cli("-p", port, "ping")
    assert noauth.returncode == SERVER_ERROR and noauth.stdout.startswith(b"NOAUTH")
    wrong = run_cli("-p", port, "-a", "wrong", "ping")
    assert wrong.returncode == SERVER_ERROR
    assert wrong.stderr.startswith(b"AUTH failed: WRONGPASS")


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "sentrykv-cli"
    assert script.exists(), "run `.venv/bin/pip install -e .` so the sentrykv-cli entry point exists"
    assert b"sentrykv-cli" in __import__("subprocess").run([str(script), "--version"], capture_output=True).stdout
