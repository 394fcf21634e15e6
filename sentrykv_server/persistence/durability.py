"""The server's side of durability: recovery at start, the per-pass log write, group commit.

This module ties the file-level pieces (records, WAL writer/reader, group
commit task, snapshots) to the server:

* :meth:`Durability.recover` loads the newest snapshot, replays the WAL after
  it through the ordinary command handlers (the log holds deterministic
  commands) and opens the writer for new frames.
* :meth:`append` collects one command's ops (hot path, no syscall).  All ops
  of one loop pass become ONE frame (a command's ops are never split), so the
  per-frame costs (header, CRC, LSN bookkeeping) are paid once per pass, not
  per command; every command of the pass depends on that frame's LSN, which is
  known in advance (``last_lsn + 1``).
* :meth:`write_pass` is called once per loop pass, before any reply leaves:
  it frames the pass's ops and hands everything buffered to the OS with one
  write().  A failing write turns the server
  read-only (``-MISCONF``) until a retry succeeds.
* :meth:`after_pass` kicks the group-commit task when there is unsynced data.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from sentrykv_server.persistence.fault_injection import from_environment
from sentrykv_server.persistence.records import decode_ops, encode_ops

if TYPE_CHECKING:
    from sentrykv_server.persistence.group_commit import GroupCommitter
    from sentrykv_server.persistence.wal_writer import WalWriter
    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv.persistence")


# Ops whose effect is not limited to the keys they name.
_WHOLE_DB_OPS = frozenset({b"FLUSHALL", b"FLUSHDB", b"SWAPDB", b"MOVE", b"COPY"})

# A pass with more ops than this is cut into several frames (between commands).
MAX_OPS_PER_FRAME = 4096


class RecoveryFailed(Exception):
    """The data directory cannot be loaded safely; the message names file and offset."""


class ReplayClient:
    """A stand-in connection used to re-execute logged commands during recovery."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.db = server.keyspace.dbs[0]
        self.resp3 = False
        self.multi = None
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.name = b""
        self.id = 0
        self.watched: list[Any] = []

    def select(self, index: int) -> None:
        self.db = self.server.keyspace.dbs[index]


def apply_payload(server: Server, client: ReplayClient, payload: bytes) -> None:
    """Re-execute every op of one frame; a failing op means the log cannot be trusted."""
    from sentrykv_server.commands.errors import CommandError
    from sentrykv_server.commands.registry import lookup

    dbs = server.keyspace.dbs
    for db_index, argv in decode_ops(payload):
        name = argv[0]
        if len(argv) == 3 and (name == b"SET" or name == b"set"):
            # The most common record, applied in bulk: no handler, no hooks (loading).
            db = dbs[db_index]
            db.data[argv[1]] = argv[2]
            if db.expires:
                db.expires.pop(argv[1], None)
            continue
        cmd = lookup(name)
        if cmd is None:
            raise RecoveryFailed(f"unknown command {argv[0]!r} in the log")
        client.db = dbs[db_index]
        try:
            cmd.handler(client, argv)  # type: ignore[arg-type]
        except CommandError as exc:
            raise RecoveryFailed(f"replaying {argv[0]!r} failed: {exc.message}") from None
    server.ops.clear()


