"""Durability of scripts and functions: one frame per script, kill -9, torn tails, checkpoints.

* a script's writes are logged as the commands it ran, contiguous in ONE frame
  with nothing else in between; a script that wrote nothing logs nothing;
* a torn tail inside a script's frame loses the whole script, never part of it;
* FUNCTION LOAD/DELETE/FLUSH/RESTORE survive kill -9 (WAL) and checkpoints
  (snapshot block), the EVAL script cache does not (NOSCRIPT, as Redis);
* appendfsync always: the EVAL's reply is sent after its frame is fsynced.
"""

from __future__ import annotations

import os
import random
import time

import pytest
import redis

from sentrykv_server.persistence import snapshot
from sentrykv_server.persistence.records import decode_ops
from sentrykv_server.persistence.wal_format import FRAME_HEADER_SIZE, HEADER_SIZE
from sentrykv_server.persistence.wal_reader import iter_frames
from sentrykv_server.persistence.wal_writer import list_segments
from sentrykv_server.tools.check import check_directory
from tests.checkpoint.helpers import wait_checkpoints
from tests.support.procs import ServerProcess

LIB = ("#!lua name=counters\n"
       "redis.register_function('bump', function(keys, args) "
       "for _, k in ipairs(keys) do redis.call('incrby', k, args[1]) end return #keys end)\n"
       "redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end, "
       "flags={'no-writes'}}")

MANY_WRITES = "for i = 1, tonumber(ARGV[1]) do redis.call('set', KEYS[1] .. i, ARGV[2]) end return 1"


def frames(directory: str) -> list[list[tuple[int, list[bytes]]]]:
    return [list(decode_ops(payload)) for _lsn, payload in iter_frames(directory)]


def test_script_effects_are_one_frame_and_survive_kill9(durable: ServerProcess) -> None:
    r = durable.client()
    r.set("n", "10")
    before = len(frames(durable.dir))
    script = ("redis.call('set', 'a', '1') redis.call('rpush', 'l', 'x', 'y') redis.call('select', 2) "
              "redis.call('set', 'in2', 'v') redis.pcall('lpush', 'in2', 'boom') redis.call('incr', 'n2') "
              "redis.call('expire', 'in2', 1000) return redis.call('get', 'in2')")
    assert r.eval(script, 0) == b"v"
    logged = frames(durable.dir)
    assert len(logged) == before + 1
    ops = [(db, [argv[0].upper(), *argv[1:]]) for db, argv in logged[-1]]
    assert ops[:4] == [(0, [b"SET", b"a", b"1"]), (0, [b"RPUSH", b"l", b"x", b"y"]),
                       (2, [b"SET", b"in2", b"v"]), (2, [b"INCR", b"n2"])]
    assert len(ops) == 5 and ops[4][0] == 2 and ops[4][1][0].upper() == b"PEXPIREAT"
    # Reads and refused writes log nothing.
    assert r.eval("return redis.call('get', 'a')", 0) == b"1"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.eval("return redis.pcall('incr', 'l')", 0)
    r.eval_ro("return redis.call('get', 'a')", 0)
    assert len(frames(durable.dir)) == before + 1
    sha = r.script_load("return redis.call('incr', 'n')")
    assert r.evalsha(sha, 0) == 11
    durable.kill9()
    durable.start()
    r = durable.client()
    assert r.get("a") == b"1" and r.lrange("l", 0, -1) == [b"x", b"y"] and r.get("n") == b"11"
    r.execute_command("SELECT", "2")
    assert r.get("in2") == b"v" and r.get("n2") == b"1" and 0 < r.ttl("in2") <= 1000
    # The script cache is not durable, as in Redis.
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha(sha, 0)
    assert r.script_exists(sha) == [False]


def _frames_end(path: str) -> int:
    """Where the segment's frames end (the writer preallocates zeros after them)."""
    with open(path, "rb") as fh:
        data = fh.read()
    pos = HEADER_SIZE
    while pos + FRAME_HEADER_SIZE <= len(data) and data[pos : pos + FRAME_HEADER_SIZE].count(0) < FRAME_HEADER_SIZE:
        pos += FRAME_HEADER_SIZE + int.from_bytes(data[pos + 4 : pos + 8], "little")
    return pos


