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
from sentrykv_server.persistence.group_commit import INLINE_MAX_GROUP
from sentrykv_server.persistence.records import (
    FEED_CHUNK,
    FRAME_END,
    FRAME_END_VALUE,
    NO_ITEM,
    RecordError,
    encode_ops,
    new_stream_reader,
    op_from_item,
)
from sentrykv_server.protocol.connection import Client
from sentrykv_server.replication.marker import MARK_NAME

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


class ReplayClient(Client):
    """A stand-in connection used to re-execute logged commands during recovery.

    A subclass of :class:`Client` so that handlers typed ``Client`` accept it
    (compiled handlers check); it sets up only what replaying needs.

    It also decodes: :meth:`apply_batch` feeds the payloads of many frames,
    joined by ``FRAME_END`` (see ``records``), into one hiredis reader and
    applies the ops as they come out.  One feed per batch instead of a decode
    per frame is what lets a replay go at about a million commands per second.
    """

    def __init__(self, server: Server) -> None:
        from sentrykv_server.commands.errors import CommandError
        from sentrykv_server.commands.registry import lookup

        self.server = server
        self.db = server.keyspace.dbs[0]
        self.resp3 = False
        self.multi = None
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.name = b""
        self.id = 0
        self.watched: list[Any] = []
        self._lookup = lookup
        self._command_error = CommandError
        self._stream = new_stream_reader()
        # Plain SETs with this db field (as logged) go straight into that database's dicts.
        self._bulk_field = b"0"
        self._bulk_index = 0

    def select(self, index: int) -> None:
        self.db = self.server.keyspace.dbs[index]

    def apply_batch(self, payloads: list[bytes], first_lsn: int | None = None) -> None:
        """Re-execute every op of these consecutive frames' payloads, in order.

        Raises :class:`RecordError` for a payload ``decode_ops`` would refuse
        (naming the frame when ``first_lsn`` is given) and RecoveryFailed for an
        op that cannot be applied: either way the log cannot be trusted.
        """
        if not payloads:
            return
        feed = self._stream.feed
        if len(payloads) == 1 and len(payloads[0]) > FEED_CHUNK:
            payload = payloads[0]
            for start in range(0, len(payload) - FEED_CHUNK, FEED_CHUNK):
                feed(payload, start, FEED_CHUNK)
                self._apply_fed(0, first_lsn)
            rest = len(payload) % FEED_CHUNK or FEED_CHUNK
            feed(payload, len(payload) - rest, rest)
        else:
            feed(FRAME_END.join(payloads))
        feed(FRAME_END)
        self._apply_fed(len(payloads), first_lsn)

    def _apply_fed(self, frames: int, first_lsn: int | None) -> None:
        """Apply the complete ops fed so far; exactly ``frames`` FRAME_ENDs must come out."""
        field = self._bulk_field
        db = self.server.keyspace.dbs[self._bulk_index]
        data = db.data
        expires = db.expires
        ended = 0
        try:
            for item in iter(self._stream.gets, NO_ITEM):
                kind = type(item)
                if kind is list and len(item) == 4:
                    f, name, key, value = item
                    if (
                        f == field
                        and (name == b"SET" or name == b"set")
                        and type(key) is bytes
                        and type(value) is bytes
                    ):
                        # The most common record, applied in bulk: no handler, no hooks
                        # (loading); a plain SET drops any TTL the key had.
                        data[key] = value
                        if expires:
                            expires.pop(key, None)
                        continue
                elif kind is int and item == FRAME_END_VALUE:
                    ended += 1
                    continue
                index, argv = op_from_item(item, 0)
                self._apply_op(index, argv)
                # A handler may have swapped or replaced the dicts: look them up again.
                field = self._bulk_field
                db = self.server.keyspace.dbs[self._bulk_index]
                data = db.data
                expires = db.expires
            if ended != frames:
                raise RecordError("a payload ends inside an op or holds more than ops")
        except (RecordError, TypeError) as exc:
            if type(exc) is TypeError and not _raised_here(exc):
                self._stream = new_stream_reader()
                raise  # a handler's TypeError is a bug, not a damaged log
            # (TypeError from gets(): hiredis builds a RESP3 map as a dict, keyed by an array)
            self._stream = new_stream_reader()
            if first_lsn is None:
                where = ""
            elif ended < frames:
                where = f" (in the WAL frame with LSN {first_lsn + ended})"
            else:  # a payload holding a FRAME_END item: it ends "too many" frames
                where = f" (in the WAL frames with LSN {first_lsn}..{first_lsn + frames - 1})"
            raise RecordError(f"{exc}{where}") from None
        except BaseException:
            self._stream = new_stream_reader()  # what is left in it will never be applied
            raise
        finally:
            self.server.ops.clear()

    def _apply_op(self, db_index: int, argv: list[bytes]) -> None:
        dbs = self.server.keyspace.dbs
        if db_index >= len(dbs):
            raise RecoveryFailed(f"op for db {db_index} in the log, but there are {len(dbs)} databases")
        name = argv[0]
        if name == MARK_NAME:  # the replication offset these frames bring the data to
            self.server.repl.restore_mark(argv)
            return
        if len(argv) == 3 and (name == b"SET" or name == b"set"):
            db = dbs[db_index]
            db.data[argv[1]] = argv[2]
            if db.expires:
                db.expires.pop(argv[1], None)
        else:
            cmd = self._lookup(name)
            if cmd is None:
                raise RecoveryFailed(f"unknown command {name!r} in the log")
            self.db = dbs[db_index]
            try:
                cmd.handler(self, argv)
            except self._command_error as exc:
                raise RecoveryFailed(f"replaying {name!r} failed: {exc.message}") from None
        self._bulk_index = db_index
        self._bulk_field = b"%d" % db_index


