"""sentrykv-check as a real process: exit codes, --fix, --dump."""

from __future__ import annotations

import os
import subprocess
import sys

from sentrykv_server.persistence.records import encode_ops
from sentrykv_server.persistence.wal_format import segment_name
from sentrykv_server.persistence.wal_writer import WalWriter

from .walutil import build_log, flip_bit, frame_offsets, segments

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run(
        [sys.executable, "-m", "sentrykv_server.tools.check", *args],
        capture_output=True, text=True, env=env, timeout=60, cwd=REPO,
    )


def test_healthy_log(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 100, segment_max_bytes=2000)
    p = run_check(d)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "100 frame(s), LSN 1..100" in p.stdout
    assert "status: OK" in p.stdout


def test_empty_directory_is_healthy(tmp_path) -> None:
    p = run_check(str(tmp_path))
    assert p.returncode == 0 and "no frames" in p.stdout


def test_usage_errors(tmp_path) -> None:
    assert run_check().returncode == 2
    assert run_check(str(tmp_path / "missing")).returncode == 2
    assert run_check(str(tmp_path), "--bogus").returncode == 2


def test_torn_tail_reported_then_fixed(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 20)
    path = segments(d)[0]
    last = frame_offsets(path)[-1]
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size - 4)
    p = run_check(d)
    assert p.returncode == 1
    assert f"first bad offset: {path}:{last}" in p.stdout
    assert f"would drop {size - 4 - last} bytes" in p.stdout
    assert os.path.getsize(path) == size - 4  # a plain check changes nothing
    p = run_check(d, "--fix")
    assert p.returncode == 0, p.stdout
    assert f"will drop {size - 4 - last} bytes from {path} at offset {last}" in p.stdout
    assert os.path.getsize(path) == last
    p = run_check(d)
    assert p.returncode == 0 and "19 frame(s), LSN 1..19" in p.stdout


def test_mid_log_corruption_is_not_fixed(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 20)
    path = segments(d)[0]
    off = frame_offsets(path)[7]
    flip_bit(path, off + 18, 0)
    before = open(path, "rb").read()
    p = run_check(d)
    assert p.returncode == 1
    assert f"first bad offset: {path}:{off}" in p.stdout and "CORRUPT" in p.stdout
    p = run_check(d, "--fix")
    assert p.returncode == 1 and "refusing to fix" in p.stdout
    assert open(path, "rb").read() == before


def test_missing_segment_reported(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 100, segment_max_bytes=1000)
    os.unlink(segments(d)[2])
    p = run_check(d)
    assert p.returncode == 1 and "missing segment" in p.stdout


def test_dump_prints_readable_commands(tmp_path) -> None:
    d = str(tmp_path)
    w = WalWriter(d, 1)
    w.append(encode_ops([(0, [b"SET", b"k", b"v"])]))
    w.append(encode_ops([(0, [b"SET", b"a", b"1"]), (3, [b"INCR", b"b"])]))
    w.append(encode_ops([(1, [b"SET", b"bin", b"\x00\r\n\"x"])]))
    w.append(b"not resp")  # CRC-valid but undecodable: reported, counted as damage
    w.close()
    p = run_check(d, "--dump")
    lines = p.stdout.splitlines()
    assert 'lsn=1 db=0 SET "k" "v"' in lines
    i = lines.index("lsn=2 ops=2")
    assert lines[i + 1 : i + 3] == ['  db=0 SET "a" "1"', '  db=3 INCR "b"']
    assert 'lsn=3 db=1 SET "bin" "\\x00\\r\\n\\"x"' in lines
    assert any(line.startswith("lsn=4 <undecodable") for line in lines)
    assert p.returncode == 1


def test_snapshot_files_are_listed(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 3)
    open(os.path.join(d, "snapshot-00000000000000000002.snap"), "wb").close()
    p = run_check(d)
    assert p.returncode == 0 and "not verified" in p.stdout


def test_torn_header_segment_fix_removes_file(tmp_path) -> None:
    d = str(tmp_path)
    build_log(d, 5)
    torn = os.path.join(d, segment_name(6))
    with open(torn, "wb") as fh:
        fh.write(b"SKV")
    assert run_check(d).returncode == 1
    p = run_check(d, "--fix")
    assert p.returncode == 0 and f"will remove {torn}" in p.stdout
    assert not os.path.exists(torn)


def test_preallocated_zero_tail_is_healthy(tmp_path) -> None:
    """A log left by kill -9 ends in the writer's preallocated zeros: OK, nothing to fix."""
    d = str(tmp_path)
    w = WalWriter(d, 1)
    for i in range(1, 11):
        w.append(encode_ops([(0, [b"SET", b"k%d" % i, b"v"])]))
    w.write_buffered()
    w.sync()
    size = os.path.getsize(w.current_segment)
    p = run_check(d)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "10 frame(s), LSN 1..10" in p.stdout and "preallocated zeros after the last frame" in p.stdout
    assert "torn tail" not in p.stdout and "status: OK" in p.stdout
    p = run_check("--fix", d)
    assert p.returncode == 0 and os.path.getsize(w.current_segment) == size  # nothing cut
    w.close()
