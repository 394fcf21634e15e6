"""Slow scripts: BUSY for others, SCRIPT KILL / FUNCTION KILL, UNKILLABLE, SHUTDOWN NOSAVE.

Each scenario runs on SentryKV and on redis-server with the same low
busy-reply-threshold and must observe the same replies; the killers are
real second clients, including a new ``redis-cli`` process that connects
while the script runs.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.procs import RedisProcess, ServerProcess
from tests.types.rawresp import RawConnection

THRESHOLD_MS = 150
BUSY_EVAL = b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = b"BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."


@pytest.fixture(params=["sentrykv", "redis"])
def busy_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    args = ["--busy-reply-threshold", str(THRESHOLD_MS)]
    if request.param == "sentrykv":
        srv: ServerProcess = ServerProcess(args=["--appendonly", "yes", *args]).start()
    else:
        srv = RedisProcess(args=args).start()
    yield srv
    srv.stop()
    srv.cleanup()


def wait_busy(port: int, timeout: float = 10.0) -> None:
    conn = RawConnection(port)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if conn.call("PING")[0] == "error":
                return
            time.sleep(0.02)
        raise AssertionError("the script never became BUSY")
    finally:
        conn.close()


def cli(port: int, *args: str) -> str:
    exe = shutil.which("redis-cli")
    assert exe is not None, "redis-cli is part of the reference tools"
    out = subprocess.run([exe, "-p", str(port), *args], capture_output=True, text=True, timeout=20)
    return out.stdout.strip()


def start(port: int, *args: str) -> RawConnection:
    runner = RawConnection(port, timeout=30)
    runner.send(*args)
    return runner


def scenario_kill_eval(port: int) -> list[Any]:
    other = RawConnection(port)
    other.call("SET", "x", "1")
    runner = start(port, "EVAL", "local i = 0 while true do i = i + 1 end", "0")
    wait_busy(port)
    seen = [other.call("PING"), other.call("GET", "x"), other.call("FUNCTION", "KILL"),
            other.call("FUNCTION", "STATS"), other.call("SHUTDOWN"), other.call("MULTI"),
            other.call("SET", "y", "1"), other.call("DISCARD"), other.call("CLIENT", "LIST")]
    fresh = RawConnection(port)
    seen.append(fresh.call("HELLO", "3")[0])
    seen.append(fresh.call("ECHO", "x"))
    seen.append(cli(port, "SCRIPT", "KILL"))
    seen.append(runner.read())
    seen.append(cli(port, "SCRIPT", "KILL"))
    seen += [other.call("PING"), fresh.call("GET", "x"), other.call("GET", "y")]
    for conn in (other, fresh, runner):
        conn.close()
    return seen


def scenario_unkillable(port: int) -> list[Any]:
    other = RawConnection(port)
    start(port, "EVAL", "redis.call('set', 'written', '1') while true do end", "0")
    wait_busy(port)
    seen = [other.call("SCRIPT", "KILL"), other.call("FUNCTION", "KILL")]
    seen.append(cli(port, "SHUTDOWN", "NOSAVE"))
    return seen


def scenario_kill_function(port: int) -> list[Any]:
    other = RawConnection(port)
    code = ("#!lua name=spin\nredis.register_function('spin', function() while true do end end)\n"
            "redis.register_function{function_name='spin_ro', callback=function() "
            "local ok = pcall(function() while true do end end) while true do end end, flags={'no-writes'}}")
    other.call("FUNCTION", "LOAD", code)
    seen = []
    for name, command in (("spin", "FCALL"), ("spin_ro", "FCALL_RO")):
        runner = start(port, command, name, "0")
        wait_busy(port)
        items = other.call("FUNCTION", "STATS")[1]
        running = {k[1]: v for k, v in zip(items[0::2], items[1::2], strict=True)}
        entry = running[b"running_script"][1]
        fields = {k[1]: v for k, v in zip(entry[0::2], entry[1::2], strict=True)}
        seen += [fields[b"name"], fields[b"command"], fields[b"duration_ms"][0]]
        seen += [other.call("PING"), other.call("SCRIPT", "KILL"), other.call("FUNCTION", "KILL")]
        seen.append(runner.read())
        runner.close()
    seen.append(other.call("PING"))
    return seen


def scenario_kill_inside_pcall_and_coroutine(port: int) -> list[Any]:
    other = RawConnection(port)
    seen = []
    for body in (
        "local ok, e = pcall(function() while true do end end) while true do end",
        "local co = coroutine.wrap(function() while true do end end) co()",
        "while true do pcall(function() end) end",
    ):
        runner = start(port, "EVAL", body, "0")
        wait_busy(port)
        seen.append(other.call("SCRIPT", "KILL"))
        seen.append(runner.read())
        runner.close()
    seen.append(other.call("PING"))
    return seen


def both(scenario: Callable[[int], list[Any]], srv: ServerProcess) -> list[Any]:
    return scenario(srv.port)


_RESULTS: dict[str, dict[str, list[Any]]] = {}


@pytest.mark.parametrize("scenario", [scenario_kill_eval, scenario_unkillable, scenario_kill_function,
                                      scenario_kill_inside_pcall_and_coroutine])
def test_busy_scenarios_match_redis(busy_server: ServerProcess, scenario: Callable[[int], list[Any]]) -> None:
    seen = scenario(busy_server.port)
    kind = "redis" if isinstance(busy_server, RedisProcess) else "sentrykv"
    results = _RESULTS.setdefault(scenario.__name__, {})
    results[kind] = seen
    if scenario is scenario_unkillable:
        busy_server.proc.wait(20)  # type: ignore[union-attr]
        assert busy_server.proc.returncode == 0  # type: ignore[union-attr]
    if len(results) == 2:
        assert results["sentrykv"] == results["redis"], results


def test_unkillable_script_shutdown_nosave_drops_its_writes() -> None:
    """SHUTDOWN NOSAVE during a script that wrote: the process exits, the write is not logged."""
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "always",
                              "--busy-reply-threshold", str(THRESHOLD_MS)]).start()
    try:
        client = srv.client()
        client.set("before", "1")
        start(srv.port, "EVAL", "redis.call('set', 'written', '1') while true do end", "0")
        wait_busy(srv.port)
        assert cli(srv.port, "SHUTDOWN", "NOSAVE") == ""
        assert srv.proc is not None and srv.proc.wait(20) == 0
        srv.start()
        client = srv.client()
        assert client.get("before") == b"1"
        assert client.get("written") is None
    finally:
        srv.stop()
        srv.cleanup()


def test_busy_serves_pipelines_and_many_new_connections() -> None:
    srv = ServerProcess(args=["--appendonly", "no", "--busy-reply-threshold", "100"]).start()
    try:
        runner = start(srv.port, "EVAL", "while true do end", "0")
        wait_busy(srv.port)
        conns = [RawConnection(srv.port) for _ in range(20)]
        for conn in conns:
            conn.send("PING")
            conn.send("GET", "k")
            assert conn.read() == ("error", BUSY_EVAL)
            assert conn.read() == ("error", BUSY_EVAL)
        assert conns[0].call("SCRIPT", "KILL") == ("status", b"OK")
        assert runner.read()[0] == "error"
        for conn in conns:
            assert conn.call("PING") == ("status", b"PONG")
            conn.close()
        assert "Slow script detected" in srv.log_text()
    finally:
        srv.stop()
        srv.cleanup()
