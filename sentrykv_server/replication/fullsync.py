"""Full synchronisation: a point-in-time view of the dataset streamed to a replica as RDB.

Redis forks and lets the child write the RDB while the parent serves clients;
SentryKV takes the same copy-on-write view the checkpoints use
(``persistence/checkpoint.py``: the databases' dicts captured by reference
at the cut, every key preserved before it changes) and encodes it in slices
of about a millisecond of loop time, so the master never stops serving.  The
cut is taken in the PSYNC handler itself, between two commands, at exactly
the offset announced by ``+FULLRESYNC``; everything written afterwards goes
to the replica's pending stream and follows the RDB.

Format on the wire: with ``REPLCONF capa eof`` (every Redis >= 2.8.18 replica
and SentryKV's) the payload is ``$EOF:<40 random chars>\\r\\n``, the RDB, then
the same 40 chars (Redis's diskless format: the length is not known in
advance).  Without it (SYNC, old clients) the RDB is spooled to a temporary
file first and sent as ``$<length>\\r\\n`` + bytes.  The RDB carries the aux
fields a Redis replica reads (``repl-stream-db``, ``repl-id``,
``repl-offset``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any

from sentrykv_server.persistence.checkpoint import (
    LIST_STEP,
    Run,
    _next_pass,
    attach_view,
    cut_time,
    detach_view,
)
from sentrykv_server.persistence.rdb.decode import Limits
from sentrykv_server.persistence.rdb.rdbfile import RdbWriter

if TYPE_CHECKING:
    from sentrykv_server.replication.master import ReplicaLink

log = logging.getLogger("sentrykv.replication")

SLICE_S = 0.001  # loop time per slice
HIGH_WATER = 8 * 1024 * 1024  # stop encoding while this much is queued for the socket
LOW_WATER = 1024 * 1024


class _SocketSink:
    """What RdbWriter writes to: the replica's socket."""

    def __init__(self, link: ReplicaLink) -> None:
        self.link = link
        self.sent = 0

    def write(self, data: bytes) -> int:
        transport = self.link.client.transport
        if transport is None or transport.is_closing():
            raise ConnectionError("replica connection closed during full sync")
        transport.write(data)
        self.sent += len(data)
        return len(data)


class FullSync:
    """One replica's full sync: the cut at construction, the encoding in a task."""

    def __init__(self, link: ReplicaLink, eof_mark: bool) -> None:
        repl = link.repl
        server = repl.server
        self.link = link
        self.eof_mark = eof_mark
        self.offset = repl.offset
        self.replid = repl.replid
        self.run = Run("replication", f"full sync of {link.name}", 0)
        self.run.capture(server.keyspace)
        self.sizes = {cap.index: (len(cap.data), len(cap.expires)) for cap in self.run.captured}
        self.functions = server.functions.codes() if server.functions is not None else []
        if self.run.captured:
            attach_view(server, self.run)
        self.task: asyncio.Task[None] | None = None
        self.started = time.monotonic()
        self.keys = 0
        self.bytes = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="full-sync")

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        else:
            self._release()

    def _release(self) -> None:
        server = self.link.repl.server
        detach_view(server, self.run)
        for cap in self.run.captured:
            cap.early = {}
            cap.keys = []
            cap.iterator = None
        self.run.captured = []
        self.run.by_id = {}

    async def _run(self) -> None:
        link = self.link
        server = link.repl.server
        log.info("Starting full sync of replica %s (%s keys at offset %d, %s)", link.name,
                 server.keyspace.total_keys(), self.offset, "diskless EOF-marked" if self.eof_mark else "spooled")
        spool: Any = None
        try:
            if self.eof_mark:
                mark = os.urandom(20).hex().encode()
                sink: Any = _SocketSink(link)
                sink.write(b"$EOF:" + mark + b"\r\n")
            else:
                spool = tempfile.TemporaryFile(dir=os.path.abspath(server.config.dir))
                sink = spool
            await self._write_rdb(sink)
            if self.eof_mark:
                sink.write(mark)
                self.bytes = sink.sent
            else:
                await self._send_spool(spool)
            self._release()
            log.info("Full sync of %s: %d keys, %d bytes in %.3fs", link.name, self.keys, self.bytes,
                     time.monotonic() - self.started)
            link.sync = None
            if self.eof_mark:
                # Redis's rule for EOF-marked payloads: the stream starts once the replica
                # has loaded and acknowledged (a reader that checks the last bytes it read
                # for the mark must not find stream bytes behind it).
                link.wait_first_ack = True
                link.ack_time = time.time()
            else:
                link.go_online()
        except asyncio.CancelledError:
            self._release()
            raise
        except Exception as exc:  # noqa: BLE001 - a failed sync closes the replica, never the server
            self._release()
            if not isinstance(exc, ConnectionError):
                log.error("Full sync of replica %s failed: %s: %s", link.name, type(exc).__name__, exc)
            link.sync = None
            link.close()
        finally:
            if spool is not None:
                spool.close()

    async def _write_rdb(self, sink: Any) -> None:
        server = self.link.repl.server
        aux = {b"repl-stream-db": b"0", b"repl-id": self.replid.encode(), b"repl-offset": b"%d" % self.offset}
        writer = RdbWriter(sink, Limits.from_config(server.config), aux)
        for code in self.functions:
            writer.function(code)
        loop = asyncio.get_running_loop()
        perf = time.perf_counter
        for cap in sorted(self.run.captured, key=lambda c: c.index):
            while not cap.list_some(LIST_STEP):  # list first: keeps the materialize window short
                await _next_pass(loop)
            size, expires = self.sizes[cap.index]
            writer.select_db(cap.index, size, expires)
            n = 256
            while True:
                started = perf()
                keys = cap.take(n)
                if cap.broken:
                    raise RuntimeError(f"database {cap.index} changed under the full sync: {cap.broken}")
                if not keys:
                    break
                keys, values, exp_idx, exp_ms = cut_time(cap, keys)
                expire = dict(zip(exp_idx, exp_ms, strict=True))
                for i, key in enumerate(keys):
                    writer.key(key, values[i], expire.get(i))
                self.keys += len(keys)
                used = perf() - started
                n = max(16, min(8192, int(n * SLICE_S / max(used, 1e-6)), n * 2))
                await self._drain(loop)
        writer.finish()

    async def _drain(self, loop: asyncio.AbstractEventLoop, high: int = HIGH_WATER) -> None:
        """Yield to the loop; while more than ``high`` bytes wait for the socket, wait for
        the replica to read them down to LOW_WATER."""
        await _next_pass(loop)
        transport = self.link.client.transport
        if transport is None or transport.get_write_buffer_size() <= high:
            return
        while transport.get_write_buffer_size() > LOW_WATER:
            if transport.is_closing():
                raise ConnectionError("replica connection closed during full sync")
            await asyncio.sleep(0.005)

    async def _send_spool(self, spool: Any) -> None:
        size = spool.tell()
        spool.seek(0)
        sink = _SocketSink(self.link)
        sink.write(b"$%d\r\n" % size)
        loop = asyncio.get_running_loop()
        while True:
            chunk = spool.read(1 << 20)
            if not chunk:
                break
            sink.write(chunk)
            await self._drain(loop, LOW_WATER)
        self.bytes = size
