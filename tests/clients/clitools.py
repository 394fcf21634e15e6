"""Helpers to run sentrykv-cli (and redis-cli, the oracle) as real processes."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "sentrykv_cli"]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "clients"), str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("SENTRYKV_CLI_AUTH", None)
    env["SENTRYKV_CLI_HISTFILE"] = ""
    if extra:
        env.update(extra)
    return env


def run_cli(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    """One sentrykv-cli run with stdout/stderr captured (so never a TTY)."""
    return subprocess.run([*CLI, *args], input=stdin if stdin is not None else b"",
                          capture_output=True, env=cli_env(env), timeout=timeout, cwd=ROOT)


def run_redis_cli(*args: str, stdin: bytes | None = None, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["redis-cli", *args], input=stdin if stdin is not None else b"",
                          capture_output=True, timeout=timeout)


class DroppingServer:
    """Accepts connections and closes each one after reading ``after`` commands' bytes.

    Lets a test cut the connection in the middle of a command, which a real
    server does not do on request.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)  # the command arrives; no reply is ever sent
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB0-2]|\r")


def _take_controlling_tty() -> None:
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyCli:
    """sentrykv-cli on a pseudo-terminal, so the prompt_toolkit REPL really runs."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        import pty

        master, slave = pty.openpty()
        full_env = cli_env({"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "120", "LINES": "40"})
        if env:
            full_env.update(env)
        # A new session whose controlling terminal is the pty, as for a user at a
        # terminal: ^C then raises SIGINT in the CLI instead of being a plain byte.
        self.proc = subprocess.Popen([*CLI, *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=full_env, cwd=ROOT, start_new_session=True,
                                     preexec_fn=_take_controlling_tty)
        os.close(slave)
        self.fd = master
        self.seen = b""  # everything read so far, escapes stripped

    def _pump(self, wait: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if ready:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            self.seen += ANSI.sub(b"", data)

    def expect(self, needle: bytes, timeout: float = 15) -> bytes:
        """Wait until ``needle`` appears in the output after the last match; return the text before it."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not seen; output so far:\n{self.seen.decode(errors='replace')}")
            if self.proc.poll() is not None:
                self._pump(0.1)
                if needle not in self.seen:
                    raise AssertionError(f"cli exited ({self.proc.returncode}) before {needle!r}:\n"
                                         f"{self.seen.decode(errors='replace')}")
                break
            self._pump(0.1)
        before, _, after = self.seen.partition(needle)
        self.seen = after
        return before

    def send(self, text: bytes) -> None:
        os.write(self.fd, text)

    def line(self, text: str) -> None:
        self.send(text.encode() + b"\r")

    def wait(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._pump(0.1)
        return self.proc.wait(1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.fd)
