"""Start and stop the servers under test: free loopback ports, own temp dirs, stopped BY PID.

Why so careful: the machine is shared, so a benchmark must never leave a
server behind, never touch port 6379 or the system service, and never stop
anything by name.  Every process started here is recorded in a module-level
registry; :func:`stop_all` (run from ``finally``, ``atexit`` and the signal
handlers installed by :func:`install_signal_handlers`) stops each one by its
PID and removes its data directory.  As a last line of defence the children
are started with ``PR_SET_PDEATHSIG`` so the kernel sends them SIGTERM if the
harness itself is killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bench.resp import RespError, command

#: Persistence modes, named as in the report.  Each server kind turns one into
#: its own directives (see :class:`ServerKind`).
MODES: tuple[str, ...] = ("none", "everysec", "always")

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A loopback port nobody listens on right now (bind port 0 and let the kernel pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    if port == 6379:  # never, even by accident, collide with a system Redis
        return free_port()
    return port


def persistence_args(mode: str) -> list[str]:
    """The redis-server-style directives both servers accept for one persistence mode."""
    if mode == "none":
        return ["--appendonly", "no"]
    if mode in ("everysec", "always"):
        return ["--appendonly", "yes", "--appendfsync", mode]
    raise ValueError(f"unknown persistence mode {mode!r}; expected one of {MODES}")


@dataclass(frozen=True)
class ServerKind:
    """How to launch one server under test.

    ``command`` is the program prefix (e.g. ``["redis-server"]`` or
    ``[python, "-m", "sentrykv_server"]``); ``extra`` are directives appended
    after the common ones.  Keeping the launcher a plain command line lets the
    harness be developed with Redis on both sides and pointed at SentryKV later.
    """

    name: str  # "redis" or "sentrykv": the key used in tables and raw data
    label: str  # human label for charts
    command: tuple[str, ...]
    extra: tuple[str, ...] = ()
    cwd: str | None = None

    def argv(self, port: int, data_dir: str, mode: str) -> list[str]:
        return [
            *self.command,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", data_dir,
            *persistence_args(mode),
            *self.extra,
        ]

    def display(self, mode: str) -> str:
        """The exact command line, with placeholders for the per-run port and temp dir."""
        parts = [shlex.quote(p) for p in self.argv(0, "DIR", mode)]
        return " ".join(parts).replace("--port 0", "--port PORT")


def redis_kind(command: Sequence[str] = ("redis-server",)) -> ServerKind:
    """Real Redis: AOF only (``--save ''`` so no RDB fork runs behind the benchmark)."""
    return ServerKind("redis", "Redis", tuple(command), ("--save", "", "--daemonize", "no"))


def sentrykv_kind(command: Sequence[str] | None = None, cwd: str | None = None) -> ServerKind:
    """SentryKV, launched as ``python -m sentrykv_server`` unless another command is given."""
    cmd = tuple(command) if command else (sys.executable, "-m", "sentrykv_server")
    return ServerKind("sentrykv", "SentryKV", cmd, (), cwd)


def _set_pdeathsig() -> None:
    """In the child, before exec: die with the parent (best effort; Linux only)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


