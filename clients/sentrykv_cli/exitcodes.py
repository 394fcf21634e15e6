"""Exit statuses scripts can rely on (documented in docs/clients.md)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    SERVER_ERROR = 1  # the server replied with an error (or refused AUTH/SELECT)
    USAGE = 2  # bad command-line flags, bad vocabulary arguments, bad quoting
    CANNOT_CONNECT = 3  # connection refused/failed, or lost while a command ran
