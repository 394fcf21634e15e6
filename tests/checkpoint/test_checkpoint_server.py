"""Checkpoints in real server processes: restart equivalence after kill -9, writes racing
a running checkpoint, point-in-time exactness, crash at every step, damaged snapshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from sentrykv_server.persistence import snapshot
from sentrykv_server.persistence.checkpoint import CRASH_STEPS
from tests.checkpoint.helpers import (
    digest,
    dump,
    flip_bit,
    replay_wal,
    send_only,
    snapshot_files,
    wait_checkpoints,
    wal_files,
)
from tests.checkpoint.workload import Writer, load_keys
from tests.support.procs import ROOT, ServerProcess

DURABLE = ["--appendonly", "yes", "--appendfsync", "everysec"]


@pytest.fixture
def procs() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for srv in started:
        srv.stop()
        srv.cleanup()


def start(procs: list[ServerProcess], args: list[str], env: dict[str, str] | None = None,
          data_dir: str | None = None) -> ServerProcess:
    srv = ServerProcess(data_dir=data_dir, args=args, env=env)
    procs.append(srv)
    return srv.start()


def wait_exit(srv: ServerProcess, timeout: float = 30.0) -> int:
    assert srv.proc is not None
    code = srv.proc.wait(timeout)
    srv.stop()  # closes the log
    return code


def run_writers(port: int, n: int, keys: int, whole_db: bool = False, seed: int = 0) -> list[Writer]:
    writers = [Writer(port, i, keys, seed * 100 + i, whole_db) for i in range(n)]
    for w in writers:
        w.start()
    return writers


def stop_writers(writers: list[Writer]) -> None:
    for w in writers:
        w.stop_flag = True
    for w in writers:
        w.join(30)
    for w in writers:
        assert w.error is None, f"writer {w.who} failed: {w.error!r}"
    time.sleep(0.1)  # let the 1 ms / 50 ms TTLs pass: DEBUG DIGEST skips expired keys


def test_restart_equivalence_after_kill9(procs: list[ServerProcess]) -> None:
    srv = start(procs, [*DURABLE, "--wal-segment-size", "65536"])
    r = srv.client()
    load_keys(r, 5000)
    segments_before = wal_files(srv.dir)
    assert len(segments_before) > 1
    assert r.bgsave() in (True, b"Background saving started")
    fields = wait_checkpoints(r, 1)
    assert fields["rdb_last_bgsave_status"] == "ok" and fields["checkpoint_last_keys"] > 5000
    snaps = snapshot_files(srv.dir)
    assert len(snaps) == 1 and snapshot.list_snapshots(srv.dir)[0][1] == fields["checkpoint_last_lsn"]
    # Every segment holding frames up to the cut is gone: the snapshot covers it.
    cut = fields["checkpoint_last_lsn"]
    covered = {n for n in segments_before if int(n[4:24]) <= cut}
    assert len(covered) > 1 and not covered & set(wal_files(srv.dir))
    writers = run_writers(srv.port, 3, 5000)
    time.sleep(0.8)
    stop_writers(writers)
    before = digest(r)
    counters = {w.who: w.acked for w in writers}
    srv.kill9()
    srv.start()
    r = srv.client()
    assert digest(r) == before
    for ident, acked in counters.items():
        assert int(r.get(b"counter:%d" % ident) or 0) == acked
    fields = dict(r.info("persistence"))
    assert fields["recovery_snapshot_entries"] > 5000 and fields["recovery_wal_frames"] > 0


def test_writes_racing_a_checkpoint_on_200k_keys(procs: list[ServerProcess]) -> None:
    srv = start(procs, DURABLE)
    r = srv.client()
    load_keys(r, 200_000)
    writers = run_writers(srv.port, 6, 200_000, seed=1)
    time.sleep(0.2)
    r.bgsave()
    fields = wait_checkpoints(r, 1, timeout=60)
    assert fields["checkpoint_last_status"] == "ok", fields
    assert fields["checkpoint_last_preserved"] > 0  # writers really changed cut-time keys
    time.sleep(0.3)  # writes after the checkpoint, replayed from the WAL
    stop_writers(writers)
    assert sum(w.ops for w in writers) > 1000
    before = digest(r)
    counters = {w.who: w.acked for w in writers}
    srv.kill9()
    srv.start()
    r = srv.client()
    assert digest(r) == before, "writes racing the checkpoint were lost or applied twice"
    for ident, acked in counters.items():
        assert int(r.get(b"counter:%d" % ident)) == acked


def test_snapshot_is_exactly_the_wal_up_to_its_lsn(procs: list[ServerProcess]) -> None:
    """Under writes of every type (FLUSHDB and SWAPDB included), the snapshot equals
    replaying WAL frames 1..cut offline.  The process stops right after the snapshot is
    durable (SENTRYKV_CRASH_AT=dir-synced), so no segment has been deleted yet."""
    env = {"SENTRYKV_CRASH_AT": "dir-synced", "SENTRYKV_CHECKPOINT_SLOW_MS": "1"}
    srv = start(procs, DURABLE, env=env)
    r = srv.client()
    load_keys(r, 3000)
    writers = run_writers(srv.port, 4, 3000, whole_db=True, seed=2)
    time.sleep(0.3)
    send_only(srv.port, b"BGSAVE")
    assert wait_exit(srv) == 137
    for w in writers:
        w.stop_flag = True
        w.join(30)
    assert sum(w.ops for w in writers) > 500
    snaps = snapshot.list_snapshots(srv.dir)
    assert len(snaps) == 1
    _gen, lsn, path = snaps[0]
    from sentrykv_server.store.keyspace import Keyspace

    from_snapshot = Keyspace(16)
    snapshot.load(path, from_snapshot)
    from_wal = replay_wal(srv.dir, lsn)
    assert dump(from_snapshot) == dump(from_wal)
    # The writers kept going while it ran: the log holds frames after the cut.
    from sentrykv_server.persistence.wal_reader import iter_frames

    assert sum(1 for _ in iter_frames(srv.dir, lsn)) > 20


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_crash_at_each_step_recovers(procs: list[ServerProcess], step: str) -> None:
    srv = start(procs, [*DURABLE, "--wal-segment-size", "4096"], env={"SENTRYKV_CRASH_AT": step})
    r = srv.client()
    load_keys(r, 1500)
    for i in range(300):  # one frame each: several small segments
        r.set(b"single:%d" % i, b"%d" % i)
    r.set(b"marker", b"before")
    before = digest(r)
    segments = wal_files(srv.dir)
    assert len(segments) > 2
    send_only(srv.port, b"BGSAVE")  # with "cut" the process may exit before the reply leaves
    assert wait_exit(srv) == 137
    names = os.listdir(srv.dir)
    tmp = [n for n in names if n.endswith(".snap.tmp")]
    done = snapshot_files(srv.dir)
    if step in ("cut", "write", "written", "fsynced"):
        assert not done and (tmp or step == "cut")
    else:
        assert len(done) == 1 and not tmp
    if step in ("retiring", "retired"):
        assert segments[0] not in names  # retirement started with the oldest segment
    else:
        assert set(segments) <= set(names)  # nothing deleted before the snapshot is durable
    srv.env = None
    srv.start()
    r = srv.client()
    assert digest(r) == before
    assert r.get(b"marker") == b"before"
    assert not [n for n in os.listdir(srv.dir) if n.endswith(".snap.tmp")]
    # The recovered directory checks clean, and a new checkpoint works from here.
    r.set(b"marker", b"after")
    r.bgsave()
    assert wait_checkpoints(r, 1)["checkpoint_last_status"] == "ok"
    after = digest(r)
    srv.kill9()
    srv.start()
    assert digest(srv.client()) == after
    check = subprocess.run(
        [sys.executable, "-m", "sentrykv_server.tools.check", srv.dir],
        capture_output=True, text=True, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize("damage", ["bitflip", "truncate"])
def test_damaged_snapshot_refuses_to_start(procs: list[ServerProcess], damage: str) -> None:
    srv = start(procs, DURABLE)
    r = srv.client()
    load_keys(r, 2000)
    r.save()
    srv.stop()
    (_g, _l, path), = snapshot.list_snapshots(srv.dir)
    size = os.path.getsize(path)
    if damage == "bitflip":
        flip_bit(path, size // 2, 3)
    else:
        with open(path, "r+b") as fh:
            fh.truncate(size - 30)
    srv.start(wait=False)
    assert wait_exit(srv) == 1
    log = srv.log_text()
    assert f"snapshot {path} is unusable at offset" in log
    check = subprocess.run(
        [sys.executable, "-m", "sentrykv_server.tools.check", srv.dir],
        capture_output=True, text=True, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert check.returncode == 1 and f"first bad offset: {path}:" in check.stdout


def test_save_with_appendonly_off_then_enable_it(procs: list[ServerProcess]) -> None:
    srv = start(procs, ["--appendonly", "no"])
    r = srv.client()
    load_keys(r, 1000)
    assert r.lastsave().timestamp() <= time.time() + 1
    assert r.save() is True
    first = digest(r)
    r.set(b"after-save", b"lost on kill -9 (no WAL)")
    srv.kill9()
    srv.start()
    r = srv.client()
    assert digest(r) == first
    # Switching the WAL on takes a checkpoint so the log has a base to start from.
    r.config_set("appendonly", "yes")
    fields = wait_checkpoints(r, 1)
    assert fields["checkpoint_last_reason"] == "appendonly enabled"
    r.set(b"logged", b"1")
    time.sleep(0.05)
    second = digest(r)
    srv.kill9()
    srv.args = ["--appendonly", "yes"]
    srv.start()
    assert digest(srv.client()) == second


def test_shutdown_save_nosave_and_sigterm(procs: list[ServerProcess]) -> None:
    srv = start(procs, DURABLE)
    r = srv.client()
    load_keys(r, 1000)
    want = digest(r)
    send_only(srv.port, b"SHUTDOWN", b"NOSAVE")
    wait_exit(srv)
    assert snapshot_files(srv.dir) == []
    srv.start()
    r = srv.client()
    send_only(srv.port, b"SHUTDOWN", b"SAVE")
    wait_exit(srv)
    assert len(snapshot_files(srv.dir)) == 1
    segs = wal_files(srv.dir)
    assert len(segs) == 1 and os.path.getsize(os.path.join(srv.dir, segs[0])) == 24  # only a fresh segment
    srv.args = [*DURABLE, "--shutdown-checkpoint", "yes"]
    srv.start()
    r = srv.client()
    assert digest(r) == want
    r.set(b"x", b"y")
    srv.stop()  # SIGTERM: final checkpoint because of shutdown-checkpoint yes
    assert snapshot.list_snapshots(srv.dir)[-1][0] == 2


def test_periodic_and_wal_growth_triggers(procs: list[ServerProcess]) -> None:
    srv = start(procs, DURABLE)
    r = srv.client()
    r.config_set("autockpt", "200")
    assert r.config_get("checkpoint-interval-ms") == {"checkpoint-interval-ms": "200"}
    r.set(b"a", b"1")
    fields = wait_checkpoints(r, 1, timeout=10)
    assert fields["checkpoint_last_reason"] == "periodic" and fields["rdb_saves"] == 1
    time.sleep(0.6)
    assert int(r.info("persistence")["checkpoints_total"]) == 1  # nothing changed: no new one
    r.config_set("checkpoint-interval-ms", "0")
    r.set(b"b", b"2")
    time.sleep(0.5)
    assert int(r.info("persistence")["checkpoints_total"]) == 1
    r.config_set("auto-aof-rewrite-min-size", "65536")
    r.config_set("auto-aof-rewrite-percentage", "100")
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(b"grow:%d" % i, b"x" * 40)
    pipe.execute()
    fields = wait_checkpoints(r, 2, timeout=10)
    assert fields["checkpoint_last_reason"] == "wal growth"
    assert fields["aof_rewrites"] == 1 and fields["aof_last_bgrewrite_status"] == "ok"
    assert fields["checkpoint_wal_bytes"] < 65536
