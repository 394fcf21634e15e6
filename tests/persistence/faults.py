"""Injectable faults for WalWriter (the ``faults`` hook)."""

from __future__ import annotations

import errno
import os
import threading
import time


class Faults:
    """Scripted failures: each list entry is consumed by one call, then calls pass."""

    def __init__(self) -> None:
        self.writes: list[int | OSError] = []  # int: make this pwrite short
        self.fsyncs: list[OSError | float | threading.Event] = []  # float: sleep; Event: block
        self.fsync_delay = 0.0
        self.fsync_calls = 0
        self.lock = threading.Lock()

    def before_write(self, nbytes: int) -> int | None:
        if not self.writes:
            return None
        item = self.writes.pop(0)
        if isinstance(item, OSError):
            raise item
        return min(item, nbytes)

    def before_fsync(self) -> None:
        with self.lock:
            self.fsync_calls += 1
            item = self.fsyncs.pop(0) if self.fsyncs else None
        if self.fsync_delay:
            time.sleep(self.fsync_delay)
        if isinstance(item, OSError):
            raise item
        if isinstance(item, float):
            time.sleep(item)
        elif isinstance(item, threading.Event):
            item.wait(10)


def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def eio() -> OSError:
    return OSError(errno.EIO, os.strerror(errno.EIO))
