"""Test-only disk faults for a running server, driven by a control file.

With ``SENTRYKV_FAULT_FILE=/path`` in the environment, the WAL writer consults
that file before every write and fsync.  Its content (one word or two):

    write-enospc        writes fail with ENOSPC
    write-eio           writes fail with EIO
    fsync-eio           fsyncs fail with EIO
    fsync-slow <ms>     every fsync first sleeps <ms> milliseconds
    (missing / empty)   the disk is healthy

Crash, ENOSPC and slow-disk tests flip the file while the real server runs.
Without the variable nothing here is ever imported.
"""

from __future__ import annotations

import errno
import os
import time

FAULT_FILE_ENV = "SENTRYKV_FAULT_FILE"


class FileFaults:
    """The ``faults`` hook of WalWriter, reading its orders from a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _order(self) -> list[str]:
        try:
            with open(self.path) as fh:
                return fh.read().split()
        except OSError:
            return []

    def before_write(self, nbytes: int) -> int | None:
        order = self._order()
        if order[:1] == ["write-enospc"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if order[:1] == ["write-eio"]:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return None

    def before_fsync(self) -> None:
        order = self._order()
        if order[:1] == ["fsync-eio"]:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        if order[:1] == ["fsync-slow"] and len(order) > 1:
            time.sleep(int(order[1]) / 1000)


def from_environment() -> FileFaults | None:
    path = os.environ.get(FAULT_FILE_ENV)
    return FileFaults(path) if path else None
