"""The fsync policy as one asyncio task: group commit under ``always``, a tick under ``everysec``.

The server writes frames once per loop pass (:meth:`WalWriter.write_buffered`)
and then calls :meth:`GroupCommitter.kick`.  Under ``always`` the fsync starts
right away in the fsync worker process (fsync_worker.py; a thread when the
worker cannot run): the loop sends the files' descriptors and goes on serving
clients; the worker's answer arrives on the loop's poller and, if frames were
written meanwhile, the next fsync starts at once and covers all of them
(group commit: one fsync for many writes, and the loop never blocks on the
disk).  Under ``everysec`` the task syncs about once a second when something
was written; under ``no`` it never syncs (the kernel decides), except for the
final sync in :meth:`stop`.

Callbacks run on the loop thread: ``on_durable(lsn)`` after every successful
fsync (the server releases replies held for LSNs <= lsn), ``on_error(exc)``
when an fsync fails (the durable LSN does not advance; retried with
exponential backoff) and ``on_error(None)`` on the first success after that.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from sentrykv_server.persistence.fault_injection import FileFaults
from sentrykv_server.persistence.fsync_worker import FsyncWorker
from sentrykv_server.persistence.wal_writer import SyncPlan, WalWriter

log = logging.getLogger("sentrykv.persistence")

POLICIES = ("always", "everysec", "no")
# Lone writer: the server fsyncs on the loop while the last fsync covered at most this
# many commands (-1: never; a bare GroupCommitter defaults to never), unless one on the loop took longer than INLINE_SLOW seconds: then the next
# INLINE_COOLDOWN syncs go to the worker (see GroupCommitter._sync_inline).
INLINE_MAX_GROUP = int(os.environ.get("SENTRYKV_INLINE_MAX_GROUP", "1"))
# Pipelined group commit: send the next group to the worker before releasing the replies
# of the group that just became durable (see _on_worker_answer).
PIPELINE = os.environ.get("SENTRYKV_PIPELINE_FSYNC", "1") != "0"
INLINE_SLOW = 0.010
INLINE_COOLDOWN = 100


@dataclass
class CommitStats:
    """Counters for INFO; latencies in microseconds, batch = frames made durable per fsync."""

    fsyncs: int = 0
    fsync_errors: int = 0
    fsync_last_us: int = 0
    fsync_max_us: int = 0
    fsync_total_us: int = 0
    batch_last: int = 0
    batch_max: int = 0
    batch_total: int = 0
    delayed_fsync: int = 0  # everysec fsyncs slower than the interval (the next tick was late)

    @property
    def fsync_avg_us(self) -> int:
        return self.fsync_total_us // self.fsyncs if self.fsyncs else 0

    @property
    def batch_avg(self) -> float:
        return round(self.batch_total / self.fsyncs, 2) if self.fsyncs else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fsync_avg_us"] = self.fsync_avg_us
        d["batch_avg"] = self.batch_avg
        return d


class GroupCommitter:
    """Owns the fsync task of one :class:`WalWriter` (see module doc)."""

    def __init__(
        self,
        writer: WalWriter,
        policy: str,
        on_durable: Callable[[int], None],
        on_error: Callable[[BaseException | None], None],
        *,
        interval: float = 1.0,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
        inline_max_group: int = -1,
    ) -> None:
        self.writer = writer
        self.policy = _check_policy(policy)
        self.on_durable = on_durable
        self.on_error = on_error
        self.interval = interval
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.stats = CommitStats()
        self.failing: BaseException | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight = False
        self._stopping = False
        self._forced = False  # sync_now(): fsync at once whatever the policy (WAITAOF)
        self._last_sync = 0.0
        self.coalesce_passes = 4
        writer.retain_unsynced = self.policy != "no"
        # The fsync worker process (policy always): the request in flight and its waiters.
        # Fault injection objects living in this process (unit tests) need the thread;
        # the file-driven ones (SENTRYKV_FAULT_FILE) are rebuilt by the worker itself.
        self.use_worker = writer.faults is None or isinstance(writer.faults, FileFaults)
        self._worker: FsyncWorker | None = None
        self._plan: SyncPlan | None = None
        self._plan_started = 0.0
        self._plan_before = 0
        self._worker_idle: asyncio.Event | None = None
        self._worker_waiters: list[asyncio.Future[bool]] = []
        self._worker_backoff = 0.0
        self._retry_handle: asyncio.TimerHandle | None = None
        # Gathering (see _kick_worker): bytes the last fsync covered, when this gather
        # began, and how long it may last.
        self._synced_bytes = 0
        self._plan_bytes = 0
        self._expect_bytes = 0
        self._gather_start = 0.0
        self._gather_budget = 0.0
        self._gather_timer: asyncio.TimerHandle | None = None
        # Lone writer (see _sync_inline): commands the last fsync made durable (set by the
        # owner, Durability), the largest group still synced on the loop, and how many
        # more syncs go to the worker after a slow one on the loop.
        self.last_group = 0
        self.inline_max_group = inline_max_group
        self._inline_off = 0
        self.inline_syncs = 0

    # -- control (loop thread) --------------------------------------------------------------
    def start(self) -> None:
        """Start the task on the running loop."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._worker_idle = asyncio.Event()
        self._worker_idle.set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentrykv-fsync")
        self._last_sync = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="wal-group-commit")
        if self.policy == "always":
            self._start_worker()

    def kick(self) -> None:
        """New data was written: under ``always`` fsync now, or right after the fsync in flight."""
        if self.policy == "always":
            if self._worker is not None:
                self._kick_worker()
                return
            wake = self._wake
            if wake is not None and not wake.is_set():
                wake.set()

    def sync_now(self) -> None:
        """Fsync what is written as soon as possible, under every policy (WAITAOF)."""
        self._forced = True
        if self._worker is not None:
            self._kick_worker()
        elif self._wake is not None:
            self._wake.set()

    def set_policy(self, policy: str) -> None:
        """Change the policy at run time (CONFIG SET appendfsync)."""
        self.policy = _check_policy(policy)
        self.writer.retain_unsynced = self.policy != "no"
        if self.policy == "always" and self._task is not None:
            self._start_worker()
        if self._wake is not None:
            self._wake.set()

    @property
    def dirty(self) -> bool:
        return self.writer.written_lsn > self.writer.durable_lsn

    def stats_fields(self) -> dict[str, Any]:
        """Plain ``name: value`` pairs for INFO (``wal_`` prefixed, plus ``delayed_fsync``)."""
        s = self.stats
        return {
            "delayed_fsync": s.delayed_fsync,
            "wal_fsyncs": s.fsyncs,
            "wal_fsync_errors": s.fsync_errors,
            "wal_fsync_last_us": s.fsync_last_us,
            "wal_fsync_max_us": s.fsync_max_us,
            "wal_fsync_avg_us": s.fsync_avg_us,
            "wal_frames_per_fsync_last": s.batch_last,
            "wal_frames_per_fsync_avg": s.batch_avg,
            "wal_frames_per_fsync_max": s.batch_max,
            "wal_bytes_written": self.writer.bytes_written,
            "wal_fsync_in_flight": int(self._in_flight),
            "wal_fsync_worker_pid": self._worker.proc.pid if self._worker is not None else 0,
            "wal_fsync_on_loop": self.inline_syncs,  # lone-writer fsyncs run on the loop (_sync_inline)
        }

    def reset_stats(self) -> None:
        self.stats = CommitStats()

    async def stop(self) -> None:
        """Stop the task after a final sync of everything written (under every policy).

        Raises the OSError of that final sync if it fails (after ``on_error``).
        """
        self._stopping = True
        task = self._task
        if task is not None:
            assert self._wake is not None
            self._wake.set()
            try:
                await task
            finally:
                self._task = None
        for handle in (self._retry_handle, self._gather_timer):
            if handle is not None:
                handle.cancel()
        self._retry_handle = self._gather_timer = None
        if self._worker_idle is not None:
            await self._worker_idle.wait()
        self._stop_worker()
        if self.dirty:
            await self._sync_once(final=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- the task ---------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        backoff = 0.0
        while not self._stopping:
            if backoff:
                await _wait(wake, backoff)  # retrying a failed fsync
            elif self.policy == "everysec":
                await _wait(wake, self._last_sync + self.interval - time.monotonic())
            else:
                await wake.wait()  # always: a kick; no: a policy change or stop
            wake.clear()
            if self._stopping:
                break
            if self._worker is not None and (self.policy == "always" or self._forced):
                self._kick_worker()  # the worker path runs from callbacks, not from this task
                continue
            if (self.policy == "no" and not self._forced) or not self.dirty:
                self._forced = False
                backoff = 0.0
                self._last_sync = time.monotonic()  # everysec: look again in a second
                continue
            if (
                self.policy == "everysec"
                and not backoff
                and not self._forced
                and time.monotonic() < self._last_sync + self.interval
            ):
                continue  # woken early by a policy change: keep the one-second rhythm
            self._forced = False
            if self.policy == "always" and not backoff and self.stats.batch_last > 1:
                # Let requests that are already on their way join this fsync: yield
                # to the loop while each pass still adds frames (a few passes at most).
                # Only when the last fsync covered several passes: a lone writer
                # (one pass per fsync) would just wait longer for nothing.
                for _ in range(self.coalesce_passes):
                    before = self.writer.last_lsn
                    await asyncio.sleep(0)
                    if self.writer.last_lsn == before:
                        break
            if await self._sync_once():
                backoff = 0.0
            else:
                backoff = min(self.retry_max, backoff * 2 if backoff else self.retry_initial)

    async def _sync_once(self, final: bool = False) -> bool:
        loop = asyncio.get_running_loop()
        writer = self.writer
        if self._worker_idle is not None:
            await self._worker_idle.wait()  # never two syncs at once
        if self._worker is not None and not final:
            if not self.dirty:
                return True
            waiter: asyncio.Future[bool] = loop.create_future()
            self._worker_waiters.append(waiter)
            self._send_to_worker()
            return await waiter
        before = writer.durable_lsn
        self._in_flight = True
        started = time.monotonic()
        self._last_sync = started
        try:
            lsn = await loop.run_in_executor(self._executor, writer.sync)
        except OSError as exc:
            self.stats.fsync_errors += 1
            self.failing = exc
            self.on_error(exc)
            if final:
                raise
            return False
        finally:
            self._in_flight = False
        self._succeeded(before, lsn, started)
        return True

    def _succeeded(self, before: int, lsn: int, started: float) -> None:
        self._record_success(before, lsn, started)
        self.on_durable(lsn)

    def _record_success(self, before: int, lsn: int, started: float) -> None:
        """Stats, and the end of a failure streak; the caller then calls ``on_durable``."""
        elapsed = int((time.monotonic() - started) * 1e6)
        s = self.stats
        s.fsyncs += 1
        s.fsync_last_us = elapsed
        s.fsync_max_us = max(s.fsync_max_us, elapsed)
        s.fsync_total_us += elapsed
        if self.policy == "everysec" and elapsed > self.interval * 1e6:
            s.delayed_fsync += 1
        batch = max(0, lsn - before)
        s.batch_last = batch
        s.batch_max = max(s.batch_max, batch)
        s.batch_total += batch
        if self.failing is not None:
            self.failing = None
            self.on_error(None)

    def _failed(self, exc: BaseException) -> None:
        self.stats.fsync_errors += 1
        self.failing = exc
        self.on_error(exc)

    # -- the fsync worker process (loop thread, callbacks only) ---------------------------
    def _start_worker(self) -> None:
        if self._worker is not None or not self.use_worker:
            return
        try:
            worker = FsyncWorker()
        except OSError as exc:
            log.warning("cannot start the fsync worker process (%s); fsyncing from a thread", exc)
            self.use_worker = False
            return
        asyncio.get_running_loop().add_reader(worker.fileno(), self._on_worker_answer)
        self._worker = worker

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            asyncio.get_running_loop().remove_reader(worker.fileno())
            worker.close()

    def _kick_worker(self, inline: bool = True) -> None:
        """Start an fsync in the worker, unless one is in flight or a retry is pending.

        Group commit needs a group: clients whose replies the last fsync
        released answer within a fraction of an fsync, so the next fsync waits
        (on the loop's own passes, never blocking it) until about as many bytes
        as the last one covered have been written, or half an fsync's time has
        passed.  A lone client is never kept waiting: its next request alone
        already matches the last group.
        """
        if self._in_flight or self._retry_handle is not None or self._stopping:
            return
        if not self.dirty:
            self._forced = False
            self._gather_start = 0.0
            return
        if inline and self.last_group <= self.inline_max_group and not self._inline_off:
            self._sync_inline()
            return
        if self._forced or self.writer.bytes_written - self._synced_bytes >= self._expect_bytes:
            self._send_to_worker()
            return
        now = time.perf_counter()
        if not self._gather_start:
            self._gather_start = now
        elif self._gather_start < 0 or now - self._gather_start >= self._gather_budget:
            self._send_to_worker()
            return
        # Every pass that writes checks again (kick); the timer only covers a loop
        # that goes quiet meanwhile (libuv timers tick in milliseconds, so it may
        # overshoot the budget; re-checking with call_soon instead would keep the
        # loop spinning through every gather).
        if self._gather_timer is None:
            self._gather_timer = asyncio.get_running_loop().call_later(self._gather_budget, self._gather_tick)

    def _sync_inline(self) -> None:
        """A lone writer: fdatasync on the loop itself, as Redis does.

        When the last fsync made a single command durable, nobody else is
        waiting to join the group, and the hand-off to the worker (wake a
        sleeping process on another CPU, then wake the loop again with its
        answer: about 70-120 us on a virtualised 2-CPU machine, as much as the
        fsync itself) is pure latency for the one client.  Syncing here costs
        the loop the fsync's time, which is what Redis pays on every fsync;
        it goes back to the worker as soon as groups grow (``last_group``) or
        an fsync on the loop was slow (a disk stall must block the loop at
        most once: ``INLINE_SLOW`` then sends the next ``INLINE_COOLDOWN``
        syncs to the worker).
        """
        writer = self.writer
        self._forced = False
        self._gather_start = 0.0
        if self._gather_timer is not None:
            self._gather_timer.cancel()
            self._gather_timer = None
        before = writer.durable_lsn
        started = time.monotonic()
        self._in_flight = True
        try:
            lsn = writer.sync()  # the same plan / fsync / bookkeeping as the worker's, in one call
        except OSError as exc:
            self._in_flight = False
            self._failed(exc)
            self._resolve_waiters(False)
            self._schedule_retry()
            return
        self._in_flight = False
        self._worker_backoff = 0.0
        self.inline_syncs += 1
        elapsed = time.monotonic() - started
        if elapsed > INLINE_SLOW:
            self._inline_off = INLINE_COOLDOWN  # (module globals: tests patch them)
        self._synced_bytes = writer.bytes_written
        self._succeeded(before, lsn, started)
        self._resolve_waiters(True)

    def _schedule_retry(self) -> None:
        b = self._worker_backoff
        self._worker_backoff = min(self.retry_max, b * 2 if b else self.retry_initial)
        self._retry_handle = asyncio.get_running_loop().call_later(self._worker_backoff, self._retry)

    def _gather_tick(self) -> None:
        self._gather_timer = None
        if self._gather_start:
            self._gather_start = -1.0  # the budget has run out: send whatever is there
        self._kick_worker()

    def _send_to_worker(self) -> None:
        worker = self._worker
        assert worker is not None and not self._in_flight
        writer = self.writer
        self._forced = False
        try:
            plan = writer.sync_plan()
        except OSError as exc:  # WalSyncLost: only a restart helps
            self._failed(exc)
            self._resolve_waiters(False)
            return
        self._plan = plan
        if self._inline_off:
            self._inline_off -= 1
        self._plan_before = writer.durable_lsn
        self._plan_bytes = writer.bytes_written
        self._gather_start = 0.0
        if self._gather_timer is not None:
            self._gather_timer.cancel()
            self._gather_timer = None
        self._plan_started = time.monotonic()
        self._in_flight = True
        assert self._worker_idle is not None
        self._worker_idle.clear()
        try:
            worker.request(plan.fds)
        except OSError as exc:
            self._worker_lost(exc)

    def _on_worker_answer(self) -> None:
        worker = self._worker
        if worker is None:
            return
        try:
            answer = worker.answer()
        except (ConnectionError, OSError) as exc:
            self._worker_lost(exc)
            return
        if answer is None:
            return
        done, code = answer
        plan = self._plan
        assert plan is not None
        self._plan = None
        self._in_flight = False
        assert self._worker_idle is not None
        self._worker_idle.set()
        writer = self.writer
        if code == 0:
            lsn = writer.sync_finished(plan)
            self._worker_backoff = 0.0
            started = self._plan_started
            self._record_success(self._plan_before, lsn, started)
            self._expect_bytes = (self._plan_bytes - self._synced_bytes) * 3 // 4
            self._synced_bytes = self._plan_bytes
            self._gather_budget = min(0.002, (time.monotonic() - started) / 2)
            again = self.policy == "always" or self._forced
            if again and PIPELINE:
                # Pipelined group commit: the frames written during that fsync (the next
                # group) go to the worker *before* this group's replies are written, so
                # the disk works while the loop sends them (~5 us per client).
                self._kick_worker(inline=False)
            self.on_durable(lsn)
            self._resolve_waiters(True)
            if again and not self._in_flight:
                self._kick_worker()  # frames written during that fsync: the next group
            return
        writer.sync_failed(plan, done)
        self._failed(OSError(code, os.strerror(code)))
        self._resolve_waiters(False)
        self._schedule_retry()

    def _retry(self) -> None:
        self._retry_handle = None
        self._kick_worker()

    def _resolve_waiters(self, ok: bool) -> None:
        waiters, self._worker_waiters = self._worker_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(ok)

    def _worker_lost(self, exc: BaseException) -> None:
        """The worker died (killed by hand?): undo the request, use the thread from now on."""
        log.warning("the fsync worker process is gone (%s); fsyncing from a thread", exc)
        plan, self._plan = self._plan, None
        if plan is not None:
            self.writer.sync_cancelled(plan)
        self._in_flight = False
        self._stop_worker()
        self.use_worker = False
        if self._worker_idle is not None:
            self._worker_idle.set()
        waiters, self._worker_waiters = self._worker_waiters, []

        async def in_thread() -> None:
            ok = await self._sync_once()
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(ok)

        asyncio.get_running_loop().create_task(in_thread())


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Wait for ``event`` at most ``timeout`` seconds."""
    if timeout <= 0:
        return
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass


def _check_policy(policy: str) -> str:
    policy = policy.lower()
    if policy not in POLICIES:
        raise ValueError(f"fsync policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    return policy
