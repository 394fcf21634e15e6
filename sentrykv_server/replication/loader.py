"""Loading a full sync's RDB on a replica, crash-safely, without stopping the loop.

Redis's disk-based load blocks the server; here the old data keeps being
served (reads; writes get READONLY/LOADING) while an executor thread decodes
the RDB into *fresh* dicts and, in the same pass, writes them as a snapshot
(``persistence/snapshot.py``) of the next checkpoint generation.  The order
of events is what makes a ``kill -9`` at any point recover a state that
existed, with the replication position that goes with it:

1. the WAL is cut at LSN ``L`` (nothing is written until step 4: the master
   stream waits in the socket, client writes are refused, replicas do not
   expire keys) and the checkpoint slot is held, so no checkpoint of the old
   data can start;
2. the thread writes the snapshot ``(generation+1, L)``: fsync, rename,
   directory fsync.  A crash before this recovers the old data and its old
   position (the master answers the next PSYNC with a full sync again);
3. on the loop, the new dicts replace the old ones (one step);
4. a marker-only frame ``L+1`` records the master's replication ID and the
   offset of ``+FULLRESYNC``.  A crash between 2 and 4 recovers the new
   snapshot without a position: a full sync, never a wrong continuation;
5. WAL segments up to ``L`` and older snapshots are deleted, as after any
   checkpoint.

Keys already expired are kept (a replica waits for the master's DEL, as
Redis does).  With appendonly off the snapshot is still written (Redis keeps
the received dump.rdb), without a position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentrykv_server.persistence import snapshot
from sentrykv_server.persistence.checkpoint import SAVE, Run
from sentrykv_server.persistence.rdb.decode import Limits
from sentrykv_server.persistence.rdb.rdbfile import read_rdb
from sentrykv_server.persistence.rdb.transfer import _Blocks
from sentrykv_server.replication.state import NO_REPLID

if TYPE_CHECKING:
    from sentrykv_server.replication.replica import MasterLink

log = logging.getLogger("sentrykv.replication")


async def load_full_sync(link: MasterLink, path: str) -> None:
    repl = link.repl
    server = repl.server
    ckpt = server.checkpointer
    run: Run | None = None
    try:
        while ckpt.current is not None:  # one snapshot writer at a time
            task = ckpt.current.task
            if task is None:
                await asyncio.sleep(0.01)
            else:
                await asyncio.wait([task])
        ckpt.generation += 1
        run = Run(SAVE, "full sync from master", ckpt.generation)
        ckpt.current = run
        repl.loading = True
        repl.refresh_gates()
        ckpt.cut_wal(run, marker=False)  # the marker comes once the new data is in place
        aof = server.aof
        started = time.monotonic()
        log.info("MASTER <-> REPLICA sync: Loading DB in memory (old data served meanwhile)")
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        work = loop.run_in_executor(ckpt.executor, _load, path, ckpt.directory, run.generation, run.lsn,
                                    server.config, ckpt.crash, stop)
        try:
            (dbs, codes), entries, size, writer_path = await asyncio.shield(work)
        except asyncio.CancelledError:
            await _abandon(work, stop, ckpt.directory)
            raise
        run.path = writer_path
        run.entries = entries
        run.size = size
        run.durable = True
        _swap(server, dbs, codes)
        repl.replid, repl.offset = link.sync_replid, link.sync_offset
        repl.replid2, repl.second_offset = NO_REPLID, -1
        repl.ensure_backlog()
        assert repl.backlog is not None
        repl.backlog.rebase(repl.offset)
        repl.encoder.seldb = -1
        link.applier.reset()
        repl.activate()
        if aof is not None:
            aof.frame_pending(marker=True)
            server.schedule_pass()
        try:
            run.deleted_segments = await loop.run_in_executor(ckpt.executor, ckpt._retire, run)
        except OSError as exc:
            log.warning("full sync snapshot %s is durable, but removing older files failed: %s", run.path, exc)
        run.ok = True
        log.info("MASTER <-> REPLICA sync: Finished loading %d keys in %.3fs", entries, time.monotonic() - started)
    except asyncio.CancelledError:
        if run is not None:
            run.error = "cancelled"
        raise
    except Exception as exc:  # noqa: BLE001 - a bad payload drops the link; the old data stays
        if run is not None:
            run.error = str(exc)
        log.error("MASTER <-> REPLICA sync: Failed loading the RDB from the master: %s", exc)
        link.close()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        repl.loading = False
        repl.refresh_gates()
        if run is not None:
            ckpt._finished(run)
    if run is not None and run.ok and not link.closed:
        link.loaded()


async def _abandon(work: asyncio.Future[Any], stop: threading.Event, directory: str) -> None:
    """The sync was cancelled (REPLICAOF elsewhere, shutdown): the thread cannot be, so ask it
    to stop and wait; a snapshot it managed to finish must not outlive the data it describes
    (never swapped in), or a restart would load it."""
    stop.set()
    try:
        _dbs, _entries, _size, finished = await work
    except Exception:  # noqa: BLE001 - stopped (or failed): nothing was renamed
        return
    with contextlib.suppress(OSError):
        os.unlink(finished)
        snapshot.fsync_directory(directory)


class _Stopped(Exception):
    """The load was abandoned."""


def _load(path: str, directory: str, generation: int, lsn: int, config: Any,
          crash: Callable[[str], None], stop: threading.Event) -> tuple[Any, int, int, str]:
    """Executor thread: RDB -> fresh dicts per database + a durable snapshot of them.

    ``crash`` is the checkpoints' SENTRYKV_CRASH_AT hook (tests kill the process at each
    step of writing the snapshot); ``stop`` abandons the load between two keys."""
    databases = int(config.get("databases"))
    writer = snapshot.SnapshotWriter(directory, generation, lsn, databases, crash)
    dbs: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]] = {}
    blocks = _Blocks(writer)
    codes: list[bytes] = []  # FUNCTION libraries (they come with a full sync, as in Redis)

    def on_key(db: int, key: bytes, value: Any, expire: int | None) -> None:
        if stop.is_set():
            raise _Stopped()
        data, expires = dbs.setdefault(db, ({}, {}))
        data[key] = value
        if expire is not None:
            expires[key] = expire
        blocks.add(db, key, value, expire)

    try:
        writer.open()
        with open(path, "rb") as fh:
            read_rdb(fh, Limits.from_config(config), on_key, databases=databases, now_ms=-(1 << 63),
                     on_function=codes.append)
        blocks.flush_all()
        writer.write_functions(codes)
        if stop.is_set():
            raise _Stopped()
        size = writer.finish()
    except BaseException:
        writer.abort()
        raise
    return (dbs, codes), writer.entries, size, writer.path


def _swap(server: Any, dbs: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]], codes: list[bytes]) -> None:
    """The master's dataset and function libraries replace ours in one step (WATCHes
    break, as on FLUSHALL)."""
    from sentrykv_server.commands.errors import CommandError
    from sentrykv_server.scripting.functions import load_codes

    try:
        load_codes(server, codes)
    except CommandError as exc:  # the snapshot holds them; a restart reports it the same way
        log.error("MASTER <-> REPLICA sync: a function library from the master does not load: %s", exc.message)
    keyspace = server.keyspace
    for db in keyspace.dbs:
        before = db.data
        db.data, db.expires = dbs.get(db.id, ({}, {}))
        keyspace.flushed(db, before)
    keyspace.rebuild_expiry_heap()
    keyspace.dirty = 0
    server.lastsave = int(time.time())
