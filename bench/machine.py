"""Facts about the machine and software a run used, for the report header.

Benchmarks on a shared 2-core VM are only interpretable with the context:
core count, CPU model, kernel, versions, the load average before and after
(other users' CPU use shows up there), and the filesystem the data dirs live
on (``always`` on tmpfs would make fsync free and the figures meaningless).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import subprocess
import tempfile
from pathlib import Path


def _run(argv: list[str], cwd: str | None = None) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=cwd, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (out.stdout or out.stderr).strip() or "unknown"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def filesystem_of(path: str) -> str:
    """Filesystem type and device of the mount holding ``path`` (longest mount-point prefix)."""
    real = os.path.realpath(path)
    best = ("", "unknown", "unknown")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fstype, *_ = line.split()
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                best = (mnt, fstype, dev)
    return f"{best[1]} ({best[2]} on {best[0]})"


def memory_total() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def facts(redis_server: str, benchmark: str, repo: Path, tmp_base: str | None) -> dict[str, str]:
    data_base = tmp_base or tempfile.gettempdir()
    rev = _run(["git", "rev-parse", "--short", "HEAD"], cwd=str(repo))
    if "fatal" in rev or rev == "unknown":
        rev = "no commit yet"
    return {
        "date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "nproc": str(os.cpu_count()),
        "CPU model": cpu_model(),
        "memory": memory_total(),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "redis-server": _run([redis_server, "--version"]),
        "redis-benchmark": _run([benchmark, "--version"]),
        "SentryKV git revision": rev,
        "data dirs": f"{data_base}: {filesystem_of(data_base)}",
        "load average at start": load_average(),
    }