@dataclass
class ServerProcess:
    """One running server process: its PID, port, data dir and log."""

    kind: ServerKind
    mode: str
    port: int
    data_dir: Path
    owns_dir: bool
    log_path: Path
    proc: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.perf_counter)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """utime + stime of the whole process (all threads) and its children, from /proc/*/stat.

        Resolution is one clock tick (10 ms): fine for long runs, too coarse
        for a 0.2 s one; see :meth:`cpu_ns`.
        """
        total = 0.0
        for pid in (self.pid, *_children(self.pid)):
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    raw = fh.read()
            except FileNotFoundError:
                continue
            rest = raw[raw.rindex(b")") + 2 :].split()
            total += (int(rest[11]) + int(rest[12])) / _CLK_TCK
        return total

    def cpu_ns(self) -> int | None:
        """CPU time of all live threads in nanoseconds (sum of /proc/<pid>/task/*/schedstat).

        Child processes count too (SentryKV's fsync worker does the fsyncs of
        ``appendfsync always``; leaving it out would flatter SentryKV).  Exact,
        unlike the tick-based :meth:`cpu_seconds`, but a thread that exits
        between two readings takes its time with it; callers fall back to the
        tick count when the difference comes out negative.
        """
        total = 0
        try:
            pids = [self.pid, *_children(self.pid)]
            for pid in pids:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with contextlib.suppress(FileNotFoundError):
                        with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as fh:
                            total += int(fh.read().split()[0])
        except OSError:
            return None
        return total

    def cpu_snapshot(self) -> tuple[int | None, float]:
        return self.cpu_ns(), self.cpu_seconds()

    def cpu_since(self, snap: tuple[int | None, float]) -> float:
        """Seconds of server CPU since ``snap``: exact schedstat delta, else the tick delta."""
        ns0, ticks0 = snap
        ns1, ticks1 = self.cpu_snapshot()
        if ns0 is not None and ns1 is not None and ns1 >= ns0:
            return (ns1 - ns0) / 1e9
        return ticks1 - ticks0

    def rss_bytes(self) -> int:
        """Resident set size from /proc/<pid>/status (what the OS really spends on it)."""
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> float:
        """Poll PING until PONG; returns seconds since the process was started."""
        deadline = time.perf_counter() + timeout
        while True:
            if not self.alive():
                raise ServerStartError(
                    f"{self.kind.name} (pid {self.pid}) exited with code {self.proc.returncode} "
                    f"during start-up.\ncommand: {shlex.join(self.proc.args)}\n"  # type: ignore[arg-type]
                    f"log tail:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, RespError):
                if command(self.port, "PING", timeout=1.0) == b"PONG":
                    return time.perf_counter() - self.started_at
            if time.perf_counter() > deadline:
                raise ServerStartError(
                    f"{self.kind.name} (pid {self.pid}) did not answer PING on port {self.port} "
                    f"within {timeout:.0f}s.\nlog tail:\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def stop(self, timeout: float = 30.0, remove_dir: bool = True) -> float:
        """SIGTERM by PID (a graceful shutdown that flushes the log), SIGKILL if it hangs.

        Returns how long the graceful part took.  The data dir is removed only
        if this process created it and ``remove_dir`` is true.
        """
        t0 = time.perf_counter()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        elapsed = time.perf_counter() - t0
        _RUNNING.discard(self)
        if remove_dir and self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            _DIRS.discard(self.data_dir)
        return elapsed

    def __hash__(self) -> int:
        return id(self)


_RUNNING: set[ServerProcess] = set()
_DIRS: set[Path] = set()


_DIR_PREFIX = "sentrykv-bench-"


def make_data_dir(kind: ServerKind, base: str | None) -> Path:
    """A fresh temp dir for one server; tracked so it is removed even on a crash.

    The name carries the harness's PID so :func:`sweep_stale_dirs` can tell
    leftovers of a harness killed with SIGKILL from dirs of a run still going.
    """
    path = Path(tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getpid()}-{kind.name}-", dir=base))
    _DIRS.add(path)
    return path


def sweep_stale_dirs(base: str | None) -> list[Path]:
    """Remove data dirs left by earlier harness runs whose process no longer exists."""
    removed = []
    root = Path(base or tempfile.gettempdir())
    for path in root.glob(f"{_DIR_PREFIX}*-*-*"):
        pid_text = path.name[len(_DIR_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        if not Path(f"/proc/{pid_text}").exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def remove_data_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _DIRS.discard(path)


def start_server(
    kind: ServerKind,
    mode: str,
    log_dir: Path,
    *,
    data_dir: Path | None = None,
    tmp_base: str | None = None,
    ready_timeout: float = 30.0,
    port: int | None = None,
) -> ServerProcess:
    """Start ``kind`` in ``mode`` on a free port and wait until it answers PING.

    Pass ``data_dir`` to restart on existing data (the caller then owns the dir).
    """
    owns = data_dir is None
    directory = make_data_dir(kind, tmp_base) if data_dir is None else data_dir
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{kind.name}-{mode}-{port}.log"
    argv = kind.argv(port, str(directory), mode)
    with open(log_path, "ab") as log:
        log.write(f"# {shlex.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=kind.cwd,
            start_new_session=True,  # Ctrl-C goes to the harness, which stops servers itself
            preexec_fn=_set_pdeathsig,
        )
    server = ServerProcess(kind, mode, port, directory, owns, log_path, proc)
    _RUNNING.add(server)
    try:
        server.wait_ready(ready_timeout)
    except BaseException:
        server.stop(timeout=5)
        raise
    return server


def stop_all() -> None:
    """Stop every server this process started (by PID) and remove every temp dir."""
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop(timeout=10)
    for path in list(_DIRS):
        remove_data_dir(path)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # Raising lets every ``finally`` run; atexit then sweeps what is left.
    raise SystemExit(128 + signum)


def install_signal_handlers() -> Callable[[], None]:
    """Make SIGTERM/SIGHUP unwind like Ctrl-C does, and register the atexit sweep."""
    atexit.register(stop_all)
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def wait_for_dbsize(port: int, expected: int, timeout: float) -> None:
    """Poll until the server answers DBSIZE == expected.

    LOADING errors and refused connections just mean "not yet".  A numeric
    answer that stays wrong for 2 s means keys were lost: fail fast instead of
    waiting for the full timeout.
    """
    deadline = time.perf_counter() + timeout
    last: object = None
    wrong_since: float | None = None
    while time.perf_counter() < deadline:
        try:
            last = command(port, "DBSIZE", timeout=5.0)
        except (OSError, RespError) as exc:
            last = exc
        if last == expected:
            return
        if isinstance(last, int):
            wrong_since = wrong_since or time.perf_counter()
            if time.perf_counter() - wrong_since > 2.0:
                break
        else:
            wrong_since = None
        time.sleep(0.005)
    raise TimeoutError(f"DBSIZE on port {port} is {last!r}, expected {expected}")


def _children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (/proc/<pid>/task/*/children)."""
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError):
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                    kids += (int(k) for k in fh.read().split())
    except OSError:
        pass
    return kids
