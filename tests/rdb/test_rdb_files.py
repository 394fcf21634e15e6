"""Whole dump.rdb files: a populated redis-server's SAVE is imported into a fresh SentryKV
data directory (``sentrykv-server --import-rdb``), survives kill -9 right after, is
exported again (``sentrykv-check --export-rdb``) and loaded by a new redis-server whose
DEBUG DIGEST (and every key's DIGEST-VALUE) equals the original's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from tests.rdb.dataset import contents, populate
from tests.support.procs import ROOT, RedisProcess, ServerProcess


def check_tool(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "sentrykv_server.tools.check", *args],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def saved(debug_redis: RedisProcess) -> Iterator[tuple[str, str, dict[str, object]]]:
    """A dump.rdb of a populated Redis: (path, DEBUG DIGEST, per-key contents by db)."""
    c = debug_redis.client()
    c.flushall()
    c.execute_command("DEBUG", "POPULATE", 2000, "pop", 20)
    populate(c)
    c.set("expired-soon", "x", px=1)
    other = debug_redis.client(db=5)
    populate(other, "db5:")
    import time

    time.sleep(0.01)
    c.execute_command("SAVE")
    assert c.exists("expired-soon") == 0  # lazily deleted now, so not in the digest below
    path = os.path.join(tempfile.mkdtemp(prefix="rdbfile-"), "dump.rdb")
    shutil.copy(os.path.join(debug_redis.dir, "dump.rdb"), path)
    want = c.execute_command("DEBUG", "DIGEST")
    snapshot = {f"{db}:{k}": contents(debug_redis.client(db=db), k)
                for db in (0, 5) for k in (x.decode() for x in debug_redis.client(db=db).keys("*"))}
    yield path, want, snapshot
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def test_import_kill9_export_roundtrip(saved: tuple[str, str, dict[str, object]]) -> None:
    path, want_digest, want = saved
    srv = ServerProcess(args=["--appendonly", "yes", "--import-rdb", path])
    srv.start()
    try:
        assert "Imported" in srv.log_text()
        srv.kill9()  # right after the import: the snapshot must already be durable
        srv.args = ["--appendonly", "yes"]
        srv.start()
        got = {f"{db}:{k}": contents(srv.client(db=db), k)
               for db in (0, 5) for k in (x.decode() for x in srv.client(db=db).keys("*"))}
        assert got == want
        assert srv.client().exists("expired-soon") == 0
        assert srv.client().pttl("ttl:str") > 0
        srv.stop()
        out = os.path.join(srv.dir, "export.rdb")
        result = check_tool(srv.dir, "--export-rdb", out)
        assert result.returncode == 0, result.stderr
        back = RedisProcess(args=["--enable-debug-command", "yes", "--dbfilename", "export.rdb"],
                            data_dir=srv.dir)
        back.start()
        try:
            c = back.client()
            assert c.execute_command("DEBUG", "DIGEST") == want_digest
            for name in want:
                db, key = name.split(":", 1)
                orig = want[name]
                assert contents(back.client(db=int(db)), key) == orig, name
        finally:
            back.stop()
    finally:
        srv.stop()
        srv.cleanup()


def test_import_refuses_existing_data_and_bad_files(saved: tuple[str, str, dict[str, object]]) -> None:
    path = saved[0]
    data = open(path, "rb").read()
    workdir = tempfile.mkdtemp(prefix="rdbbad-")
    try:
        bad = {
            "truncated.rdb": data[: len(data) // 2],
            "badcrc.rdb": data[:-1] + bytes([data[-1] ^ 0xFF]),
            "version.rdb": b"REDIS0011" + data[9:],
            "notrdb.rdb": b"hello world",
        }
        for name, content in bad.items():
            f = os.path.join(workdir, name)
            with open(f, "wb") as fh:
                fh.write(content)
            target = os.path.join(workdir, "dir-" + name)
            result = check_tool(target, "--import-rdb", f)
            assert result.returncode == 1, (name, result.stdout)
            assert os.listdir(target) == [], name  # nothing half-imported is left behind
        target = os.path.join(workdir, "full")
        assert check_tool(target, "--import-rdb", path).returncode == 0
        again = check_tool(target, "--import-rdb", path)
        assert again.returncode == 1 and "fresh" in again.stderr
        assert check_tool(target).returncode == 0  # the imported directory verifies
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_export_of_a_live_dataset(server_dir: str, debug_redis: RedisProcess) -> None:
    """Data written through commands (WAL only, no snapshot) exports too."""
    srv = ServerProcess(data_dir=server_dir, args=["--appendonly", "yes"]).start()
    try:
        c = srv.client()
        populate(c)
        srv.client(db=3).set("in-db3", "v")
        srv.stop()
        out = os.path.join(server_dir, "live.rdb")
        assert check_tool(server_dir, "--export-rdb", out).returncode == 0
        back = RedisProcess(args=["--enable-debug-command", "yes", "--dbfilename", "live.rdb"],
                            data_dir=server_dir).start()
        try:
            ref = debug_redis.client()
            ref.flushall()
            populate(ref)
            debug_redis.client(db=3).set("in-db3", "v")
            assert back.client().execute_command("DEBUG", "DIGEST") == ref.execute_command("DEBUG", "DIGEST")
        finally:
            back.stop()
    finally:
        srv.stop()


@pytest.fixture
def server_dir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="rdbexp-")
    yield d
    shutil.rmtree(d, ignore_errors=True)
