"""Real processes killed with SIGKILL: nothing handed to the kernel is lost, and a
simulated power cut (segments cut back to what SENTRYKV_FSYNC_LOG says was fsynced)
keeps every LSN reported durable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sentrykv_server.persistence.wal_writer import FSYNC_LOG_ENV

from .walutil import payload_for, replay, segments

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WRITER = r"""
import sys
from sentrykv_server.persistence.wal_writer import WalWriter
from tests.persistence.walutil import payload_for
directory, mode = sys.argv[1], sys.argv[2]
w = WalWriter(directory, 1, segment_max_bytes=4096)
i = 0
while True:
    for _ in range(7):
        i += 1
        w.append(payload_for(i))
    w.write_buffered()
    if mode == "sync":
        lsn = w.sync()
        print("durable", lsn, flush=True)
    else:
        print("written", w.written_lsn, flush=True)
"""


def _run_and_kill(directory: str, mode: str, env: dict[str, str], lines: int) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, directory, mode],
        stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    assert proc.stdout is not None
    last = 0
    try:
        for _ in range(lines):
            line = proc.stdout.readline()
            assert line, "writer died"
            last = int(line.split()[1])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    return last


def _check_prefix(directory: str, at_least: int) -> None:
    r = replay(directory)
    lsns = [lsn for lsn, _ in r.frames]
    assert lsns == list(range(1, len(lsns) + 1))
    assert len(lsns) >= at_least
    assert all(p == payload_for(lsn) for lsn, p in r.frames)


def test_kill9_loses_nothing_written(tmp_path) -> None:
    d = str(tmp_path / "data")
    env = dict(os.environ, PYTHONPATH=REPO)
    written = _run_and_kill(d, "write", env, 300)
    assert len(segments(d)) > 3
    _check_prefix(d, written)


def test_simulated_power_cut_keeps_durable_lsns(tmp_path) -> None:
    d = str(tmp_path / "data")
    log = str(tmp_path / "fsync.log")
    env = dict(os.environ, PYTHONPATH=REPO, **{FSYNC_LOG_ENV: log})
    durable = _run_and_kill(d, "sync", env, 60)
    synced: dict[str, int] = {}
    with open(log) as fh:
        for line in fh:
            name, size = line.split()
            synced[name] = max(synced.get(name, 0), int(size))
    for path in segments(d):
        name = os.path.basename(path)
        if name not in synced:
            os.unlink(path)  # its directory entry may never have reached the disk
        else:
            with open(path, "r+b") as fh:
                fh.truncate(synced[name])
    _check_prefix(d, durable)
