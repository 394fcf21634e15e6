"""Checkpoints: a point-in-time snapshot without fork() and without stalling the loop.

Redis forks and lets the kernel copy pages on write; a Python process cannot
(fork copies touched pages anyway because reference counts write to every
object).  SentryKV instead serializes *before mutate*, like Dragonfly's
versioned snapshots and Valkey's forkless save:

1. **The cut** (on the loop, between two commands): the ops of the running
   loop pass are framed, so the cut LSN is the last frame written; the WAL
   rotates to a new segment, so every older segment holds only LSNs <= the
   cut; each database's ``data`` and ``expires`` dict objects are captured
   by reference; ``keyspace.cow`` and ``server.cow_guard`` are installed.
   This costs O(number of databases).
2. **Copy on write**: ``keyspace.cow(db, key, in_place)`` runs *before* any key's value
   or TTL changes, ``server.cow_guard(client, argv)`` before every write
   command (containers are mutated in place).  If ``db.data`` is a captured
   dict and the key was not yet preserved, its cut-time value (a copy made by
   the type registry; strings are immutable and only referenced) and expiry
   go into that dict's *early* map (or an ABSENT marker).  FLUSHDB,
   FLUSHALL and SWAPDB replace dict objects instead of mutating them, so a
   captured dict keeps its cut-time contents even then.
3. **The scan**, in slices of ~0.25 ms of loop time (bounded by
   ``perf_counter``): first the keys of every captured dict are listed,
   ~10 ns a key, the clock checked every :data:`LIST_STEP` keys (a dict
   iterator stays valid as long as no key is inserted or deleted; the first
   hook call that may insert or delete lists the rest at once, *before* the
   change, so that window is kept to the first few ms).  Then the listed
   keys are encoded in chunks sized adaptively to the slice, taking the
   early version where there is one.  Between two slices the task waits for
   the next loop pass *behind* the callbacks the I/O queued (and for the
   server's pending reply flush): a reply never waits for a whole extra
   slice.  Encoded chunks are handed, unjoined and ~1 MB at a time, to one
   writer thread (CRC, writev, then fsync, rename, directory fsync) via
   ``run_in_executor``; the file is opened there while the loop lists.  The
   scan waits for each batch to be written before its next slice, so that
   the checkpoint keeps one CPU busy, not two.
4. **Retirement**: once the snapshot is durable the hooks are long gone; the
   WAL segments listed at the cut (first LSN <= cut) and older snapshots are
   deleted.  If anything fails before the snapshot is durable, the hooks are
   removed, the temporary file deleted and the WAL kept: a WAL segment is
   never deleted unless a durable snapshot covers it.

Only one checkpoint runs at a time.  Triggers: SAVE / BGSAVE /
BGREWRITEAOF, ``checkpoint-interval-ms`` (periodic, when something changed),
WAL growth (``auto-aof-rewrite-percentage`` of the last snapshot's size,
above ``auto-aof-rewrite-min-size``), ``appendonly yes`` at run time and
shutdown.  ``SENTRYKV_CRASH_AT=<step>`` (tests only) makes the process exit
with status 137 right after that step: one of :data:`CRASH_STEPS`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import compress, filterfalse, islice, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any

from sentrykv_server.persistence import snapshot
from sentrykv_server.persistence.wal_format import list_segments

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database

log = logging.getLogger("sentrykv.checkpoint")

CRASH_ENV = "SENTRYKV_CRASH_AT"
# Test only: "<ms>" makes every chunk hold at most 16 keys and sleep <ms> after it, so
# that tests can interleave commands with a running checkpoint at will.
SLOW_ENV = "SENTRYKV_CHECKPOINT_SLOW_MS"
CRASH_STEPS = ("cut", "write", "written", "fsynced", "renamed", "dir-synced", "retiring", "retired")

SLICE_S = 0.00025  # loop time per slice of the scan (listing keys, encoding a chunk)
CHUNK_BYTES = 4 * 1024 * 1024  # and encoded bytes per chunk (big values: fewer keys)
CHUNK_MAX, CHUNK_START = 65536, 2048
# Keys per block at least (values permitting): loading pays a fixed cost per block, and
# the ~300-key blocks that 0.25 ms of encoding gives loaded 3.4x slower at 100k keys
# (1.2M vs 4.0M entries/s).  Encoding 2048 small strings takes about 0.5-1 ms.
BLOCK_MIN_KEYS = 2048
LIST_STEP = 2048  # keys listed between two looks at the clock (~20 us)
DEFER_MAX = 8  # loop passes a slice waits at most for pending replies to leave
WRITE_BATCH = 1024 * 1024  # encoded bytes handed to the writer thread in one job
RETRY_DELAY_S = 5.0  # automatic triggers wait this long after a failure (Redis: 5 s)

ABSENT: Any = object()  # early-map marker: the key did not exist at the cut
DONE: Any = object()  # early-map marker: the preserved version is already in the snapshot
REAP_BATCH = 4096  # early-map entries freed per loop turn after a checkpoint
GUARD_LONG_ARG = 1024  # longer arguments are only checked at the command's key positions

SAVE, REWRITE = "save", "rewrite"


def crash_hook() -> Callable[[str], None]:
    """The SENTRYKV_CRASH_AT fault hook (a no-op unless the variable is set)."""
    target = os.environ.get(CRASH_ENV, "")
    if not target:
        return _no_crash
    if target not in CRASH_STEPS:
        log.warning("%s=%s is not a checkpoint step (%s)", CRASH_ENV, target, ", ".join(CRASH_STEPS))

    def crash(step: str) -> None:
        if step == target:
            log.warning("%s=%s: exiting now (test fault injection)", CRASH_ENV, step)
            logging.shutdown()
            os._exit(137)

    return crash


def _no_crash(step: str) -> None:
    return None


class Captured:
    """One database dict as it was at the cut, and what was preserved from it since."""

    __slots__ = ("index", "data", "expires", "early", "iterator", "keys", "broken")

    def __init__(self, index: int, data: dict[bytes, Any], expires: dict[bytes, int]) -> None:
        self.index = index  # the database it belonged to at the cut (SWAPDB may move it)
        self.data = data
        self.expires = expires
        self.early: dict[bytes, Any] = {}
        self.iterator: Any = iter(data)  # None once every cut-time key is listed
        # Cut-time keys listed and not encoded yet, in lists of at most LIST_STEP: one list
        # of a million keys would be grown by realloc, copying megabytes in a single step.
        self.keys: list[list[bytes]] = []
        self.broken = ""  # set when the dict changed behind the hooks: the checkpoint fails

    def list_some(self, n: int) -> bool:
        """List up to ``n`` more cut-time keys; True once every one is listed."""
        it = self.iterator
        if it is None:
            return True
        try:
            chunk = list(islice(it, n))
        except RuntimeError as exc:  # changed without the hook: never write a wrong snapshot
            self.iterator = None
            self.broken = str(exc)
            return True
        if chunk:
            self.keys.append(chunk)
        if len(chunk) < n:
            self.iterator = None
            return True
        return False

    def materialize(self) -> None:
        """The dict is about to change: list the keys not listed yet, now."""
        while not self.list_some(LIST_STEP):
            pass

    def take(self, n: int) -> list[bytes]:
        """The next ``n`` listed keys (fewer at the end; empty when done).

        They are consumed from the end (order does not matter in a snapshot), so
        what is listed shrinks as the scan goes and is never freed in one go.
        """
        keys = self.keys
        if not keys:
            return []
        last = keys[-1]
        if len(last) > n:
            chunk = last[-n:]
            del last[-n:]
            return chunk
        chunk = keys.pop()
        while keys and len(chunk) < n:
            last = keys[-1]
            want = n - len(chunk)
            if len(last) > want:
                chunk += last[-want:]
                del last[-want:]
            else:
                chunk += keys.pop()
        return chunk


class Run:
    """The state of one checkpoint, from the cut to retirement."""

    def __init__(self, kind: str, reason: str, generation: int) -> None:
        from sentrykv_server.store.types import TYPES

        self.kind = kind
        self.reason = reason
        self.generation = generation
        self.lsn = 0
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.captured: list[Captured] = []
        self.by_id: dict[int, Captured] = {}
        self.copies = {cls: vt.copy for cls, vt in TYPES.items()}
        self.segments: list[str] = []
        self.waiters: list[Client] = []
        self.dirty_at_cut = 0
        self.functions: list[bytes] = []  # the FUNCTION libraries at the cut
        self.cut_ms = 0.0
        self.max_pause_ms = 0.0
        self.max_pause_cpu_ms = 0.0
        self.preserved = 0
        self.materialized = 0  # dicts whose remaining keys had to be listed
        self.entries = 0
        self.size = 0
        self.deleted_segments = 0
        self.durable = False
        self.ok = False
        self.error = ""
        self.path = ""
        self.task: asyncio.Task[None] | None = None

    def note_pause(self, seconds: float, cpu_seconds: float) -> None:
        """One step that held the loop: wall time (what clients saw) and this thread's CPU
        time (the step's own cost; the difference is the OS running something else)."""
        ms = seconds * 1000.0
        if ms > self.max_pause_ms:
            self.max_pause_ms = ms
        cpu_ms = cpu_seconds * 1000.0
        if cpu_ms > self.max_pause_cpu_ms:
            self.max_pause_cpu_ms = cpu_ms

    # -- the copy-on-write hooks (hot while a checkpoint runs) ------------------------------
    def capture(self, keyspace: Any) -> None:
        """Take every non-empty database's dicts by reference (the cut; O(databases))."""
        for db in keyspace.dbs:
            if db.data:
                cap = Captured(db.id, db.data, db.expires)
                self.captured.append(cap)
                self.by_id[id(db.data)] = cap

    def hook(self, db: Database, key: bytes, in_place: bool = False) -> None:
        """keyspace.cow: ``key`` of ``db`` is about to change (value, TTL, existence).

        Listing the keys not enumerated yet costs ~10 ns per key, so it is done only
        when the change may insert or delete a key.  Overwriting an existing key
        (``Database.set``), changing its TTL or a container in place does not move
        any key in the dict, and a dict iterator survives it: the caller says so with
        ``in_place`` (an explicit flag rather than a look at the caller's frame, which
        compiled callers do not have).  Any other change lists the keys: that is
        always safe.
        """
        cap = self.by_id.get(id(db.data))
        if cap is None:
            return
        if cap.iterator is not None and (not in_place or key not in cap.data):
            # An insert or a delete is coming: the iterator would not survive it.
            started, cpu = time.perf_counter(), time.thread_time()
            cap.materialize()
            self.materialized += 1
            self.note_pause(time.perf_counter() - started, time.thread_time() - cpu)
        if key not in cap.early:
            self.preserve(cap, key)

    def guard(self, client: Client, argv: list[bytes]) -> None:
        """server.cow_guard: a write command is about to run; keep containers it may mutate.

        Every argument is looked up (commands with a variable number of keys need no
        key specs then), except long ones outside the command's key positions: hashing
        a 100 MB value just to find it is not a key would stall the loop.
        """
        cap = self.by_id.get(id(client.db.data))
        if cap is None:
            return
        data = cap.data
        early = cap.early
        long_args = False
        for arg in islice(argv, 1, None):
            if len(arg) > GUARD_LONG_ARG:
                long_args = True
                continue
            value = data.get(arg)
            # Strings are immutable: replacing one goes through the keyspace hook.
            if value is not None and type(value) is not bytes and arg not in early:
                self.preserve(cap, arg)
        if long_args:
            from sentrykv_server.commands.registry import lookup

            cmd = lookup(argv[0])
            for pos in cmd.key_positions(argv) if cmd is not None else ():
                arg = argv[pos]
                value = data.get(arg) if len(arg) > GUARD_LONG_ARG else None
                if value is not None and type(value) is not bytes and arg not in early:
                    self.preserve(cap, arg)

    def preserve(self, cap: Captured, key: bytes) -> None:
        value = cap.data.get(key)
        if value is None:
            cap.early[key] = ABSENT
            return
        cls = type(value)
        if cls is not bytes:
            copy = self.copies.get(cls)
            if copy is None:
                cap.broken = f"no copy function registered for {cls.__name__}"
            else:
                value = copy(value)
        cap.early[key] = (value, cap.expires.get(key))
        self.preserved += 1


def attach_view(server: Server, run: Run) -> None:
    """Install ``run``'s copy-on-write hooks (several point-in-time views may be open:
    a checkpoint and replicas' full syncs; each keeps its own early versions)."""
    views: list[Run] = server.cow_views
    if run not in views:
        views.append(run)
    _install_views(server, views)


def detach_view(server: Server, run: Run) -> None:
    views: list[Run] = server.cow_views
    if run in views:
        views.remove(run)
    _install_views(server, views)


def _install_views(server: Server, views: list[Run]) -> None:
    keyspace = server.keyspace
    if not views:
        keyspace.cow = None
        server.cow_guard = None
    elif len(views) == 1:
        keyspace.cow = views[0].hook
        server.cow_guard = views[0].guard
    else:
        hooks = [v.hook for v in views]
        guards = [v.guard for v in views]

        def hook(db: Database, key: bytes, in_place: bool) -> None:
            for h in hooks:
                h(db, key, in_place)

        def guard(client: Client, argv: list[bytes]) -> None:
            for g in guards:
                g(client, argv)

        keyspace.cow = hook
        server.cow_guard = guard


class Checkpointer:
    """The checkpoint state machine of one server (see the module doc)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.directory = os.path.abspath(server.config.dir)
        self.crash = crash_hook()
        slow = os.environ.get(SLOW_ENV, "")
        self.slow_s = int(slow) / 1000.0 if slow.isdigit() else 0.0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentrykv-ckpt")
        self.current: Run | None = None
        self.generation = 0
        self.stopping = False
        self.scheduled_save = False  # BGSAVE SCHEDULE, BGSAVE in EXEC, appendonly enabled
        self.scheduled_rewrite = False  # BGREWRITEAOF while a save runs
        self.save_after: list[Client] = []  # SAVE that arrived while a rewrite was running
        self.last_try = 0.0
        self.last_end = time.monotonic()
        self.last_ok = True
        self.last_run: Run | None = None
        self.last_snapshot_bytes = 0
        self.last_lsn = 0
        self.last_status = {SAVE: "ok", REWRITE: "ok"}
        self.last_seconds = {SAVE: -1, REWRITE: -1}
        self.rdb_saves = 0
        self.aof_rewrites = 0
        self.total = 0
        self.failures = 0
        self.max_pause_ms = 0.0
        self._wal_writer: Any = None
        self._wal_base = 0
        self._wal_written = 0
        self.wait_tasks: set[asyncio.Task[None]] = set()
        self.reapers: set[asyncio.Task[None]] = set()
        self._gc_holds = 0
        self._gc_was_enabled = True
        # Import now what the hooks and the scan use, not on the loop during a checkpoint:
        # importing the command modules in the first hook call stalled the loop 20-400 ms.
        snapshot.encoders()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Called once the server is serving: clean leftovers, learn the generation."""
        snaps = snapshot.list_snapshots(self.directory)
        if snaps:
            self.generation = snaps[-1][0]
            self.last_lsn = snaps[-1][1]
            try:
                self.last_snapshot_bytes = os.path.getsize(snaps[-1][2])
            except OSError:
                pass
        for tmp in snapshot.list_temporary(self.directory):
            try:
                os.unlink(tmp)
                log.info("removed %s, left by an interrupted checkpoint", tmp)
            except OSError as exc:
                log.warning("cannot remove %s: %s", tmp, exc)
        self.server.config.on_change("checkpoint-interval-ms", self._interval_changed)

    def _interval_changed(self, value: int) -> None:
        self.last_end = time.monotonic()

    async def final_save(self) -> bool:
        """SHUTDOWN's save: let a running checkpoint finish, then take one more; True if saved."""
        run = self.current
        if run is not None and run.task is not None:
            await asyncio.wait([run.task])
        log.info("Saving the final checkpoint before exiting")
        run = self._start(SAVE, "shutdown")
        run.waiters += self.save_after  # its cut is after their SAVE: it answers them
        self.save_after = []
        assert run.task is not None
        await asyncio.wait([run.task])
        if run.ok:
            log.info("Final checkpoint saved: %s", run.path)
        return run.ok

    async def stop(self, save: bool) -> None:
        """Shutdown: finish (save) or abandon (nosave) the running checkpoint; save a final one."""
        if save:
            await self.final_save()
        self.stopping = True
        run = self.current
        if run is not None and run.task is not None:
            run.task.cancel()
            await asyncio.wait([run.task])
        for client in self.save_after:
            self._reply(client, b"-ERR Errors trying to SAVE: the server is shutting down\r\n")
        self.save_after = []
        for task in list(self.wait_tasks):
            task.cancel()
        self.executor.shutdown(wait=True)

    # -- triggers ---------------------------------------------------------------------------
    def cron(self) -> None:
        """serverCron: scheduled, periodic and WAL-growth checkpoints."""
        if self.stopping or self.current is not None:
            return
        now = time.monotonic()
        backoff = not self.last_ok and now - self.last_try < RETRY_DELAY_S
        if self.save_after:
            self._start_pending()
            return
        if backoff:
            return
        if self.scheduled_save or self.scheduled_rewrite:
            self._start_pending()
            return
        config = self.server.config
        interval = config.checkpoint_interval_ms
        if interval > 0 and self.server.keyspace.dirty > 0 and (now - self.last_end) * 1000 >= interval:
            self._start(SAVE, "periodic")
            return
        perc = config.auto_aof_rewrite_percentage
        if perc > 0 and self.server.aof is not None:
            wal = self.wal_bytes()
            base = self.last_snapshot_bytes
            if wal >= max(1, config.auto_aof_rewrite_min_size) and (base == 0 or wal * 100 >= perc * base):
                log.info("Starting a checkpoint: the WAL holds %d bytes (last snapshot %d bytes)", wal, base)
                self._start(REWRITE, "wal growth")

    def request(self, reason: str = "", kind: str = SAVE) -> bool:
        """Start a checkpoint now; if one is running, run another right after it.

        True if it started now.  (Durability calls this when ``appendonly`` is
        switched on at run time.)
        """
        if self.stopping:
            return False
        if self.current is not None:
            if kind == REWRITE:
                self.scheduled_rewrite = True
            else:
                self.scheduled_save = True
            return False
        self._start(kind, reason)
        return True

    # -- commands ---------------------------------------------------------------------------
    def bgsave(self, client: Client, schedule: bool) -> str:
        """BGSAVE [SCHEDULE]; raises CommandError text via ValueError."""
        running = self.current
        if running is not None and running.kind == SAVE:
            raise ValueError("ERR Background save already in progress")
        if running is not None or client.in_exec:
            if schedule or client.in_exec:
                self.scheduled_save = True
                return "Background saving scheduled"
            raise ValueError(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. "
                "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
            )
        if self.stopping:
            raise ValueError("ERR the server is shutting down")
        self._start(SAVE, "BGSAVE")
        return "Background saving started"

    def bgrewriteaof(self, client: Client) -> str:
        running = self.current
        if running is not None and running.kind == REWRITE:
            raise ValueError("ERR Background append only file rewriting already in progress")
        if running is not None or client.in_exec:
            self.scheduled_rewrite = True
            return "Background append only file rewriting scheduled"
        if self.stopping:
            raise ValueError("ERR the server is shutting down")
        self._start(REWRITE, "BGREWRITEAOF")
        return "Background append only file rewriting started"

    def save(self, client: Client) -> None:
        """SAVE: block this client until a checkpoint cut after now is durable."""
        running = self.current
        if running is not None and running.kind == SAVE:
            raise ValueError("ERR Background save already in progress")
        if self.stopping:
            raise ValueError("ERR the server is shutting down")
        client.blocked = SaveWait()
        if running is not None:
            self.save_after.append(client)  # its cut is older than this SAVE
        else:
            run = self._start(SAVE, "SAVE")
            run.waiters.append(client)

    # -- running ----------------------------------------------------------------------------
    def _start(self, kind: str, reason: str) -> Run:
        self.generation += 1
        run = Run(kind, reason, self.generation)
        self.current = run
        self.last_try = time.monotonic()
        if kind == SAVE:
            self.scheduled_save = False
        else:
            self.scheduled_rewrite = False
            self.aof_rewrites += 1
        run.task = asyncio.get_running_loop().create_task(self._run(run), name="checkpoint")
        return run

    def _start_pending(self) -> None:
        if self.current is not None or self.stopping:
            return
        if self.save_after or self.scheduled_save or self.scheduled_rewrite:
            kind = REWRITE if self.scheduled_rewrite and not (self.save_after or self.scheduled_save) else SAVE
            waiters, self.save_after = self.save_after, []
            # One checkpoint cut after every pending request satisfies all of them.
            self.scheduled_save = self.scheduled_rewrite = False
            run = self._start(kind, "scheduled" if not waiters else "SAVE")
            run.waiters += waiters

    async def _run(self, run: Run) -> None:
        loop = asyncio.get_running_loop()
        writer: snapshot.SnapshotWriter | None = None
        # The cyclic GC would traverse the big key lists and the early map (10+ ms per
        # million entries for each young collection that finds them): pause it until
        # they are freed; reference counting still frees everything else as usual.
        self._gc_pause()
        try:
            unsupported = snapshot.unsupported_types()
            if unsupported:
                raise RuntimeError(f"no snapshot encoding for value types: {', '.join(unsupported)}")
            self._cut(run)
            self.crash("cut")
            writer = snapshot.SnapshotWriter(
                self.directory, run.generation, run.lsn, len(self.server.keyspace.dbs), self.crash
            )
            run.path = writer.path
            await self._scan(run, writer)
            await loop.run_in_executor(self.executor, writer.write_functions, run.functions)
            self._uninstall(run)
            run.size = await loop.run_in_executor(self.executor, writer.finish)
            run.durable = True
            try:
                run.deleted_segments = await loop.run_in_executor(self.executor, self._retire, run)
            except OSError as exc:
                log.warning("checkpoint %s is durable, but removing covered files failed: %s", run.path, exc)
            run.ok = True
        except BaseException as exc:
            self._uninstall(run)
            run.error = _describe(exc)
            if writer is not None and not run.durable:
                try:
                    await loop.run_in_executor(self.executor, writer.abort)
                except BaseException as abort_exc:  # noqa: BLE001 - already failing; report both
                    log.error("removing %s failed: %s", writer.tmp, abort_exc)
            if not isinstance(exc, asyncio.CancelledError | Exception):
                raise
        finally:
            self._gc_release()
            self._finished(run)

    def _gc_pause(self) -> None:
        if self._gc_holds == 0:
            self._gc_was_enabled = gc.isenabled()
            gc.disable()
        self._gc_holds += 1

    def _gc_release(self) -> None:
        self._gc_holds -= 1
        if self._gc_holds == 0 and self._gc_was_enabled:
            gc.enable()

    def _cut(self, run: Run) -> None:
        """The point in time (see the module doc); O(number of databases)."""
        started, cpu = time.perf_counter(), time.thread_time()
        server = self.server
        self.cut_wal(run, marker=True)  # the new segment opens with the replication offset
        keyspace = server.keyspace
        run.capture(keyspace)
        run.dirty_at_cut = keyspace.dirty
        keyspace.dirty = 0
        if server.functions is not None:
            run.functions = server.functions.codes()
        if run.captured:
            attach_view(server, run)
        run.cut_ms = (time.perf_counter() - started) * 1000.0
        run.note_pause(run.cut_ms / 1000.0, time.thread_time() - cpu)
        log.info(
            "Checkpoint %d started (%s): LSN %d, %d keys", run.generation, run.reason, run.lsn,
            keyspace.total_keys(),
        )

    def cut_wal(self, run: Run, marker: bool) -> None:
        """Commit what is pending, note the cut LSN, start a new WAL segment and list the
        segments the snapshot will cover (``marker``: open the new one with a WAL marker)."""
        server = self.server
        if server.ops:
            server.commit_ops(None)
        aof = server.aof
        if aof is not None:
            aof.frame_pending()
            run.lsn = aof.writer.last_lsn
            aof.writer.rotate()
            if marker:
                aof.frame_pending(marker=True)
        else:
            run.lsn = server.last_lsn
        directory = aof.writer.directory if aof is not None else self.directory
        run.segments = [path for first, path in list_segments(directory) if first <= run.lsn]

    def _uninstall(self, run: Run) -> None:
        detach_view(self.server, run)
        garbage: list[Any] = []
        for cap in run.captured:
            if len(cap.early) > REAP_BATCH:
                garbage.append(cap.early)
            if len(cap.keys) > 1:  # a failed scan left keys listed: one list per loop turn
                garbage += cap.keys
            # A dict FLUSHDB/FLUSHALL replaced is referenced by nothing but us (4 = our
            # attribute, the tuple, the loop variable and the call's argument): free it in
            # slices too, never in one go.
            for d in (cap.data, cap.expires):
                if len(d) > REAP_BATCH and sys.getrefcount(d) <= 4:
                    garbage.append(d)
            cap.early = {}
            cap.keys = []
            cap.iterator = None
        # Drop the references to cut-time dicts: after FLUSHDB they are the only ones left.
        run.captured = []
        run.by_id = {}
        if garbage:
            # Freeing a million preserved values at once would stall the loop for tens of ms.
            self._gc_pause()
            task = asyncio.get_running_loop().create_task(_reap(garbage), name="checkpoint-reaper")
            self.reapers.add(task)

            def reaped(t: asyncio.Task[None]) -> None:
                self.reapers.discard(t)
                self._gc_release()

            task.add_done_callback(reaped)

    async def _scan(self, run: Run, writer: snapshot.SnapshotWriter) -> None:
        """List, then encode, every captured dict in slices of ~0.25 ms; the writer thread writes.

        Listing first (~10 ns a key: a million keys in ~40 slices) keeps short the window
        in which an insert or a delete makes the hook list the rest in one go (~10 ms
        for a million keys).

        One CPU at a time: while the writer thread copies a batch into the page cache
        (~3 ms of CPU per MB on the test machine), the loop only serves clients; it does
        not encode the next chunk meanwhile.  Running both kept two cores busy and left
        clients waiting for a CPU (max latency 10-15 ms in half the runs instead of
        under 8 ms), for a checkpoint only ~10% shorter.
        """
        loop = asyncio.get_running_loop()
        table = snapshot.encoders()
        slow = self.slow_s
        batch: list[snapshot.Block] = []
        batch_bytes = 0
        n = 16 if slow else CHUNK_START
        step = 16 if slow else LIST_STEP
        perf, thread_time = time.perf_counter, time.thread_time
        # The writer thread opens the file while the loop lists keys.
        opening = loop.run_in_executor(self.executor, writer.open)
        listed = False
        try:
            for cap in run.captured:
                while cap.iterator is not None:
                    started, cpu = perf(), thread_time()
                    deadline = started + SLICE_S
                    while not cap.list_some(step) and not slow and perf() < deadline:
                        pass
                    run.note_pause(perf() - started, thread_time() - cpu)
                    _check(cap)
                    await self._next_slice(loop)
            listed = True
            await opening
            for cap in run.captured:
                while True:
                    started, cpu = perf(), thread_time()
                    keys = cap.take(n)
                    _check(cap)
                    if not keys:
                        break
                    count, flags, parts = self._encode(cap, keys, table)
                    size = sum(map(len, parts))
                    used = thread_time() - cpu
                    run.note_pause(perf() - started, used)
                    # Next chunk: grow at most 1.5x, shrink at once to fit the time and size budgets.
                    # CPU time, not wall time: a slice the OS preempted says nothing of its size.
                    by_time = n * SLICE_S / max(used, 1e-6)
                    by_size = n * CHUNK_BYTES / max(size, 1)
                    by_time = max(min(n * 1.5, by_time), BLOCK_MIN_KEYS)
                    n = 16 if slow else max(1, int(min(CHUNK_MAX, by_time, by_size)))
                    if count:
                        batch.append((cap.index, count, flags, parts))
                        batch_bytes += size
                        run.entries += count
                    if batch and (slow or batch_bytes >= WRITE_BATCH):
                        await loop.run_in_executor(self.executor, writer.write_blocks, batch)
                        batch, batch_bytes = [], 0
                    await self._next_slice(loop)
            if batch:
                await loop.run_in_executor(self.executor, writer.write_blocks, batch)
        finally:
            if not listed:  # failing while listing: collect it, so no exception goes unretrieved
                await asyncio.gather(opening, return_exceptions=True)

    async def _next_slice(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let the loop serve clients between two slices (tests: sleep ``slow_s``).

        Replies leave in the server's flush pass (``call_soon``).  A request read in the
        pass just before a slice would otherwise wait for the slice to end before its
        reply leaves: while a flush is pending, let it go first (a few passes at most, so
        a stream of pipelined clients cannot starve the checkpoint).
        """
        if self.slow_s:
            await asyncio.sleep(self.slow_s)
            return
        await _next_pass(loop)
        server = self.server
        for _ in range(DEFER_MAX):
            if not server.flush_pending:
                break
            await asyncio.sleep(0)

    def _encode(
        self, cap: Captured, keys: list[bytes], table: dict[type, Any]
    ) -> tuple[int, int, list[bytes]]:
        """One block: cut-time values of ``keys`` (the early version where there is one)."""
        keys, values, exp_idx, exp_ms = cut_time(cap, keys)
        if not keys:
            return 0, 0, []
        flags, parts = snapshot.encode_entries(keys, values, exp_idx, exp_ms, table)
        return len(keys), flags, parts

    def _retire(self, run: Run) -> int:
        """Writer thread: delete WAL segments covered by the durable snapshot, then older snapshots."""
        deleted = 0
        for path in run.segments:
            try:
                os.unlink(path)
                deleted += 1
            except FileNotFoundError:
                continue
            if deleted == 1:
                self.crash("retiring")
        for generation, _lsn, path in snapshot.list_snapshots(self.directory):
            if generation < run.generation:
                os.unlink(path)
        for tmp in snapshot.list_temporary(self.directory):
            os.unlink(tmp)
        snapshot.fsync_directory(self.directory)
        self.crash("retired")
        return deleted

    def _finished(self, run: Run) -> None:
        server = self.server
        now = time.monotonic()
        seconds = int(round(now - run.started))
        self.current = None
        self.last_end = now
        self.last_run = run
        self.total += 1
        self.max_pause_ms = max(self.max_pause_ms, run.max_pause_ms)
        self.last_status[run.kind] = "ok" if run.ok else "err"
        self.last_seconds[run.kind] = seconds
        self.last_ok = run.ok
        if run.ok:
            server.lastsave = int(time.time())
            self.last_snapshot_bytes = run.size
            self.last_lsn = run.lsn
            self._wal_writer = None  # re-measure the WAL after retirement
            if run.kind == SAVE:
                self.rdb_saves += 1
            log.info(
                "Checkpoint %d done: %s, LSN %d, %d keys, %d bytes in %.3fs (cut %.2f ms, max pause %.2f ms, "
                "%d values preserved, %d WAL segments retired)",
                run.generation, os.path.basename(run.path), run.lsn, run.entries, run.size,
                now - run.started, run.cut_ms, run.max_pause_ms, run.preserved, run.deleted_segments,
            )
        else:
            self.failures += 1
            server.keyspace.dirty += run.dirty_at_cut
            log.error("Checkpoint %d failed (%s): %s; the WAL is kept", run.generation, run.reason, run.error)
        reply = b"+OK\r\n" if run.ok else b"-ERR " + run.error.encode("utf-8", "replace") + b"\r\n"
        waiters, run.waiters = run.waiters, []
        for client in waiters:
            self._reply(client, reply)
        if not self.stopping:
            self._start_pending()

    def _reply(self, client: Client, data: bytes) -> None:
        """Answer a client blocked by SAVE and let it run its next requests."""
        if isinstance(client.blocked, SaveWait):
            client.blocked = None
        if client.closing:
            return
        client.push(data)
        client.process_input()

    # -- INFO -------------------------------------------------------------------------------
    def wal_bytes(self) -> int:
        """Bytes the WAL holds now (measured on disk after each checkpoint, then counted)."""
        aof = self.server.aof
        if aof is None:
            return 0
        writer = aof.writer
        if writer is not self._wal_writer:
            self._wal_writer = writer
            total = 0
            for _first, path in list_segments(writer.directory):
                try:
                    total += os.path.getsize(path)
                except OSError:
                    pass
            self._wal_base = total
            self._wal_written = writer.bytes_written
        return int(self._wal_base + writer.bytes_written - self._wal_written)

    def info_fields(self) -> list[tuple[str, Any]]:
        run = self.current
        last = self.last_run
        now = time.monotonic()

        def current(kind: str) -> int:
            return int(now - run.started) if run is not None and run.kind == kind else -1

        return [
            ("rdb_bgsave_in_progress", int(run is not None and run.kind == SAVE)),
            ("rdb_last_bgsave_status", self.last_status[SAVE]),
            ("rdb_last_bgsave_time_sec", self.last_seconds[SAVE]),
            ("rdb_current_bgsave_time_sec", current(SAVE)),
            ("rdb_saves", self.rdb_saves),
            ("aof_rewrite_in_progress", int(run is not None and run.kind == REWRITE)),
            ("aof_rewrite_scheduled", int(self.scheduled_rewrite)),
            ("aof_last_rewrite_time_sec", self.last_seconds[REWRITE]),
            ("aof_current_rewrite_time_sec", current(REWRITE)),
            ("aof_last_bgrewrite_status", self.last_status[REWRITE]),
            ("aof_rewrites", self.aof_rewrites),
            ("checkpoint_in_progress", int(run is not None)),
            ("checkpoint_scheduled", int(self.scheduled_save or self.scheduled_rewrite or bool(self.save_after))),
            ("checkpoint_last_status", ("ok" if last.ok else "err") if last is not None else "ok"),
            ("checkpoint_last_reason", last.reason if last is not None else ""),
            ("checkpoint_last_file", os.path.basename(last.path) if last is not None and last.ok else ""),
            ("checkpoint_last_lsn", self.last_lsn),
            ("checkpoint_last_duration_ms", int((self.last_end - last.started) * 1000) if last else -1),
            ("checkpoint_last_keys", last.entries if last is not None and last.ok else 0),
            ("checkpoint_last_bytes", last.size if last is not None and last.ok else 0),
            ("checkpoint_last_cut_ms", f"{last.cut_ms:.3f}" if last is not None else "0.000"),
            ("checkpoint_last_max_pause_ms", f"{last.max_pause_ms:.3f}" if last is not None else "0.000"),
            ("checkpoint_last_max_pause_cpu_ms", f"{last.max_pause_cpu_ms:.3f}" if last is not None else "0.000"),
            ("checkpoint_last_preserved", last.preserved if last is not None else 0),
            ("checkpoint_last_wal_segments_deleted", last.deleted_segments if last is not None else 0),
            ("checkpoint_max_pause_ms", f"{self.max_pause_ms:.3f}"),
            ("checkpoint_wal_bytes", self.wal_bytes()),
            ("checkpoints_total", self.total),
            ("checkpoint_failures", self.failures),
            ("checkpoint_current_keys_written", run.entries if run is not None else 0),
        ]


def cut_time(cap: Captured, keys: list[bytes]) -> tuple[list[bytes], list[Any], list[int], list[int]]:
    """Cut-time columns of ``keys``: keys, values, indexes of those with a TTL and the TTLs.

    The early version is taken where there is one (and marked DONE: it is not kept
    twice); keys absent at the cut are left out.
    """
    early = cap.early
    extra: list[tuple[bytes, Any, int | None]] = []
    if early:
        common = early.keys() & keys
        if common:
            keys = list(filterfalse(common.__contains__, keys))
            for key in common:
                item = early[key]
                if item is not ABSENT and item is not DONE:
                    extra.append((key, item[0], item[1]))
                early[key] = DONE  # free the copy now; still "preserved" for the hooks
    values = list(map(cap.data.__getitem__, keys))
    exp_idx: list[int] = []
    exp_ms: list[int] = []
    expires = cap.expires
    if expires:
        exps: list[Any] = list(map(expires.get, keys))
        exp_idx = list(compress(range(len(keys)), map(is_not, exps, repeat(None))))
        exp_ms = list(map(exps.__getitem__, exp_idx))
    if extra:
        base = len(keys)
        for j, (key, value, when) in enumerate(extra):
            keys.append(key)
            values.append(value)
            if when is not None:
                exp_idx.append(base + j)
                exp_ms.append(when)
    return keys, values, exp_idx, exp_ms


def _check(cap: Captured) -> None:
    if cap.broken:
        raise RuntimeError(f"database {cap.index} changed under the checkpoint: {cap.broken}")


def _next_pass(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future that completes in the next loop pass, *behind* what this pass's I/O queues.

    ``await asyncio.sleep(0)`` resumes a task at the start of the next pass, ahead of
    the callbacks that the I/O of the current pass scheduled with ``call_soon``, the
    server's reply flush among them: a request read right after a slice then got its
    reply only after the next slice too (two slices of latency instead of at most one).
    A future resolved by a ``call_soon`` callback wakes its task one pass later, after
    those callbacks have run.
    """
    fut: asyncio.Future[None] = loop.create_future()
    loop.call_soon(_resolve, fut)
    return fut


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():  # cancelled meanwhile (shutdown)
        fut.set_result(None)


async def _reap(garbage: list[Any]) -> None:
    """Free big dicts and lists a slice per loop turn."""
    for item in garbage:
        if isinstance(item, dict):
            pop = item.popitem
            while item:
                for _ in range(min(REAP_BATCH, len(item))):
                    pop()
                await asyncio.sleep(0)
        else:
            while item:
                del item[-REAP_BATCH:]
                await asyncio.sleep(0)


class SaveWait:
    """``client.blocked`` while SAVE waits for its checkpoint (no request is parsed meanwhile)."""

    __slots__ = ()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled (shutdown)"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else str(exc)