class Durability:
    """WAL writer + group commit, as the server uses them."""

    def __init__(self, server: Server, writer: WalWriter) -> None:
        from sentrykv_server.persistence.group_commit import GroupCommitter

        self.server = server
        self.writer = writer
        self.committer: GroupCommitter = GroupCommitter(
            writer, server.config.appendfsync, self._on_durable, self._on_sync_error
        )
        self.write_failed: OSError | None = None
        self.sync_failed: BaseException | None = None
        self.last_write_error_log = 0.0
        self.write_errors = 0
        self.detached = False
        # Ops of the current loop pass, framed together by write_pass().
        self.pending: list[tuple[int, list[bytes]]] = []
        # Under appendfsync always: (lsn, ops) of frames not yet durable, so that while the
        # disk fails, reads that did not observe those ops can still be answered.
        self.frames: deque[tuple[int, list[tuple[int, list[bytes]]]]] = deque()
        # Group-commit batch size in write commands (ops) per fsync, under always.
        self.batch_last = self.batch_max = self.batch_total = self.batch_syncs = 0

    # -- hot path --------------------------------------------------------------------------
    def append(self, ops: list[tuple[int, list[bytes]]]) -> int:
        """Queue one command's ops; return the LSN of the frame that will carry them."""
        pending = self.pending
        pending += ops
        if len(pending) >= MAX_OPS_PER_FRAME:
            self.frame_pending()
            return self.writer.last_lsn
        return self.writer.last_lsn + 1

    def frame_pending(self) -> None:
        """Turn the queued ops into one frame (checkpoints call this at the cut)."""
        if self.pending:
            ops = self.pending
            self.pending = []
            lsn = self.writer.append(encode_ops(ops))
            if self.server.fsync_always:
                self.frames.append((lsn, ops))

    @property
    def durable_lsn(self) -> int:
        return self.writer.durable_lsn

    @property
    def written_lsn(self) -> int:
        return self.writer.written_lsn

    def write_pass(self) -> None:
        if self.pending:
            self.frame_pending()
        writer = self.writer
        if writer.last_lsn == writer.written_lsn:
            return
        try:
            writer.write_buffered()
        except OSError as exc:
            self._write_failed(exc)
            return
        if self.write_failed is not None:
            log.warning("write-ahead log writes succeed again; accepting writes")
            self.write_failed = None
            self._update_gate()

    def _write_failed(self, exc: OSError) -> None:
        self.write_errors += 1
        first = self.write_failed is None
        self.write_failed = exc
        now = time.monotonic()
        if first or now - self.last_write_error_log > 10:
            self.last_write_error_log = now
            log.error("Error writing to the write-ahead log: %s", exc.strerror or exc)
        self._update_gate()
        # Retry soon: a disk that filled up may get space back.
        loop = self.server.loop
        if loop is not None:
            loop.call_later(0.1, self.server.schedule_pass)

    def after_pass(self) -> None:
        writer = self.writer
        if writer.written_lsn > writer.durable_lsn:
            self.committer.kick()

    # -- group commit callbacks ------------------------------------------------------------
    def _on_durable(self, lsn: int) -> None:
        frames = self.frames
        commands = 0
        while frames and frames[0][0] <= lsn:
            commands += len(frames.popleft()[1])
        if self.server.fsync_always:
            self.batch_last = commands
            self.batch_max = max(self.batch_max, commands)
            self.batch_total += commands
            self.batch_syncs += 1
        metrics = self.server.metrics
        if metrics is not None:
            stats = self.committer.stats
            metrics.observe_fsync(stats.fsync_last_us / 1e6, commands if self.server.fsync_always else None)
        if self.server.fsync_always and self.server.holding:
            self.server.release_held()

    def read_barrier(self, db_index: int, argv: list[bytes]) -> int:
        """The LSN a read must wait for while the disk fails (appendfsync always).

        The newest not-yet-durable frame with an op that may have touched one of the
        read's arguments (any op naming it, or a whole-database op) — or the durable
        LSN when the read observed nothing that is not on disk.
        """
        keys = set(argv[1:])
        for lsn, ops in reversed(self.frames):
            for op_db, op in ops:
                if op[0].upper() in _WHOLE_DB_OPS or (op_db == db_index and not keys.isdisjoint(op)):
                    return lsn
        if self.pending:
            return self.writer.last_lsn + 1
        return self.writer.durable_lsn

    def _on_sync_error(self, exc: BaseException | None) -> None:
        if exc is None:
            if self.sync_failed is not None:
                log.warning("fsync succeeds again; accepting writes")
            self.sync_failed = None
        else:
            if self.sync_failed is None:
                log.error("fsync of the write-ahead log failed: %s", exc)
            self.sync_failed = exc
        self._update_gate()

    def _update_gate(self) -> None:
        """Refuse writes while the log cannot be written (or, under always, synced)."""
        server = self.server
        if self.write_failed is not None:
            reason = os.strerror(self.write_failed.errno) if self.write_failed.errno else str(self.write_failed)
            server.write_error = f"MISCONF Errors writing to the AOF file: {reason}"
        elif self.sync_failed is not None and server.config.appendfsync == "always":
            reason = getattr(self.sync_failed, "strerror", None) or str(self.sync_failed)
            server.write_error = f"MISCONF Errors writing to the AOF file: {reason}"
        else:
            server.write_error = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.committer.start()

    def set_policy(self, policy: str) -> None:
        self.committer.set_policy(policy)
        self._update_gate()

    def detach(self) -> None:
        """appendonly no at run time: stop logging; close the writer in the background."""
        self.detached = True
        self.server.write_error = None
        loop = self.server.loop
        if loop is not None:
            loop.create_task(self.close())

    async def close(self) -> None:
        self.write_pass()
        self.server.release_held()
        await self.committer.stop()
        try:
            self.writer.close()
        except OSError as exc:
            log.error("closing the write-ahead log: %s", exc)

    def reset_stats(self) -> None:
        self.committer.reset_stats()
        self.batch_last = self.batch_max = self.batch_total = self.batch_syncs = 0

    def info_fields(self) -> list[tuple[str, Any]]:
        writer = self.writer
        stats = self.committer.stats_fields()
        fields: list[tuple[str, Any]] = [
            ("aof_last_write_status", "err" if self.write_failed or self.sync_failed else "ok"),
            ("aof_last_fsync_status", "err" if self.sync_failed else "ok"),
            ("aof_delayed_fsync", stats.pop("delayed_fsync", 0)),
            ("aof_write_errors", self.write_errors),
            ("appendfsync", self.server.config.appendfsync),
            ("wal_last_lsn", writer.last_lsn),
            ("wal_written_lsn", writer.written_lsn),
            ("wal_durable_lsn", writer.durable_lsn),
            ("wal_segments", len(writer.segment_paths())),
            ("wal_pending_bytes", writer.pending_bytes() if hasattr(writer, "pending_bytes") else 0),
        ]
        fields += list(stats.items())
        avg = self.batch_total / self.batch_syncs if self.batch_syncs else 0.0
        fields += [
            ("wal_commands_per_fsync_last", self.batch_last),
            ("wal_commands_per_fsync_avg", f"{avg:.2f}"),
            ("wal_commands_per_fsync_max", self.batch_max),
        ]
        return fields

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def recover(cls, server: Server, directory: str, enabled: bool) -> Durability | None:
        """Load snapshot + WAL from ``directory``; return the live log (None if appendonly no)."""
        from sentrykv_server.persistence import wal_reader
        from sentrykv_server.persistence.wal_writer import WalWriter

        started = time.monotonic()
        keyspace = server.keyspace
        info = server.recovery_info
        after_lsn = 0
        keyspace.loading = True
        try:
            after_lsn = _load_snapshot(server, directory, info)
            client = ReplayClient(server)
            frames = 0

            def apply(lsn: int, payload: bytes) -> None:
                nonlocal frames
                apply_payload(server, client, payload)
                frames += 1

            def progress(done: int, total_bytes: int) -> None:
                log.info("Replaying write-ahead log: %d frames so far", done)

            try:
                report = wal_reader.recover(directory, apply, after_lsn=after_lsn, progress=progress)
            except wal_reader.WalCorruptionError as exc:
                raise RecoveryFailed(str(exc)) from None
        finally:
            keyspace.loading = False
        info["wal_frames"] = frames
        info["truncated_file"] = getattr(report, "truncated_file", None) or ""
        info["truncated_offset"] = getattr(report, "truncated_offset", -1) if report.truncated_file else -1
        info["truncated_bytes"] = getattr(report, "truncated_bytes", 0) or 0
        if info["truncated_bytes"]:
            log.warning(
                "Write-ahead log had a torn tail: cut %d bytes from %s at offset %d",
                info["truncated_bytes"], info["truncated_file"], info["truncated_offset"],
            )
        last_lsn = max(report.last_lsn or 0, after_lsn)
        info["seconds"] = time.monotonic() - started
        server.last_lsn = last_lsn
        if not enabled:
            return None
        writer = WalWriter(directory, next_lsn=last_lsn + 1, segment_max_bytes=server.config.wal_segment_size,
                           faults=from_environment())
        writer.durable_lsn = last_lsn
        return cls(server, writer)

    @classmethod
    def start_fresh(cls, server: Server) -> Durability:
        """appendonly yes at run time: checkpoint the current state, then log from there."""
        from sentrykv_server.persistence.wal_writer import WalWriter

        directory = os.path.abspath(server.config.dir)
        writer = WalWriter(directory, next_lsn=server.last_lsn + 1, segment_max_bytes=server.config.wal_segment_size,
                           faults=from_environment())
        writer.durable_lsn = server.last_lsn
        durability = cls(server, writer)
        durability.start()
        if server.checkpointer is not None:
            server.checkpointer.request(reason="appendonly enabled")
        return durability


def _load_snapshot(server: Server, directory: str, info: dict[str, Any]) -> int:
    """Load the newest valid snapshot if the checkpoint module exists; return its LSN."""
    try:
        from sentrykv_server.persistence import snapshot
    except ImportError:
        return 0
    try:
        loaded = snapshot.load_latest(directory, server.keyspace)
    except snapshot.SnapshotError as exc:
        raise RecoveryFailed(str(exc)) from None
    if loaded is None:
        return 0
    info["snapshot_entries"] = loaded.entries
    info["snapshot_file"] = loaded.path
    return int(loaded.lsn)


__all__ = ["Durability", "RecoveryFailed", "errno"]
