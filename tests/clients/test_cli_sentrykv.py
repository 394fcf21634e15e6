"""sentrykv-cli's durability words against a real SentryKV server."""

from __future__ import annotations

import redis

from tests.clients.clitools import run_cli
from tests.support.procs import ServerProcess


def _rows(text: bytes) -> dict[str, str]:
    rows = {}
    for line in text.decode().splitlines():
        name, sep, value = line.strip().partition("  ")
        if sep:
            rows[name.strip()] = value.strip()
    return rows


def test_status_shows_wal_progress(durable_server: ServerProcess) -> None:
    r = redis.Redis(port=durable_server.port)
    r.set("a", 1)
    result = run_cli("-p", str(durable_server.port), "status")
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    assert rows["appendonly (WAL enabled)"] == "yes"
    assert rows["appendfsync"] == "always"
    assert rows["checkpoint interval"] == "off"
    assert rows["checkpoint in progress"] == "no"
    written, durable = int(rows["WAL written LSN"]), int(rows["WAL durable LSN"])
    assert written >= 1 and durable <= written
    assert rows["written, not yet durable"] == str(written - durable)


def test_stats_show_wal_counters(durable_server: ServerProcess) -> None:
    result = run_cli("-p", str(durable_server.port), "stats")
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    for field in ("wal_written_lsn", "wal_durable_lsn", "wal_fsyncs", "total_commands_processed"):
        assert rows[field].isdigit(), (field, rows[field])


def test_autockpt_round_trip(durable_server: ServerProcess) -> None:
    port = str(durable_server.port)
    try:
        assert run_cli("-p", port, "autockpt", "2000").stdout == b"OK\n"
        assert _rows(run_cli("-p", port, "status").stdout)["checkpoint interval"] == "2000 ms"
        assert run_cli("-p", port, "autockpt", "off").stdout == b"OK\n"
        assert _rows(run_cli("-p", port, "status").stdout)["checkpoint interval"] == "off"
    finally:
        redis.Redis(port=durable_server.port).config_set("checkpoint-interval-ms", 0)


def test_flush_is_the_durability_barrier(durable_server: ServerProcess) -> None:
    port = str(durable_server.port)
    run_cli("-p", port, "set", "k", "v")
    result = run_cli("-p", port, "flush")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == b"OK: 1 local fsync confirmed; acknowledged writes are on disk\n"
    assert run_cli("-p", port, "flush", "500").returncode == 0


def test_checkpoint(durable_server: ServerProcess) -> None:
    port = str(durable_server.port)
    run_cli("-p", port, "set", "k", "v")
    result = run_cli("-p", port, "checkpoint")
    assert (result.returncode, result.stdout) == (0, b"OK\n")
    assert _rows(run_cli("-p", port, "status").stdout)["changes since checkpoint"] == "0"


def test_vocabulary_session(server: ServerProcess) -> None:
    """The reference engine's typical session, piped."""
    redis.Redis(port=server.port).flushall()
    script = b"set user:1 alice\nset user:2 bob\nget user:1\nexists user:2\nsize\nscan user:\ndel user:1\nkeys\n"
    result = run_cli("-p", str(server.port), stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK\nOK\nalice\n1\n2\nuser:1\nuser:2\n1\nuser:2\n"
