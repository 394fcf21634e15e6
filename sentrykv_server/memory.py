"""The server's memory figures: ``used_memory`` and its parts (Redis's object.c/zmalloc view).

``used_memory`` is a model, not the process RSS (see docs/memory.md):

    used_memory = startup                 RssAnon of the process before the data was loaded
                + dataset                 every key and value object (store/memory.py,
                                          maintained per write by the keyspace)
                + keyspace overhead       the dicts' hash tables, TTL deadlines, access
                                          fields, the expiry heap, SCAN snapshots, the
                                          table of shared small values (store/shared.py)
                + clients                 per-connection state and its query/reply buffers
                + WAL buffer              framed but unwritten log bytes (not counted for
                                          eviction, like Redis's AOF buffer)

Everything but the client and WAL parts is O(databases) to read; those two
walk the connections, so they are refreshed by the cron (``hz`` times a
second) and read from the cache in between.  The RSS is only used where Redis
uses it too: ``used_memory_rss`` and the fragmentation ratio.
"""

from __future__ import annotations

import ctypes
import os
import resource
from typing import TYPE_CHECKING, Any

from sentrykv_server.store.memory import BYTES_OBJECT, alloc, getsizeof
from sentrykv_server.store.shared import table_bytes as shared_table_bytes

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# One connection's fixed state: the Client object and its attribute dict, the hiredis
# reader, the uvloop transport and socket, the empty sets and lists a Client starts with
# (measured with tracemalloc and RssAnon over 1000 connections: scripts/calibrate_memory.py).
CLIENT_FIXED = 5120
# Database.dataset(): two object headers per key on top of db.mem.
DATASET_PER_KEY = 2 * BYTES_OBJECT
# A 24-byte heap entry (deadline, db, key) is a 3-tuple: 64 bytes, plus its list slot.
HEAP_ENTRY = 72


def rss_bytes() -> int:
    """Resident set size of the process."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except OSError:  # pragma: no cover - non-Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def anon_rss_bytes() -> int:
    """Anonymous resident memory (the heaps, not the mapped code): the startup baseline."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        pass
    return rss_bytes()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def mallinfo() -> dict[str, int] | None:
    """glibc's mallinfo2() (None when the C library has none)."""
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    info = fn()
    return {field[0]: int(getattr(info, field[0])) for field in _MallInfo2._fields_}


def malloc_trim() -> bool:
    """MEMORY PURGE: give free heap pages back to the kernel (glibc malloc_trim)."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


def client_memory(c: Client) -> int:
    """What one connection holds (CLIENT LIST tot-mem, maxmemory-clients)."""
    size = CLIENT_FIXED + alloc(getsizeof(c.out)) + c.held_bytes + c.partial_size + len(c.inline_buf)
    if c.multi is not None:
        size += multi_memory(c)
    transport = c.transport
    if transport is not None and not c.closing:
        try:
            size += transport.get_write_buffer_size()
        except (AttributeError, RuntimeError):  # closed meanwhile
            pass
    return size


def multi_memory(c: Client) -> int:
    """CLIENT LIST multi-mem: the queued commands' argument bytes plus a pointer per argument."""
    if c.multi is None:
        return 0
    return sum(sum(map(len, argv)) + 8 * len(argv) for _cmd, argv in c.multi)


class Accounting:
    """used_memory and its parts; one per server."""

    def __init__(self, server: Server) -> None:
        from sentrykv_server.commands.keys import CURSORS  # (the command modules are loaded by now)

        self.server = server
        self.cursors = CURSORS
        self.startup = anon_rss_bytes()
        self.peak = self.startup
        self.clients_normal = 0
        self.aof_buffer = 0
        self.ticks = 0
        self.fixed = self.startup

    # -- refreshed by the cron -------------------------------------------------------------
    def cron(self) -> None:
        server = self.server
        clients = list(server.clients.values())
        self.clients_normal = sum(map(client_memory, clients))
        self.ticks += 1
        if self.ticks % (5 * max(1, server.config.hz)) == 0:  # CLIENT LIST rbp: 5 s peaks
            for c in clients:
                c.reply_peak = 0
        aof = server.aof
        self.aof_buffer = aof.buffered_bytes() if aof is not None else 0
        self.used()

    # -- the figures ------------------------------------------------------------------------
    def keyspace_overhead(self) -> int:
        """Hash tables of every database, TTL deadlines, the expiry heap, SCAN snapshots."""
        ks = self.server.keyspace
        total = 0
        for db in ks.dbs:
            if db.data or db.expires:
                main, expires = db.overhead()
                total += main + expires
        heap = ks.expiry_heap
        if heap:
            total += alloc(getsizeof(heap)) + HEAP_ENTRY * len(heap)
        return total + self.cursors.memory() + shared_table_bytes()

    def refresh_fixed(self) -> int:
        """Recompute the part of used_memory that is not the dataset (O(databases)); the
        per-command check reads it cached (see :meth:`for_eviction`)."""
        self.fixed = self.startup + self.keyspace_overhead() + self.clients_normal
        return self.fixed

    def for_eviction(self, refresh: bool = True) -> int:
        """used_memory minus what Redis does not count against maxmemory (the log buffer).

        ``refresh=False`` (the check before each command while near the limit) reuses
        the tables' and clients' figure from the last loop pass: a hash table that grew
        within the pass counts from the next one.
        """
        fixed = self.refresh_fixed() if refresh else self.fixed
        ks = self.server.keyspace
        if ks.unsettled:
            ks.settle()
        total = fixed
        for db in ks.dbs:
            if db.data:
                total += db.mem + DATASET_PER_KEY * len(db.data)
        return total

    def used(self) -> int:
        used = self.for_eviction() + self.aof_buffer
        if used > self.peak:
            self.peak = used
        return used

    def overhead(self) -> int:
        """used_memory_overhead: everything but the dataset (Redis's getMemoryOverheadData)."""
        return self.startup + self.keyspace_overhead() + self.clients_normal + self.aof_buffer

    def stats(self) -> dict[str, Any]:
        """The parts MEMORY STATS and INFO memory report, computed once."""
        ks = self.server.keyspace
        dataset = ks.dataset_bytes()
        overhead = self.overhead()
        used = dataset + overhead
        if used > self.peak:
            self.peak = used
        rss = rss_bytes()
        per_db = []
        for db in ks.dbs:
            if db.data or db.expires:
                main, expires = db.overhead()
                per_db.append((db.id, main, expires))
        keys = sum(len(db.data) for db in ks.dbs)
        net = used - self.startup
        return {
            "used": used, "peak": self.peak, "startup": self.startup, "dataset": dataset,
            "overhead": overhead, "rss": rss, "per_db": per_db, "keys": keys,
            "clients_normal": self.clients_normal, "aof_buffer": self.aof_buffer,
            "bytes_per_key": net // keys if keys else 0,
            "dataset_perc": 100.0 * dataset / net if net > 0 else 0.0,
            "peak_perc": 100.0 * used / self.peak if self.peak else 100.0,
            "frag": rss / used if used else 0.0,
        }
