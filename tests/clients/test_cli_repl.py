"""The REPL: lines from stdin when piped, prompt_toolkit on a terminal (driven through a pty)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.clients.clitools import CLI, ROOT, PtyCli, cli_env, run_cli
from tests.support.procs import RedisProcess, free_port


def test_piped_lines_run_in_order(reference: RedisProcess, ref: redis.Redis) -> None:
    script = b'set user:1 alice\nset user:2 "bob smith"\nget user:2\n\nsize\nkeys\nexists user:1 nope\n'
    result = run_cli("-p", str(reference.port), stdin=script)
    assert result.returncode == 0
    assert result.stdout == b"OK\nOK\nbob smith\n2\nuser:1\nuser:2\n1\n"
    assert result.stderr == b""


def test_piped_human_style_on_request(reference: RedisProcess, ref: redis.Redis) -> None:
    result = run_cli("-p", str(reference.port), "--no-raw", stdin=b"get nope\nincr n\n")
    assert result.stdout == b"(nil)\n(integer) 1\n"


def test_piped_quit_stops_reading(reference: RedisProcess, ref: redis.Redis) -> None:
    result = run_cli("-p", str(reference.port), stdin=b"set a 1\nquit\nset b 2\n")
    assert result.returncode == 0
    assert ref.get("a") == b"1" and ref.get("b") is None


def test_piped_exit_code_is_the_first_failure(reference: RedisProcess, ref: redis.Redis) -> None:
    port = str(reference.port)
    result = run_cli("-p", port, stdin=b"set a 1\nincr a x y\nset b 2\n")
    assert result.returncode == 1
    assert ref.get("b") == b"2"  # later lines still ran
    result = run_cli("-p", port, stdin=b'set c "open\nincr a x y\nset d 2\n')
    assert result.returncode == 2
    assert result.stderr == b"Invalid argument(s)\n"
    assert ref.get("d") == b"2"


def test_piped_select_carries_over(reference: RedisProcess, ref: redis.Redis) -> None:
    result = run_cli("-p", str(reference.port), stdin=b"select 4\nset in4 yes\n")
    assert result.returncode == 0
    assert redis.Redis(port=reference.port, db=4).get("in4") == b"yes"
    assert ref.get("in4") is None


def test_piped_cannot_connect() -> None:
    port = free_port()
    result = run_cli("-p", str(port), stdin=b"ping\n")
    assert result.returncode == 3
    assert result.stderr == f"Could not connect to SentryKV at 127.0.0.1:{port}: Connection refused\n".encode()


def test_piped_server_dies_midway_exits_3(tmp_path: Path) -> None:
    srv = RedisProcess().start()
    try:
        script = b"set a 1\nshutdown nosave\nget a\n"
        result = run_cli("-p", str(srv.port), stdin=script)
        assert result.returncode == 3
        assert b"lost" in result.stderr and b"Traceback" not in result.stderr
        assert result.stdout.startswith(b"OK\n")
    finally:
        srv.stop()
        srv.cleanup()


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    srv = RedisProcess()
    srv.start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return tmp_path / "history"


# prompt_toolkit redraws the prompt and the typed line with cursor moves, so the
# tests wait for text that only a *reply* can produce (never part of what was typed).


def test_interactive_session(own_redis: RedisProcess, history: Path) -> None:
    port = own_redis.port
    cli = PtyCli("-p", str(port), env={"SENTRYKV_CLI_HISTFILE": str(history)})
    try:
        cli.expect(f"127.0.0.1:{port}>".encode())
        cli.line("set user:1 alice")
        cli.expect(b"OK")
        cli.line("get user:1")
        cli.expect(b'"alice"')
        cli.line("get nobody")
        cli.expect(b"(nil)")
        cli.line("nosuch")
        cli.expect(b"(error) ERR unknown command 'nosuch'")
        cli.line('set "broken')
        cli.expect(b"Invalid argument(s)")
        # Tab completes the command word: "siz" + Tab runs DBSIZE.
        cli.send(b"siz")
        cli.send(b"\t")
        cli.expect(b"size")
        cli.send(b"\r")
        cli.expect(b"(integer) 1")
        # select changes the prompt, like redis-cli.
        cli.line("select 3")
        cli.expect(f"127.0.0.1:{port}[3]>".encode())
        cli.line("quit")
        assert cli.wait() == 0
        assert b"Traceback" not in cli.seen
    finally:
        cli.close()
    assert "get user:1" in history.read_text()


def test_interactive_clear_asks_first(own_redis: RedisProcess) -> None:
    port = own_redis.port
    r = redis.Redis(port=port)
    r.set("keep", 1)
    cli = PtyCli("-p", str(port))
    try:
        cli.expect(f"127.0.0.1:{port}>".encode())
        cli.line("clear")
        cli.expect(b"Type yes to confirm:")
        cli.line("no")
        cli.expect(b"(cancelled)")
        assert r.get("keep") == b"1"
        cli.line("clear")
        cli.expect(b"Type yes to confirm:")
        cli.line("yes")
        cli.expect(b"OK")
        assert r.dbsize() == 0
        cli.expect(f"127.0.0.1:{port}>".encode())  # ^D must reach the prompt, not the cooked tty
        cli.send(b"\x04")  # Ctrl-D leaves
        assert cli.wait() == 0
    finally:
        cli.close()


def test_interactive_survives_server_restart(own_redis: RedisProcess) -> None:
    port = own_redis.port
    cli = PtyCli("-p", str(port))
    try:
        cli.expect(f"127.0.0.1:{port}>".encode())
        cli.line("select 1")
        cli.expect(f"127.0.0.1:{port}[1]>".encode())
        cli.line("set k before")
        cli.expect(b"OK")
        own_redis.kill9()
        cli.line("get k")
        text = cli.expect(b"not connected>")
        assert b"lost while running the command" in text
        assert f"Could not connect to SentryKV at 127.0.0.1:{port}: Connection refused".encode() in text
        cli.line("ping")
        cli.expect(b"Connection refused")
        own_redis.start()
        cli.line("set k after")
        cli.expect(b"OK")
        assert redis.Redis(port=port, db=1).get("k") == b"after"  # the selected db survived the reconnect
        cli.expect(f"127.0.0.1:{port}[1]>".encode())
        cli.line("exit")
        assert cli.wait() == 0
        assert b"Traceback" not in cli.seen
    finally:
        cli.close()


def test_interactive_starts_without_server() -> None:
    port = free_port()
    cli = PtyCli("-p", str(port))
    try:
        text = cli.expect(b"not connected>")
        assert f"Could not connect to SentryKV at 127.0.0.1:{port}: Connection refused".encode() in text
        cli.line("help")
        cli.expect(b"checkpoint            write a snapshot now")
        cli.line("quit")
        assert cli.wait() == 0
    finally:
        cli.close()


def test_interactive_ctrl_c_interrupts_a_blocking_command(own_redis: RedisProcess) -> None:
    port = own_redis.port
    cli = PtyCli("-p", str(port))
    try:
        cli.expect(f"127.0.0.1:{port}>".encode())
        cli.line("blpop nolist 0")
        time.sleep(0.5)  # the command is now blocked in the server
        cli.send(b"\x03")
        cli.expect(b"(interrupted; the connection was closed and will be reopened)")
        cli.line("rpush after 1")
        cli.expect(b"(integer) 1")  # a fresh connection, not the blocked one's late reply
        cli.line("quit")
        assert cli.wait() == 0
    finally:
        cli.close()


def test_subscribe_follows_messages_until_ctrl_c(own_redis: RedisProcess) -> None:
    proc = subprocess.Popen([*CLI, "-p", str(own_redis.port), "subscribe", "news"], env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        r = redis.Redis(port=own_redis.port)
        deadline = time.monotonic() + 10
        while r.publish("news", "hello") == 0:
            assert time.monotonic() < deadline, "the CLI never subscribed"
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert out.startswith(b"subscribe\nnews\n1\nmessage\nnews\nhello\n")
        assert b"Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
