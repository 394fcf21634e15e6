"""The fsync policy as one asyncio task: group commit under ``always``, a tick under ``everysec``.

The server writes frames once per loop pass (:meth:`WalWriter.write_buffered`)
and then calls :meth:`GroupCommitter.kick`.  Under ``always`` the task runs
``writer.sync`` in a dedicated executor thread right away; kicks that arrive
while that fsync is in flight only mark "more to do", so the next fsync covers
every frame written in the meantime (group commit: one fsync for many
writes, and the loop never blocks on the disk).  Under ``everysec`` the task
syncs about once a second when something was written; under ``no`` it never
syncs (the kernel decides), except for the final sync in :meth:`stop`.

Callbacks run on the loop thread: ``on_durable(lsn)`` after every successful
fsync (the server releases replies held for LSNs <= lsn), ``on_error(exc)``
when an fsync fails (the durable LSN does not advance; retried with
exponential backoff) and ``on_error(None)`` on the first success after that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from sentrykv_server.persistence.wal_writer import WalWriter

POLICIES = ("always", "everysec", "no")


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

    # -- control (loop thread) --------------------------------------------------------------
    def start(self) -> None:
        """Start the task on the running loop."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentrykv-fsync")
        self._last_sync = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="wal-group-commit")

    def kick(self) -> None:
        """New data was written: under ``always`` fsync now, or right after the fsync in flight."""
        if self.policy == "always":
            wake = self._wake
            if wake is not None and not wake.is_set():
                wake.set()

    def sync_now(self) -> None:
        """Fsync what is written as soon as possible, under every policy (WAITAOF)."""
        self._forced = True
        if self._wake is not None:
            self._wake.set()

    def set_policy(self, policy: str) -> None:
        """Change the policy at run time (CONFIG SET appendfsync)."""
        self.policy = _check_policy(policy)
        self.writer.retain_unsynced = self.policy != "no"
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
        self.on_durable(lsn)
        return True


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
