"""Engine-level suites: WAL replay, snapshot save/load, and request latency during a checkpoint.

They reuse the stand-alone micro-benchmarks (:mod:`bench.replay_micro`,
:mod:`bench.wal_micro`, :mod:`bench.checkpoint_micro`) so a number in the
report and a number printed by ``python -m bench.<micro>`` come from the same
code.  ``wal-replay`` and ``snapshot`` run in-process against SentryKV's
persistence modules (Redis has no equivalent entry point, so its columns stay
empty); ``checkpoint-pause`` runs against real server processes and measures
Redis too (BGSAVE = fork + RDB) as the reference.

Sizes are the real ones (1M keys) whatever the profile, because the targets
are stated at 1M.  ``--engine-keys N`` (hidden) or the environment variable
``SENTRYKV_BENCH_ENGINE_KEYS=N`` shrinks every size to N so tests can run the
suites in seconds; such runs are labelled with the size actually used.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from bench import checkpoint_micro, replay_micro, wal_micro
from bench.progress import human_rate
from bench.registry import Context, Suite, register
from bench.results import Sample
from bench.servers import ServerKind, ServerProcess, make_data_dir, remove_data_dir, start_server

ENV_KEYS = "SENTRYKV_BENCH_ENGINE_KEYS"
WAL_RECORDS = 1_000_000
FRAME_SIZES = (1, 16)  # ops per frame: a lone unpipelined client; a busy loop pass
SNAPSHOT_SIZES = (100_000, 1_000_000)
PAUSE_KEYS = 1_000_000
PAUSE_ROUNDS = 3  # BGSAVEs per server start
MODE = "everysec"
MODE_IN_PROCESS = "in-process"


def engine_keys(ctx: Context) -> int | None:
    """The size override for tests (``--engine-keys`` beats the environment variable)."""
    if ctx.engine_keys:
        return ctx.engine_keys
    value = os.environ.get(ENV_KEYS, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def _sizes(ctx: Context, sizes: tuple[int, ...]) -> list[int]:
    override = engine_keys(ctx)
    return sorted({override} if override else set(sizes))


def _scratch(ctx: Context, prefix: str) -> str:
    return tempfile.mkdtemp(prefix=f"sentrykv-bench-{os.getpid()}-{prefix}-", dir=ctx.tmp_base)


def _fail(ctx: Context, where: str, exc: BaseException) -> None:
    ctx.results.errors.append(f"{where}: {type(exc).__name__}: {exc}")
    ctx.progress.step(f"{where}: FAILED ({exc})")


# -- wal-replay --------------------------------------------------------------------------------


def _replay_once(ctx: Context, records: int, per_frame: int) -> dict[str, float]:
    directory = _scratch(ctx, "replay")
    try:
        replay_micro.write_log(directory, records, per_frame)
        size = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
        seconds, frames, keys = replay_micro.replay(directory)
        if keys != records:
            raise RuntimeError(f"replay restored {keys} keys, expected {records}")
        return {"replay_ops_per_s": records / seconds, "replay_frames_per_s": frames / seconds,
                "replay_s": seconds, "wal_bytes_per_op": size / records}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _scan_once(ctx: Context, records: int) -> dict[str, float]:
    """The log reader alone (scan + CRC + decode, no apply): the ceiling replay can reach."""
    directory = _scratch(ctx, "scan")
    try:
        d, _build = wal_micro.build(directory, records)
        scan, _ = wal_micro.bench_recover(d, decode=False)
        decode, count = wal_micro.bench_recover(d, decode=True)
        if count != records:
            raise RuntimeError(f"reader returned {count} records, expected {records}")
        return {"scan_records_per_s": scan, "decode_records_per_s": decode}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_wal_replay(ctx: Context) -> None:
    for records in _sizes(ctx, (WAL_RECORDS,)):
        for rep in range(ctx.reps):
            for per_frame in FRAME_SIZES:
                where = f"wal-replay n={records} {per_frame} op(s)/frame rep {rep + 1}/{ctx.reps}"
                try:
                    m = _replay_once(ctx, records, per_frame)
                except Exception as exc:  # one failed run must not lose the others
                    _fail(ctx, where, exc)
                    continue
                ctx.results.add(Sample("wal-replay", MODE_IN_PROCESS, f"n{records}-f{per_frame}",
                                       f"{records:,} SETs, {per_frame} op(s)/frame", "sentrykv", rep, m))
                ctx.progress.step(f"{where}: {human_rate(m['replay_ops_per_s'])} ops/s, "
                                  f"{human_rate(m['replay_frames_per_s'])} frames/s")
            where = f"wal-replay n={records} reader only rep {rep + 1}/{ctx.reps}"
            try:
                m = _scan_once(ctx, records)
            except Exception as exc:
                _fail(ctx, where, exc)
                continue
            ctx.results.add(Sample("wal-replay", MODE_IN_PROCESS, f"n{records}-reader",
                                   f"{records:,} records, reader only (1 op/frame)", "sentrykv", rep, m))
            ctx.progress.step(f"{where}: scan+CRC {human_rate(m['scan_records_per_s'])} records/s, "
                              f"+decode {human_rate(m['decode_records_per_s'])} records/s")


# -- snapshot ----------------------------------------------------------------------------------


def run_snapshot(ctx: Context) -> None:
    for n in _sizes(ctx, SNAPSHOT_SIZES):
        for rep in range(ctx.reps):
            where = f"snapshot n={n} rep {rep + 1}/{ctx.reps}"
            directory = _scratch(ctx, "snapshot")
            try:
                r = checkpoint_micro.bench(n, directory, with_writes=False)
                if not r["load_digest_ok"]:
                    raise RuntimeError("loaded snapshot does not match the saved keyspace (digest)")
            except Exception as exc:
                _fail(ctx, where, exc)
                continue
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            m = {
                "save_entries_per_s": float(r["save_entries_per_s"]),
                "load_entries_per_s": float(r["load_entries_per_s"]),
                "save_s": float(r["save_seconds"]),
                "load_s": float(r["load_seconds"]),
                "snapshot_bytes_per_key": r["snapshot_bytes"] / n,
                "cut_ms": float(r["cut_ms"]),
                "loop_stall_idle_ms": float(r["max_loop_stall_ms_idle"]),
            }
            ctx.results.add(Sample("snapshot", MODE_IN_PROCESS, f"n{n}", f"{n:,} keys", "sentrykv", rep, m))
            ctx.progress.step(f"{where}: save {human_rate(m['save_entries_per_s'])} entries/s, "
                              f"load {human_rate(m['load_entries_per_s'])} entries/s")


# -- checkpoint-pause --------------------------------------------------------------------------


def _pause_once(ctx: Context, kind: ServerKind, n: int) -> tuple[dict[str, float], dict[str, float]]:
    data_dir = make_data_dir(kind, ctx.tmp_base)
    server: ServerProcess | None = None
    try:
        server = start_server(kind, MODE, ctx.log_dir, data_dir=data_dir, tmp_base=ctx.tmp_base,
                              ready_timeout=ctx.ready_timeout)
        m = checkpoint_micro.latency_during_checkpoints(server.port, n, rounds=PAUSE_ROUNDS)
    finally:
        if server is not None:
            server.stop(remove_dir=False)
        remove_data_dir(data_dir)
    before = checkpoint_micro.latency_stats(m["before"])
    during = checkpoint_micro.latency_stats(m["during"])
    rounds = sorted(m["round_max"])
    during["median_round_max_ms"] = rounds[len(rounds) // 2] * 1000
    during["checkpoint_s"] = sorted(m["seconds"])[len(m["seconds"]) // 2]
    return before, during


def run_checkpoint_pause(ctx: Context) -> None:
    for n in _sizes(ctx, (PAUSE_KEYS,)):
        for rep in range(ctx.reps):
            for kind in ctx.order(rep):
                where = f"checkpoint-pause n={n} rep {rep + 1}/{ctx.reps} {kind.name:<8}"
                try:
                    before, during = _pause_once(ctx, kind, n)
                except Exception as exc:
                    _fail(ctx, where, exc)
                    continue
                ctx.results.add(Sample("checkpoint-pause", MODE, f"n{n}-before", f"{n:,} keys, no checkpoint",
                                       kind.name, rep, before))
                ctx.results.add(Sample("checkpoint-pause", MODE, f"n{n}-during",
                                       f"{n:,} keys, during BGSAVE", kind.name, rep, during))
                ctx.progress.step(f"{where}: during BGSAVE max {during['max_ms']:.2f} ms, "
                                  f"p99 {during['p99_ms']:.3f} ms ({int(during['requests'])} requests)")


register(Suite(
    "wal-replay",
    "WAL replay commands/s (in-process)",
    "Write N `SET key value` commands (16-byte values) with the real WalWriter, in frames of 1 op "
    "(a lone unpipelined client) and of 16 ops (the server logs every op of one event-loop pass in "
    "one frame), then time `Durability.recover` on a fresh Server: scan + CRC + decode + apply "
    "through the command table, exactly what a restart does (`python -m bench.replay_micro`). "
    "ops/s = commands replayed per second. The *reader only* row is `wal_reader.recover` without "
    "applying (`python -m bench.wal_micro`). In-process: there is no Redis equivalent.",
    frozenset({"full"}),
    run_wal_replay,
    lambda ctx: len(_sizes(ctx, (WAL_RECORDS,))) * ctx.reps * (len(FRAME_SIZES) + 1),
    order=70,
))

register(Suite(
    "snapshot",
    "Snapshot save/load entries/s at 100k and 1M keys (in-process)",
    "Fill a Keyspace with N string keys (`key:<n>` -> 24 bytes), run the real Checkpointer in a "
    "uvloop loop (cut, scan, write, fsync, rename) and time it; then `snapshot.load` the file in a "
    "fresh process, as a server start does (read, verify every CRC, decode, swap in). Also shown: "
    "the cut, and the longest event-loop stall during the (idle) checkpoint. The stall while a writer "
    "task overwrites/inserts/deletes keys is left to `python -m bench.checkpoint_micro` (it takes "
    "minutes at 1M keys); `checkpoint-pause` measures latency under load on a real server. "
    "No Redis equivalent.",
    frozenset({"full"}),
    run_snapshot,
    lambda ctx: len(_sizes(ctx, SNAPSHOT_SIZES)) * ctx.reps,
    order=71,
))

register(Suite(
    "checkpoint-pause",
    "Request latency during a checkpoint (1M keys)",
    f"Start each server (everysec), load N keys over the network, then one client sends SET on "
    f"random existing keys, one at a time: for 1 s without a checkpoint, then during {PAUSE_ROUNDS} "
    "BGSAVEs in a row (SentryKV: incremental checkpoint in the event loop; Redis: fork + RDB). "
    "Latency is client-side wall time per request; max is over all requests of all rounds, "
    "*median_round_max* the median of each round's longest request "
    "(`python -m bench.checkpoint_micro --server`).",
    frozenset({"full"}),
    run_checkpoint_pause,
    lambda ctx: len(_sizes(ctx, (PAUSE_KEYS,))) * ctx.reps * len(ctx.kinds),
    order=72,
))