def apply_payload(server: Server, client: ReplayClient, payload: bytes) -> None:
    """Re-execute every op of one frame; a failing op means the log cannot be trusted."""
    client.apply_batch([payload])


class Durability:
    """WAL writer + group commit, as the server uses them."""

    def __init__(self, server: Server, writer: WalWriter) -> None:
        from sentrykv_server.persistence.group_commit import GroupCommitter

        self.server = server
        self.writer = writer
        self.committer: GroupCommitter = GroupCommitter(
            writer, server.config.appendfsync, self._on_durable, self._on_sync_error,
            inline_max_group=INLINE_MAX_GROUP,
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

    def frame_pending(self, marker: bool = False) -> None:
        """Turn the queued ops into one frame (checkpoints call this at the cut).

        While replication offsets are kept (``server.repl_mark`` is set), every frame
        ends with the marker op carrying the replication ID and offset its ops bring
        the data to, so recovery knows where to resume the stream (see
        replication/marker.py); ``marker`` writes one even when no op is queued.
        """
        ops = self.pending
        mark = self.server.repl_mark
        if mark is not None and (ops or marker or mark.due):
            ops.append(mark.op())
        if ops:
            self.pending = []
            lsn = self.writer.append(encode_ops(ops))
            if self.server.fsync_always:
                self.frames.append((lsn, ops))

    def buffered_bytes(self) -> int:
        """Log bytes held in memory (the ops of this pass count at their argument sizes)."""
        pending = sum(sum(map(len, argv)) for _db, argv in self.pending)
        return pending + self.writer.buffered_bytes()

    @property
    def durable_lsn(self) -> int:
        return self.writer.durable_lsn

    @property
    def written_lsn(self) -> int:
        return self.writer.written_lsn

    def write_pass(self) -> None:
        if self.pending or self.server.repl_mark is not None:
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
        self.committer.last_group = commands
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
        if self.server.repl_durable is not None:  # a replica's FACK (replication/replica.py)
            self.server.repl_durable(lsn)

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

            def apply(first_lsn: int, payloads: list[bytes]) -> None:
                # A batch of frames the reader verified, decoded and applied in one go.
                nonlocal frames
                client.apply_batch(payloads, first_lsn)
                frames += len(payloads)

            def progress(done: int, total_bytes: int) -> None:
                log.info("Replaying write-ahead log: %d frames so far", done)

            try:
                report = wal_reader.recover_batches(directory, apply, after_lsn=after_lsn, progress=progress)
            except wal_reader.WalCorruptionError as exc:
                raise RecoveryFailed(str(exc)) from None
            except RecordError as exc:
                raise RecoveryFailed(f"undecodable write-ahead log record: {exc}") from None
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
    if loaded.functions:
        from sentrykv_server.commands.errors import CommandError
        from sentrykv_server.scripting.functions import load_codes

        try:
            load_codes(server, loaded.functions)
        except CommandError as exc:
            raise RecoveryFailed(f"snapshot {loaded.path}: a function library does not load: {exc.message}") from None
    return int(loaded.lsn)


__all__ = ["Durability", "RecoveryFailed", "errno"]


def _raised_here(exc: BaseException) -> bool:
    """The exception was raised by the frame that caught it (a C call such as gets())."""
    tb = exc.__traceback__
    return tb is not None and tb.tb_next is None
