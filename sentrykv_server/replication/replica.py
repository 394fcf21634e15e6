"""The replica's side: the connection to the master (Redis's syncWithMaster / readSyncBulkPayload).

One :class:`MasterLink` per connection attempt.  The handshake is Redis's:
``PING``; then, pipelined, ``AUTH [masteruser] masterauth``, ``REPLCONF
listening-port``, ``REPLCONF ip-address`` (replica-announce-ip), ``REPLCONF
capa eof capa psync2``; then ``PSYNC <replid> <offset+1>`` for the stream the
data already reflects (or ``PSYNC ? -1``).  ``+CONTINUE`` goes straight to
streaming; ``+FULLRESYNC`` receives the RDB (``$<len>`` or ``$EOF:<mark>``,
newlines before it are the master's keepalives) into a temporary file in the
data directory while the old data keeps being served, then hands it to
``loader.py``.  The link is retried every second while ``replicaof`` is set.

Acknowledgements: ``REPLCONF ACK <offset> FACK <fsynced offset>`` every
second, on ``REPLCONF GETACK``, and whenever an fsync makes more of the
stream durable after a GETACK asked (so ``WAITAOF`` on the master returns as
soon as the data is on this disk).  FACK is only sent with appendonly on: a
replica without a log acknowledges nothing as written to disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from sentrykv_server.replication.stream import encode_command

if TYPE_CHECKING:
    from sentrykv_server.replication.state import Replication

log = logging.getLogger("sentrykv.replication")

CONNECTING, HANDSHAKE, TRANSFER, LOADING, CONNECTED = "connecting", "handshake", "transfer", "loading", "connected"
_EOF_MARK_LEN = 40


class MasterLink(asyncio.Protocol):
    def __init__(self, repl: Replication) -> None:
        from sentrykv_server.replication.applier import Applier

        self.repl = repl
        self.state = CONNECTING
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.step = ""
        self.expect: deque[str] = deque()
        self.last_io = time.time()
        self.started = time.time()
        self.closed = False
        # Full sync transfer.
        self.sync_replid = ""
        self.sync_offset = 0
        self.size = -1  # payload size; -1 with an EOF mark
        self.mark = b""
        self.tail = b""
        self.read = 0
        self.file: Any = None
        self.path = ""
        self.applier = Applier(repl, self)
        # (lsn, offset) of committed units not yet fsynced, for FACK.
        self.unsynced: deque[tuple[int, int]] = deque()
        self.fsynced = 0
        self.ack_wanted = False
        self.sent_fack = -1

    # -- asyncio callbacks ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.applier.client.addr = f"{self.repl.master_host}:{self.repl.master_port}"
        self.state = HANDSHAKE
        self.last_io = time.time()
        log.info("MASTER <-> REPLICA sync started")
        self._send(b"PING")
        self.step = "ping"

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_io = time.time()
        self.repl.net_input += len(data)
        if self.state == CONNECTED:
            self.applier.feed(data)
        elif self.state == TRANSFER:
            self._transfer(data)
        else:
            self.buf += data
            if self.state == HANDSHAKE:
                self._handshake()

    def connection_lost(self, exc: Exception | None) -> None:
        was = self.state
        self.closed = True
        self._drop_file()
        if was == CONNECTED:
            log.warning("Connection with master lost.")
        self.repl_link_lost()

    # -- handshake ----------------------------------------------------------------------------
    def _send(self, *argv: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_command(argv))

    def _line(self) -> bytes | None:
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                return None
            line = bytes(self.buf[:nl]).rstrip(b"\r")
            del self.buf[:nl + 1]
            if line:  # empty lines are the master's keepalives
                return line

    def _handshake(self) -> None:
        while not self.closed and self.state == HANDSHAKE:
            line = self._line()
            if line is None:
                return
            if self.step == "ping":
                if line.startswith(b"-") and not line.startswith((b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")):
                    return self.fail(f"Error reply to PING from master: '{line.decode('utf-8', 'replace')}'")
                self._send_settings()
            elif self.step == "settings":
                what = self.expect.popleft()
                if what == "auth" and line.startswith(b"-"):
                    return self.fail(f"Unable to AUTH to MASTER: {line.decode('utf-8', 'replace')}")
                if line.startswith(b"-") and what != "auth":
                    log.info("(Non critical) Master does not understand REPLCONF %s: %s", what,
                             line.decode("utf-8", "replace"))
                if not self.expect:
                    self._send_psync()
            elif self.step == "psync":
                self._psync_reply(line)

    def _send_settings(self) -> None:
        repl = self.repl
        cfg = repl.server.config
        auth = cfg.value("masterauth")
        if auth:
            user = cfg.value("masteruser")
            self._send(b"AUTH", *([user.encode()] if user else []), auth.encode())
            self.expect.append("auth")
        self._send(b"REPLCONF", b"listening-port", b"%d" % repl.announced_port())
        self.expect.append("listening-port")
        ip = cfg.value("replica-announce-ip")
        if ip:
            self._send(b"REPLCONF", b"ip-address", ip.encode())
            self.expect.append("ip-address")
        self._send(b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")
        self.expect.append("capa")
        self.step = "settings"

    def _send_psync(self) -> None:
        repl = self.repl
        if repl.backlog is not None:
            replid, offset = repl.replid.encode(), b"%d" % (repl.offset + 1)
            log.info("Trying a partial resynchronization (request %s:%s).", replid.decode(), offset.decode())
        else:
            replid, offset = b"?", b"-1"
            log.info("Partial resynchronization not possible (no cached master)")
        failover = repl.failover
        if failover is not None and failover.state == "failover-in-progress":
            self._send(b"PSYNC", replid, offset, b"FAILOVER")  # the target promotes itself
        else:
            self._send(b"PSYNC", replid, offset)
        self.step = "psync"

    def _psync_reply(self, line: bytes) -> None:
        repl = self.repl
        text = line.decode("utf-8", "replace")
        if repl.failover is not None:
            repl.failover.psync_answered(line.startswith((b"+FULLRESYNC", b"+CONTINUE")))
        if line.startswith(b"+FULLRESYNC"):
            words = text.split()
            if len(words) != 3 or len(words[1]) != 40 or not words[2].lstrip("-").isdigit():
                return self.fail(f"Bad +FULLRESYNC reply: {text}")
            self.sync_replid, self.sync_offset = words[1], int(words[2])
            log.info("Full resync from master: %s:%d", self.sync_replid, self.sync_offset)
            repl.drop_replicas()  # their data is about to be replaced: they resync with us later
            self.state = TRANSFER
            rest = bytes(self.buf)
            self.buf.clear()
            if rest:
                self._transfer(rest)
        elif line.startswith(b"+CONTINUE"):
            words = text.split()
            new_id = words[1] if len(words) > 1 and len(words[1]) == 40 else repl.replid
            if new_id != repl.replid:
                repl.replid2 = repl.replid
                repl.second_offset = repl.offset + 1
                repl.replid = new_id
                log.info("Master replication ID changed to %s", new_id)
                repl.drop_replicas()
            log.info("Successful partial resynchronization with master.")
            repl.ensure_backlog()
            repl.marker.due = True
            self.connected()
            rest = bytes(self.buf)
            self.buf.clear()
            if rest:
                self.applier.feed(rest)
        elif line.startswith((b"-NOMASTERLINK", b"-LOADING")):
            log.info("Master is currently unable to PSYNC but should be in the future: %s", text)
            self.close()
        else:
            self.fail(f"Unexpected reply to PSYNC from master: {text}")

    def connected(self) -> None:
        repl = self.repl
        self.state = CONNECTED
        repl.down_since = 0.0
        repl.server.repl_durable = self.durable
        repl.activate()
        log.info("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization."
                 if repl.sync_partial_ok else "MASTER <-> REPLICA sync: Finished with success")
        self.send_ack(force=True)

    # -- full sync payload --------------------------------------------------------------------
    def _transfer(self, data: bytes) -> None:
        if self.file is None:
            self.buf += data
            line = self._line()
            if line is None:
                return
            if not line.startswith(b"$"):
                return self.fail(f"Bad protocol from MASTER, the first byte is not '$': {line[:64]!r}")
            if line.startswith(b"$EOF:"):
                self.mark = line[5:]
                if len(self.mark) != _EOF_MARK_LEN:
                    return self.fail("Bad EOF mark from MASTER")
                self.size = -1
            else:
                try:
                    self.size = int(line[1:])
                except ValueError:
                    return self.fail("Bad bulk length from MASTER")
            self._open_file()
            data = bytes(self.buf)
            self.buf.clear()
        if self.size >= 0:
            need = self.size - self.read
            chunk, rest = data[:need], data[need:]
            self._write(chunk)
            if self.read == self.size:
                self._payload_done(rest)
        else:
            window = self.tail + data
            at = window.find(self.mark)
            if at < 0:
                self._write(data)
                self.tail = window[-_EOF_MARK_LEN:]
                return
            # The mark ends the payload; what follows it (if anything) is already the stream.
            payload_end = at - len(self.tail)  # may be negative: the mark began in the tail
            if payload_end > 0:
                self._write(data[:payload_end])
            elif payload_end < 0:
                self.file.truncate(self.read + payload_end)
                self.read += payload_end
            self._payload_done(data[at - len(self.tail) + _EOF_MARK_LEN:])

    def _open_file(self) -> None:
        directory = os.path.abspath(self.repl.server.config.dir)
        self.path = os.path.join(directory, f"temp-{int(time.time())}.{os.getpid()}.rdb")
        self.file = open(self.path, "wb")  # noqa: SIM115 - closed in _payload_done / _drop_file
        self.read = 0

    def _write(self, chunk: bytes) -> None:
        if chunk:
            self.file.write(chunk)
            self.read += len(chunk)

    def _payload_done(self, rest: bytes) -> None:
        """The RDB is here: stop reading (the stream waits in the socket), load it."""
        self.file.flush()
        self.file.close()
        self.file = None
        log.info("MASTER <-> REPLICA sync: received %d bytes of RDB payload", self.read)
        self.state = LOADING
        self.buf = bytearray(rest)
        if self.transport is not None:
            self.transport.pause_reading()
        from sentrykv_server.replication.loader import load_full_sync

        task = asyncio.get_running_loop().create_task(load_full_sync(self, self.path), name="replica-load")
        self.repl.load_task = task

    def loaded(self) -> None:
        """loader.py finished: the data and position are the master's; stream from here."""
        self.path = ""
        self.connected()
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()
        rest = bytes(self.buf)
        self.buf.clear()
        if rest:
            self.applier.feed(rest)

    def _drop_file(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None
        if self.path and self.state == TRANSFER:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    # -- acknowledgements ----------------------------------------------------------------------
    def committed(self, lsn: int, offset: int) -> None:
        """A unit of the stream is in the WAL at ``lsn`` (FACK once it is fsynced)."""
        aof = self.repl.server.aof
        if aof is None:
            return
        if lsn <= aof.durable_lsn:
            self.fsynced = offset
        else:
            self.unsynced.append((lsn, offset))

    def durable(self, lsn: int) -> None:
        """``server.repl_durable``: an fsync covered the WAL up to ``lsn``."""
        unsynced = self.unsynced
        advanced = False
        while unsynced and unsynced[0][0] <= lsn:
            self.fsynced = unsynced.popleft()[1]
            advanced = True
        if advanced and self.ack_wanted and self.state == CONNECTED:
            self.send_ack()

    def fsynced_offset(self) -> int | None:
        """The stream offset durable here (None: no WAL, no FACK)."""
        server = self.repl.server
        if server.aof is None:
            return None
        if not self.unsynced:
            return self.repl.offset  # nothing committed is waiting for an fsync
        return self.fsynced

    def send_ack(self, force: bool = False, offset: int | None = None) -> None:
        if self.state != CONNECTED:
            return
        if force:
            self.ack_wanted = True
        off = self.repl.offset if offset is None else offset
        fack = self.fsynced_offset()
        if fack is not None:
            fack = min(fack, off)
            if fack >= off:
                self.ack_wanted = False
            self.sent_fack = fack
            self._send(b"REPLCONF", b"ACK", b"%d" % off, b"FACK", b"%d" % fack)
        else:
            self.ack_wanted = False
            self._send(b"REPLCONF", b"ACK", b"%d" % off)

    # -- ending ------------------------------------------------------------------------------
    def fail(self, reason: str) -> None:
        log.warning("MASTER <-> REPLICA sync: %s", reason)
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        elif not self.closed:
            self.closed = True
            self.repl_link_lost()

    def repl_link_lost(self) -> None:
        repl = self.repl
        if repl.server.repl_durable == self.durable:
            repl.server.repl_durable = None
        if repl.link is self:
            repl.link = None
            if not repl.down_since:
                repl.down_since = time.time()
            repl.refresh_gates()
            schedule_connect(repl, 1.0)


# -- connecting ------------------------------------------------------------------------------
def schedule_connect(repl: Replication, delay: float) -> None:
    loop = repl.server.loop
    if loop is None or repl.master_host is None or repl.connect_handle is not None:
        return

    def go() -> None:
        repl.connect_handle = None
        connect(repl)

    repl.connect_handle = loop.call_later(delay, go)


def connect(repl: Replication) -> None:
    """Start a connection attempt to the configured master (one at a time)."""
    loop = repl.server.loop
    if loop is None or repl.master_host is None or repl.link is not None:
        return
    link = MasterLink(repl)
    repl.link = link
    host, port = repl.master_host, repl.master_port
    log.info("Connecting to MASTER %s:%d", host, port)

    async def attempt() -> None:
        timeout = max(1, repl.server.config.value("repl-timeout"))
        try:
            await asyncio.wait_for(loop.create_connection(lambda: link, host, port), timeout)
        except (TimeoutError, OSError) as exc:
            log.warning("Error condition on socket for SYNC: %s", getattr(exc, "strerror", None) or exc or "timeout")
            link.closed = True
            link.repl_link_lost()

    task = loop.create_task(attempt(), name="replica-connect")
    repl.connect_task = task


def disconnect(repl: Replication) -> None:
    """Drop the link (REPLICAOF changes, CLIENT KILL TYPE master)."""
    if repl.connect_handle is not None:
        repl.connect_handle.cancel()
        repl.connect_handle = None
    link = repl.link
    repl.link = None
    repl.server.repl_durable = None
    if link is not None:
        load = repl.load_task
        if load is not None and not load.done():
            load.cancel()
        link.closed = True
        link._drop_file()
        if link.transport is not None:
            link.transport.close()


def replica_cron(repl: Replication, now: float) -> None:
    """Once a second: connect, time out a silent master, acknowledge."""
    link = repl.link
    if link is None:
        if repl.connect_handle is None:
            connect(repl)
        return
    timeout = repl.server.config.value("repl-timeout")
    if link.state in (CONNECTING, HANDSHAKE, TRANSFER) and now - link.last_io > timeout:
        log.warning("Timeout connecting to / receiving the RDB from MASTER... (%s)", link.state)
        link.close()
    elif link.state == CONNECTED:
        if now - link.last_io > timeout:
            log.warning("MASTER timeout: no data nor PING received...")
            link.close()
        else:
            link.send_ack()