def test_torn_tail_inside_a_script_frame_loses_the_whole_script(durable: ServerProcess) -> None:
    r = durable.client()
    r.set("before", "kept")
    segment = list_segments(durable.dir)[-1][1]
    start = _frames_end(segment)
    assert r.eval(MANY_WRITES, 1, "k", 500, "v" * 50) == 1
    end = _frames_end(segment)
    assert end - start > 500 * 50
    durable.kill9()
    for cut in (start + 20, (start + end) // 2, end - 1):
        with open(segment, "r+b") as fh:
            fh.truncate(cut)
        durable.start()
        r = durable.client()
        assert r.get("before") == b"kept"
        assert r.dbsize() == 1, f"part of the script survived a cut at {cut - start} of {end - start} bytes"
        durable.kill9()
        end = cut


def test_scripts_are_all_or_nothing_across_kill9() -> None:
    """Scripts moving value between keys while the server is killed: totals always balance."""
    srv = ServerProcess(args=["--appendonly", "yes", "--appendfsync", "everysec"]).start()
    transfer = ("local n = tonumber(ARGV[1]) redis.call('decrby', KEYS[1], n) "
                "for i = 1, 20 do redis.call('rpush', 'log', i) end redis.call('incrby', KEYS[2], n) return 1")
    rng = random.Random(7)
    try:
        r = srv.client()
        r.mset({"acct:a": 1000, "acct:b": 1000})
        for _round in range(3):
            deadline = time.monotonic() + rng.uniform(0.2, 0.6)
            try:
                while time.monotonic() < deadline:
                    a, b = rng.sample(["acct:a", "acct:b"], 2)
                    r.eval(transfer, 2, a, b, rng.randint(1, 9))
            except redis.ConnectionError:
                pass
            srv.kill9()
            srv.start()
            r = srv.client()
            total = int(r.get("acct:a")) + int(r.get("acct:b"))
            assert total == 2000
            assert r.llen("log") % 20 == 0
    finally:
        srv.stop()
        srv.cleanup()


def test_functions_survive_kill9_and_their_changes_are_logged(durable: ServerProcess) -> None:
    r = durable.client()
    assert r.function_load(LIB) in (b"counters", "counters")
    assert r.fcall("bump", 2, "x", "y", 5) == 2
    r.function_load("#!lua name=tmp\nredis.register_function('t', function() return 't' end)")
    durable.kill9()
    durable.start()
    r = durable.client()
    assert r.fcall("bump", 1, "x", 1) == 1 and r.get("x") == b"6"
    assert r.fcall_ro("peek", 1, "y") == b"5"
    assert r.fcall("t", 0) == b"t"
    r.function_delete("tmp")
    r.function_load("#!lua name=counters\nredis.register_function('bump', function() return 'v2' end)", replace=True)
    durable.kill9()
    durable.start()
    r = durable.client()
    assert r.fcall("bump", 0) == b"v2"
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall("t", 0)
    payload = r.function_dump()
    r.function_flush()
    durable.kill9()
    durable.start()
    r = durable.client()
    assert r.function_list() == []
    assert r.function_restore(payload) in (True, b"OK", "OK")
    durable.kill9()
    durable.start()
    assert durable.client().fcall("bump", 0) == b"v2"


def test_functions_are_kept_by_checkpoints(durable: ServerProcess) -> None:
    r = durable.client()
    r.function_load(LIB)
    r.function_load("#!lua name=second\nredis.register_function('s', function() return 2 end)")
    r.set("k", "v")
    r.bgsave()
    wait_checkpoints(r, 1)
    snaps = snapshot.list_snapshots(durable.dir)
    assert snaps
    with open(snaps[-1][2], "rb") as fh:
        parsed = snapshot.parse(fh.read(), snaps[-1][2])
    assert parsed.functions is not None and sorted(parsed.functions) == sorted(
        [LIB.encode(), b"#!lua name=second\nredis.register_function('s', function() return 2 end)"])
    assert check_directory(durable.dir, out=open(os.devnull, "w")) == 0
    r.function_delete("second")
    durable.kill9()
    durable.start()
    r = durable.client()
    assert r.fcall("bump", 1, "k2", 3) == 1
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall("s", 0)
    # A checkpoint with no libraries has no block and loads none.
    r.function_flush()
    r.bgsave()
    wait_checkpoints(r, 1)  # (counted since this process started)
    durable.kill9()
    durable.start()
    assert durable.client().function_list() == []


def test_damaged_function_block_is_refused(durable: ServerProcess) -> None:
    r = durable.client()
    r.function_load(LIB)
    r.bgsave()
    wait_checkpoints(r, 1)
    durable.stop()
    path = snapshot.list_snapshots(durable.dir)[-1][2]
    data = open(path, "rb").read()
    at = data.index(b"#!lua name=counters") + 5
    with open(path, "r+b") as fh:
        fh.seek(at)
        fh.write(bytes([data[at] ^ 0x20]))
    with pytest.raises(RuntimeError):
        durable.start()
    assert "CRC mismatch" in durable.log_text()


def test_functions_through_rdb_import_and_export() -> None:
    """A Redis dump.rdb with libraries imports (--import-rdb) and exports back (sentrykv-check)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    from tests.support.procs import ROOT, RedisProcess

    ref = RedisProcess().start()
    workdir = tempfile.mkdtemp(prefix="rdbfn-")
    srv = ServerProcess(args=["--appendonly", "yes", "--import-rdb", os.path.join(workdir, "dump.rdb")])
    try:
        c = ref.client()
        c.function_load(LIB)
        c.set("x", "5")
        c.execute_command("SAVE")
        shutil.copy(os.path.join(ref.dir, "dump.rdb"), os.path.join(workdir, "dump.rdb"))
        srv.start()
        r = srv.client()
        assert r.fcall("bump", 1, "x", 2) == 1 and r.get("x") == b"7"
        srv.stop()
        out = os.path.join(srv.dir, "export.rdb")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-m", "sentrykv_server.tools.check", srv.dir, "--export-rdb", out],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        back = RedisProcess(args=["--dbfilename", "export.rdb"], data_dir=srv.dir).start()
        try:
            b = back.client()
            assert b.fcall("bump", 1, "x", 1) == 1 and b.get("x") == b"8"
            listed = b.execute_command("FUNCTION", "LIST")
            assert len(listed) == 1 and listed[0][b"library_name"] == b"counters"
        finally:
            back.stop()
    finally:
        srv.stop()
        srv.cleanup()
        ref.stop()
        ref.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
