"""Start and stop real server processes (SentryKV and the reference redis-server).

Every process is started on a free loopback port with its own data directory
and stopped by PID — never by name — so tests never touch anything they did
not start.  A missing redis-server is an error in CI, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0, password: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before accepting connections")
        try:
            r = redis.Redis(port=port, password=password, socket_timeout=2)
            if r.ping():
                r.close()
                return
        except redis.AuthenticationError:
            return
        except redis.ResponseError as exc:
            if "NOAUTH" in str(exc):
                return
            last = exc
        except (redis.ConnectionError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"server on port {port} not ready: {last}")


class ServerProcess:
    """A SentryKV server subprocess; ``restart()`` keeps the data dir and port."""

    def __init__(self, data_dir: str | None = None, args: list[str] | None = None,
                 port: int | None = None, env: dict[str, str] | None = None,
                 config_file: str | None = None, password: str | None = None) -> None:
        self.own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="sentrykv-test-")
        self.args = list(args or [])
        # A config file goes first on the command line (options after it override it);
        # ``password`` is what the readiness probe authenticates with, if not --requirepass.
        self.config_file = config_file
        self.password = password
        self.port = port or free_port()
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.dir, "server.log")

    def command(self) -> list[str]:
        # DEBUG is off by default (enable-debug-command no, as in Redis); the suite uses it,
        # as Redis's own test suite does.
        return [sys.executable, "-m", "sentrykv_server", *self._file(), "--port", str(self.port),
                "--bind", "127.0.0.1", "--dir", self.dir, "--enable-debug-command", "yes", *self.args]

    def _file(self) -> list[str]:
        return [self.config_file] if self.config_file else []

    def start(self, wait: bool = True) -> ServerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        if self.env:
            env.update(self.env)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, cwd=self.dir)
        if wait:
            password = self.password
            if "--requirepass" in self.args:
                password = self.args[self.args.index("--requirepass") + 1]
            wait_ready(self.port, self.proc, password=password)
        return self

    def client(self, **kw: object) -> redis.Redis:
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(port=self.port, **kw)  # type: ignore[arg-type]

    def log_text(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful) and wait; SIGKILL if it does not exit."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def restart(self, wait: bool = True) -> ServerProcess:
        self.stop()
        return self.start(wait)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class RedisProcess(ServerProcess):
    """The reference redis-server (Debian package), persistence off unless args say so."""

    def command(self) -> list[str]:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed: run `make redis-tools` (it is the test oracle)")
        return [exe, *self._file(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--enable-debug-command", "yes",
                *self.args]
