"""The server starts, answers redis-py in RESP2 and RESP3, and stops cleanly on SIGTERM."""

from __future__ import annotations

import redis

from tests.support.procs import ServerProcess


def test_set_get_resp2_and_resp3(server: ServerProcess) -> None:
    r2 = server.client()
    r2.flushall()
    assert r2.set("k", "v") is True
    assert r2.get("k") == b"v"
    r3 = server.client(protocol=3)
    assert r3.get("k") == b"v"
    assert r3.execute_command("HELLO", "3")[b"proto"] == 3
    assert r3.execute_command("CLIENT", "ID") > 0
    r2.close()
    r3.close()


def test_graceful_sigterm_exit_code() -> None:
    srv = ServerProcess(args=["--appendonly", "no"]).start()
    try:
        assert srv.client().ping()
        assert srv.stop() == 0
    finally:
        srv.cleanup()


def test_unknown_command_keeps_connection(server: ServerProcess) -> None:
    r = server.client()
    try:
        r.execute_command("NOSUCHCMD", "a")
        raise AssertionError("expected an error")
    except redis.ResponseError as exc:
        assert str(exc).startswith("unknown command 'NOSUCHCMD'")
    assert r.ping()
