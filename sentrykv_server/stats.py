"""Server-wide counters for INFO stats, and the slow log (SLOWLOG)."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client


@dataclass
class Stats:
    """What INFO stats reports; reset by CONFIG RESETSTAT."""

    start_time: float = field(default_factory=time.time)
    connections_received: int = 0
    rejected_connections: int = 0
    rejected_calls: int = 0
    protocol_errors: int = 0
    evicted_clients: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    # (timestamp, commands) samples for instantaneous_ops_per_sec
    ops_samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=16))

    def sample(self, now: float, commands: int) -> None:
        self.ops_samples.append((now, commands))

    def instantaneous_ops(self) -> int:
        if len(self.ops_samples) < 2:
            return 0
        (t0, c0), (t1, c1) = self.ops_samples[0], self.ops_samples[-1]
        return int((c1 - c0) / (t1 - t0)) if t1 > t0 else 0

    def reset(self) -> None:
        self.connections_received = self.rejected_connections = 0
        self.rejected_calls = self.protocol_errors = self.evicted_clients = 0
        self.ops_samples.clear()


@dataclass
class SlowLogEntry:
    id: int
    timestamp: int
    duration_us: int
    argv: list[bytes]
    addr: str
    name: bytes


class SlowLog:
    """Commands slower than ``slowlog-log-slower-than`` microseconds, newest first."""

    def __init__(self, max_len: int = 128) -> None:
        self.entries: deque[SlowLogEntry] = deque(maxlen=max_len)
        self._ids = itertools.count()

    def resize(self, max_len: int) -> None:
        self.entries = deque(self.entries, maxlen=max_len)

    def record(self, client: Client, argv: list[bytes], duration_us: int) -> None:
        if self.entries.maxlen == 0:
            return
        shown = list(argv[:31])
        if len(argv) > 32:
            shown.append(b"... (%d more arguments)" % (len(argv) - 31))
        elif len(argv) == 32:
            shown.append(argv[31])
        shown = [a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128) for a in shown]
        self.entries.appendleft(
            SlowLogEntry(next(self._ids), int(time.time()), duration_us, shown, client.addr, client.name)
        )

    def reset(self) -> None:
        self.entries.clear()
