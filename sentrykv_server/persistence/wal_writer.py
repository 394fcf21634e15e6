"""Appending frames to WAL segments: buffer on the hot path, one write per pass, fsync aside.

Threads: everything except :meth:`WalWriter.sync` runs on the event-loop
thread.  ``sync`` runs in an executor thread and may overlap ``write_buffered``
and ``rotate``; the two share a small lock around the bookkeeping (sizes,
``written_lsn``, the list of segments still to fsync), never around a syscall
on the loop side's data.

LSN watermarks, each <= the one before it:

* ``last_lsn``: assigned by :meth:`append` (frame may still be in memory);
* ``written_lsn``: handed to the kernel by :meth:`write_buffered` (survives kill -9);
* ``durable_lsn``: covered by an fsync that returned (survives power loss).
  ``sync`` itself advances it; the group-commit task also gets it as the return
  value.  The caller may set it once at start-up (after recovery).

Opening: the writer always starts a *fresh* segment at ``next_lsn``; it never
appends to a file it did not create in this process, so a recovered (possibly
truncated) segment is never written again.  The one exception: a last segment
that already starts at ``next_lsn`` and holds no frame (a restart without
writes) is replaced instead of colliding with it.

Write failures never leave a torn frame in the middle of the log: frames are
written with ``pwrite`` at the end of the last complete batch; if the write
fails part-way the file is cut back there (``ftruncate``) and the batch stays
buffered, so the retry rewrites it at the same offset.

fsync failures: after a failed fsync, Linux may mark the dirty pages clean, so
a later fsync "succeeds" without the data ever reaching the disk.  The writer
therefore keeps the bytes written since the last successful fsync and writes
them again before retrying.  If that retained data exceeded ``retain_limit``
(only possible when fsync is rare, e.g. policy ``no``) it cannot, and ``sync``
keeps failing with :class:`WalSyncLost` until the process restarts.

Preallocation (``preallocate``, on by default): frames are written *inside*
space the segment already owns.  Before a write would pass the end of that
space, the writer appends ``PREALLOC_BYTES`` of zeros (and asks the kernel to
start writing them back at once); the next fsync makes them and the new file
size durable once.  Every later fdatasync of frames written there only has
data blocks to write: no file size, no block allocation, so no inode write --
on this kind of disk (ext4, virtio) that is ~140 us instead of ~200 us per
fsync, and the fsync is what a durable write waits for.  The end of the log
is then "valid frames, then zeros to the end of the file": the reader treats
such a zero tail as clean (see wal_reader.py); the unused space is cut off
when a segment is retired or the writer closes.  After a failed fsync the
zeros may not have reached the disk either, so the next write lays them down
again from the end of the frames.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, field
from typing import Protocol

from crc32c import crc32c

from sentrykv_server.persistence.wal_errors import WalSyncLost as WalSyncLost
from sentrykv_server.persistence.wal_format import (
    HEADER_SIZE,
    LEN_LSN,
    MAX_FRAME_PAYLOAD,
    U32,
    WalFormatError,
    encode_header,
    list_segments,
    segment_holds_no_frame,
    segment_name,
)

DEFAULT_SEGMENT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_RETAIN_LIMIT = 64 * 1024 * 1024
PREALLOC_BYTES = 1024 * 1024  # zeros appended at a time (see the module doc)
_PAGE = 4096
FSYNC_LOG_ENV = "SENTRYKV_FSYNC_LOG"


class Faults(Protocol):
    """Test hook; production passes None.

    ``before_write`` may raise OSError, or return a byte count to make the
    next ``pwrite`` short; ``before_fsync`` may raise OSError or sleep.
    """

    def before_write(self, nbytes: int) -> int | None: ...

    def before_fsync(self) -> None: ...


@dataclass(eq=False)
class _Segment:
    fd: int
    name: str
    first_lsn: int
    size: int  # bytes of complete frames (plus header) in the file
    synced_size: int = 0
    # (offset, bytes) written since the last successful fsync, contiguous from
    # retained_from to size; see the module doc for why.
    unsynced: list[tuple[int, bytes]] = field(default_factory=list)
    retained_from: int = 0
    alloc_end: int = 0  # the file's size: frames end at ``size``, zeros up to here


@dataclass
class SyncPlan:
    """One sync: the LSN it makes durable, (segment, size) pairs, and the fds in fsync order."""

    lsn: int
    todo: list[tuple[_Segment, int]]
    dir_dirty: bool
    fds: list[int]


class WalWriter:
    """Owns the segment files of one directory; see the module doc for the rules."""

    def __init__(
        self,
        directory: str,
        next_lsn: int,
        segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
        *,
        faults: Faults | None = None,
        retain_limit: int = DEFAULT_RETAIN_LIMIT,
        preallocate: bool = True,
    ) -> None:
        if next_lsn < 1:
            raise ValueError("next_lsn starts at 1")
        self.directory = os.path.abspath(directory)
        self.segment_max_bytes = max(segment_max_bytes, HEADER_SIZE + 1)
        self.faults = faults
        self.retain_limit = retain_limit
        self.preallocate = preallocate
        self.prealloc_writes = 0
        self._realloc = False  # a sync failed: lay the zeros down again (see module doc)
        # The group committer turns this off under policy "no" (nothing to protect).
        self.retain_unsynced = True
        self.last_lsn = next_lsn - 1
        self.written_lsn = next_lsn - 1
        self.durable_lsn = next_lsn - 1
        self.bytes_written = 0
        self.write_calls = 0
        self.rotation_error: OSError | None = None
        self._buf: list[bytes] = []
        self._retired: list[_Segment] = []
        self._dir_dirty = False
        self._retained = 0
        self._sync_lost = False
        self._lock = threading.Lock()  # bookkeeping shared with sync()
        self._sync_lock = threading.Lock()  # one sync at a time
        self._fsync_log = os.environ.get(FSYNC_LOG_ENV) or None
        self._closed = False
        os.makedirs(self.directory, exist_ok=True)
        self._dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        self._check_existing(next_lsn)
        self._cur = self._create_segment(next_lsn)

    # -- hot path (loop thread) ------------------------------------------------------------
    def append(self, payload: bytes) -> int:
        """Frame ``payload`` into the buffer under the next LSN and return the LSN."""
        size = len(payload)
        if size > MAX_FRAME_PAYLOAD:
            raise WalFormatError(f"payload of {size} bytes exceeds {MAX_FRAME_PAYLOAD}")
        self.last_lsn = lsn = self.last_lsn + 1
        body = LEN_LSN.pack(size, lsn)
        self._buf += (U32.pack(crc32c(payload, crc32c(body))), body, payload)
        return lsn

    def pending_bytes(self) -> int:
        """Bytes framed but not yet handed to the kernel."""
        return sum(map(len, self._buf))

    def buffered_bytes(self) -> int:
        """Log bytes held in memory: framed but unwritten, plus written but not yet fsynced
        ones kept for a retry (INFO mem_aof_buffer)."""
        return self.pending_bytes() + self._retained

    def write_buffered(self) -> None:
        """One ``pwrite`` (looping over short writes) of every buffered frame.

        On OSError the segment is cut back to its last complete batch, the
        frames stay buffered for the next call, and the error propagates.
        """
        if not self._buf:
            return
        if self._closed:
            raise ValueError("WAL writer is closed")
        data = b"".join(self._buf)
        seg = self._cur
        offset = seg.size
        end_lsn = self.last_lsn
        if self.preallocate and (offset + len(data) > seg.alloc_end or self._realloc):
            self._extend(seg, offset + len(data))
        try:
            self._pwrite_all(seg.fd, data, offset)
        except OSError:
            seg.alloc_end = min(seg.alloc_end, offset)  # _pwrite_all may have cut the file there
            raise
        self._buf = []
        with self._lock:
            seg.size = offset + len(data)
            self.written_lsn = end_lsn
            if self.retain_unsynced:
                seg.unsynced.append((offset, data))
                self._retained += len(data)
                if self._retained > self.retain_limit:
                    self._drop_retained()
            else:
                seg.retained_from = seg.size
        self.bytes_written += len(data)
        self.write_calls += 1
        if seg.size >= self.segment_max_bytes:
            self._rotate_after_write()

    def _extend(self, seg: _Segment, end: int) -> None:
        """Append zeros so that the segment owns at least ``end`` bytes (module doc).

        Raises OSError like a failed frame write (the caller's batch stays buffered).
        """
        with self._lock:
            if self._realloc:
                self._realloc = False
                seg.alloc_end = seg.size  # re-zero what a failed fsync may have lost
        start = seg.alloc_end
        if start < seg.size:
            start = seg.size
        want = min(end + PREALLOC_BYTES, max(end, self.segment_max_bytes))
        want = -(-want // _PAGE) * _PAGE
        if want <= start:
            return
        self._pwrite_all(seg.fd, bytes(want - start), start)
        seg.alloc_end = want
        self.prealloc_writes += 1
        try:  # start writing the zeros back now, not in the next group's fsync
            os.posix_fadvise(seg.fd, start, want - start, os.POSIX_FADV_DONTNEED)
        except (OSError, AttributeError):
            pass

    def _trim(self, seg: _Segment) -> None:
        """Give back a segment's unused preallocated space (best effort: zeros are valid)."""
        if seg.alloc_end > seg.size:
            try:
                os.ftruncate(seg.fd, seg.size)
                seg.alloc_end = seg.size
            except OSError:
                pass

    def _pwrite_all(self, fd: int, data: bytes, offset: int) -> None:
        view = memoryview(data)
        done = 0
        faults = self.faults
        try:
            while done < len(data):
                chunk = view[done:]
                if faults is not None:
                    limit = faults.before_write(len(chunk))
                    if limit is not None:
                        chunk = chunk[:limit]
                n = os.pwrite(fd, chunk, offset + done)
                if n == 0:
                    raise OSError(errno.EIO, "pwrite wrote nothing")
                done += n
        except OSError:
            if done:
                # Cut the partial batch off so no torn frame is ever followed by
                # later frames; if even this fails the retry overwrites it (same offset).
                try:
                    os.ftruncate(fd, offset)
                except OSError:
                    pass
            raise
        finally:
            view.release()

    # -- segments ---------------------------------------------------------------------------
    def _check_existing(self, next_lsn: int) -> None:
        for first, path in list_segments(self.directory):
            if first < next_lsn:
                continue
            if first == next_lsn and segment_holds_no_frame(path):
                os.unlink(path)  # an empty segment left by a restart without writes
                self._dir_dirty = True
                continue
            raise ValueError(
                f"{path} already holds LSN {first} >= next_lsn {next_lsn}: "
                "the writer must start after the recovered log"
            )

    def _create_segment(self, first_lsn: int) -> _Segment:
        name = segment_name(first_lsn)
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            self._pwrite_all(fd, encode_header(first_lsn), 0)
        except OSError:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        seg = _Segment(fd=fd, name=name, first_lsn=first_lsn, size=HEADER_SIZE, alloc_end=HEADER_SIZE)
        with self._lock:
            seg.unsynced.append((0, encode_header(first_lsn)))
            self._retained += HEADER_SIZE
        return seg

    def rotate(self) -> None:
        """Write what is buffered, then continue in a new segment starting at ``last_lsn + 1``.

        Checkpoints use this so every segment older than the new one holds
        only LSNs <= the snapshot and can be deleted whole.  A no-op when the
        current segment holds no frame yet.
        """
        self._check_open()
        self.write_buffered()
        if self._cur.first_lsn == self.last_lsn + 1:
            return
        new = self._create_segment(self.last_lsn + 1)
        self._trim(self._cur)
        with self._lock:
            self._retired.append(self._cur)
            self._cur = new
            self._dir_dirty = True
        self.rotation_error = None

    def _rotate_after_write(self) -> None:
        # A failed rotation is not a failed write: keep appending to the current
        # segment (it just grows past the limit) and try again after the next write.
        try:
            self.rotate()
        except OSError as exc:
            self.rotation_error = exc

    def segment_paths(self) -> list[str]:
        """Paths of every segment in the directory, oldest first (including the open one)."""
        return [path for _first, path in list_segments(self.directory)]

    @property
    def current_segment(self) -> str:
        return os.path.join(self.directory, self._cur.name)

    # -- durability (executor thread) -------------------------------------------------------
    def sync(self) -> int:
        """fdatasync every segment with unsynced data, then the directory; return the durable LSN.

        The returned LSN is ``written_lsn`` as captured *before* the first
        fsync, so everything it covers was in the kernel when the fsyncs began.
        Segments are synced oldest first and the directory last, so a segment
        file that survives a power cut never follows a shorter older one.
        """
        with self._sync_lock:
            plan = self.sync_plan()
            done = 0
            try:
                for fd in plan.fds:
                    self._fsync(fd)
                    done += 1
            except OSError:
                self.sync_failed(plan, done)
                raise
            return self.sync_finished(plan)

    # The same sync in three steps, for a caller that runs the fsyncs elsewhere (the
    # fsync worker process, see fsync_worker.py): plan and bookkeeping on the loop
    # thread, ``plan.fds`` fsynced in order by the worker.  One sync at a time.
    def sync_plan(self) -> SyncPlan:
        """What a sync now covers: segments with unsynced bytes, then the directory."""
        self._check_open()
        if self._sync_lost:
            raise WalSyncLost(
                errno.EIO,
                "an earlier fsync failed and the unsynced WAL data was no longer "
                "held in memory; restart the server (recovery will check the log)",
            )
        with self._lock:
            lsn = self.written_lsn
            todo = [(seg, seg.size) for seg in (*self._retired, self._cur) if seg.synced_size < seg.size]
            dir_dirty = self._dir_dirty
            self._dir_dirty = False
        fds = [seg.fd for seg, _size in todo]
        if dir_dirty:
            fds.append(self._dir_fd)
        return SyncPlan(lsn, todo, dir_dirty, fds)

    def sync_cancelled(self, plan: SyncPlan) -> None:
        """The plan was not carried out (the worker vanished): the next plan covers it again."""
        with self._lock:
            if plan.dir_dirty:
                self._dir_dirty = True

    def sync_failed(self, plan: SyncPlan, done: int) -> None:
        """The first ``done`` fds of the plan were synced, the next one failed."""
        self._mark_synced(plan.todo[:done])
        with self._lock:
            if plan.dir_dirty:
                self._dir_dirty = True
            self._realloc = True
        self._rewrite_unsynced(plan.todo)

    def sync_finished(self, plan: SyncPlan) -> int:
        """Every fd of the plan was synced: advance ``durable_lsn``; return it."""
        synced = self._mark_synced(plan.todo)
        # Test instrumentation first: once durable_lsn moves, the loop may release
        # replies, and a kill -9 right then must still find this fsync in the log.
        self._log_fsync(synced)
        with self._lock:
            keep = []
            for seg in self._retired:
                if seg.synced_size >= seg.size:
                    os.close(seg.fd)
                else:
                    keep.append(seg)
            self._retired = keep
            if plan.lsn > self.durable_lsn:
                self.durable_lsn = plan.lsn
        return plan.lsn

    def _mark_synced(self, todo: list[tuple[_Segment, int]]) -> list[tuple[str, int]]:
        synced: list[tuple[str, int]] = []
        with self._lock:
            for seg, size in todo:
                if seg.synced_size >= size:
                    continue
                seg.synced_size = size
                k = 0
                for offset, data in seg.unsynced:
                    if offset >= size:
                        break
                    self._retained -= len(data)
                    k += 1
                del seg.unsynced[:k]
                seg.retained_from = max(seg.retained_from, size)
                synced.append((seg.name, size))
        return synced

    def _fsync(self, fd: int) -> None:
        if self.faults is not None:
            self.faults.before_fsync()
        os.fdatasync(fd)

    def _rewrite_unsynced(self, todo: list[tuple[_Segment, int]]) -> None:
        """Re-dirty what the failed fsync may have dropped, so the retry really writes it."""
        redo: list[tuple[int, list[tuple[int, bytes]]]] = []
        with self._lock:
            for seg, size in todo:
                if seg.synced_size >= size:
                    continue
                if seg.retained_from > seg.synced_size:
                    self._sync_lost = True  # retained data does not reach back far enough
                    return
                redo.append((seg.fd, list(seg.unsynced)))
        for fd, chunks in redo:
            for offset, data in chunks:
                try:
                    os.pwrite(fd, data, offset)
                except OSError:
                    pass  # the next fsync attempt fails and we come back here

    def _drop_retained(self) -> None:
        """Under the lock, when retained bytes exceed the limit: restart retention from here.

        Until the next fsync of a segment covers its current end, a failing
        fsync of that segment is then unrecoverable (see :class:`WalSyncLost`).
        """
        for seg in [*self._retired, self._cur]:
            seg.unsynced.clear()
            seg.retained_from = seg.size
        self._retained = 0

    def _log_fsync(self, synced: list[tuple[str, int]]) -> None:
        """SENTRYKV_FSYNC_LOG: record what a power cut now could not take away.

        Written only once the whole sync (directory included) has succeeded,
        i.e. before anything it covers is acknowledged as durable.
        """
        if self._fsync_log is None or not synced:
            return
        with open(self._fsync_log, "a", encoding="ascii") as fh:
            fh.write("".join(f"{name} {size}\n" for name, size in synced))

    # -- shutdown ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("WAL writer is closed")

    def close(self) -> None:
        """Write what is buffered, fsync everything, close the files (even if that fails)."""
        if self._closed:
            return
        try:
            self.write_buffered()
            self._trim(self._cur)
            self.sync()
        finally:
            with self._sync_lock, self._lock:
                for seg in [*self._retired, self._cur]:
                    os.close(seg.fd)
                self._retired = []
                os.close(self._dir_fd)
                self._closed = True
