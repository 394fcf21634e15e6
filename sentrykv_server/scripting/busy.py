"""Serving clients while a slow script runs (Redis's processEventsWhileBlocked).

Scripts run on the event-loop thread, so while one runs the loop does not.
Past ``busy-reply-threshold`` the Lua count hook (every 100,000 Lua
instructions) calls :meth:`BusyService.poll`, which does by hand what the
loop would do, for the few things Redis allows then:

* the listening sockets are polled and new connections accepted (so that a
  new ``redis-cli SCRIPT KILL`` gets through); they get a
  :class:`BusyTransport` on the raw socket and are handed to the loop
  (``connect_accepted_socket``) once the script ends;
* every connected plain-TCP client but the script's caller is polled; what it
  sent goes through its ordinary ``data_received`` -> dispatch path, where
  ``check_command`` answers ``-BUSY`` to everything but SCRIPT KILL,
  FUNCTION KILL/STATS, SHUTDOWN NOSAVE and the other ``allow_busy``
  commands; replies are flushed at once (the WAL buffer first, as always);
* SHUTDOWN NOSAVE ends the process right there, as Redis does: the script's
  own, uncommitted effects are dropped, the WAL written so far is written
  and fsynced, and the process exits.

Nothing else runs: no cron, no active expiry, no checkpoint slice, no
blocked client is served, no WAL frame is committed for anyone.

A connection the loop accepted in the very pass the script started in has
no Client yet (asyncio calls connection_made later): it is found among the
process's sockets and served by a throwaway Client, so it gets its -BUSY
answers and may SCRIPT KILL, but what it changes on its connection (AUTH,
HELLO, SELECT...) while the script runs is forgotten afterwards.

Limits: TLS clients are not read while the script runs (their bytes are
encrypted; they are served when it ends); a signal (SIGTERM) is handled
when the script ends; a script stuck inside one long C call (a huge
``string.rep``, ``table.sort`` or a single slow command) is not interrupted
until that call returns, because the hook only runs between Lua instructions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
import stat
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.scripting.runtime import LuaEngine, RunCtx
    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv.scripting")

_READ = select.POLLIN | select.POLLPRI
_ERRORS = select.POLLERR | select.POLLHUP | select.POLLNVAL
_CHUNK = 1 << 16
_ORPHAN_SCAN_S = 0.1


class BusyTransport:
    """The transport of a connection accepted while a script runs: the raw socket."""

    def __init__(self, sock: socket.socket, on_lost: Any) -> None:
        self.sock = sock
        self.pending = bytearray()
        self.closing = False
        self.reading = True
        self._on_lost = on_lost

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        try:
            if name == "peername":
                return self.sock.getpeername()
            if name == "sockname":
                return self.sock.getsockname()
            if name == "socket":
                return self.sock
        except OSError:
            return default
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    def write(self, data: bytes) -> None:
        if self.closing:
            return
        self.pending += data
        self.flush()

    def flush(self) -> None:
        while self.pending and not self.closing:
            try:
                sent = self.sock.send(self.pending)
            except BlockingIOError:
                return
            except OSError:
                self.abort()
                return
            del self.pending[:sent]

    def get_write_buffer_size(self) -> int:
        return len(self.pending)

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self.flush()
        self.abort()

    def abort(self) -> None:
        if not self.closing:
            self.closing = True
            try:
                self.sock.close()
            finally:
                self._on_lost()

    def detach(self) -> bytes:
        """Hand the unsent bytes to the transport that takes over the socket."""
        data = bytes(self.pending)
        self.pending.clear()
        return data


class BusyService:
    """Polls listeners and clients from inside the Lua hook of a timed-out script."""

    def __init__(self, server: Server, engine: LuaEngine) -> None:
        self.server = server
        self.engine = engine
        self.ctx: RunCtx | None = None
        self.poller: Any = None
        self.listeners: dict[int, socket.socket] = {}
        self.clients: dict[int, Client] = {}
        self.accepted: list[tuple[socket.socket, Client, BusyTransport]] = []
        # Connections the event loop accepted in the pass the script started in, whose
        # Client does not exist yet: served by a throwaway Client while the script runs.
        self.orphans: list[BusyTransport] = []
        self.known_fds: set[int] = set()
        self.next_scan = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def enter(self, ctx: RunCtx) -> None:
        server = self.server
        self.ctx = ctx
        server.busy_script = ctx
        self.poller = select.poll()
        self.listeners = {}
        self.clients = {}
        tls_port = server.config.tls_port
        for srv in server.listeners:
            for tsock in getattr(srv, "sockets", None) or ():
                try:
                    port = tsock.getsockname()[1]
                    if tls_port and port == tls_port:
                        continue
                    dup = socket.socket(fileno=os.dup(tsock.fileno()))
                except OSError:
                    continue
                dup.setblocking(False)
                self.listeners[dup.fileno()] = dup
                self.poller.register(dup.fileno(), _READ)
        self.orphans = []
        self.known_fds = set(self.listeners)
        for srv in server.listeners:
            for tsock in getattr(srv, "sockets", None) or ():
                self.known_fds.add(tsock.fileno())
        for client in list(server.clients.values()):
            self._watch(client)
            sock = client.transport.get_extra_info("socket") if client.transport is not None else None
            if sock is not None:
                self.known_fds.add(sock.fileno())
        self.next_scan = time.monotonic() + _ORPHAN_SCAN_S

    def _watch(self, client: Client) -> None:
        ctx = self.ctx
        transport = client.transport
        if ctx is None or client is ctx.caller or client.closing or transport is None or client.read_paused:
            return
        if transport.get_extra_info("sslcontext") is not None:
            return
        sock = transport.get_extra_info("socket")
        if sock is None:
            return
        try:
            fd = sock.fileno()
        except (OSError, ValueError):
            return
        if fd < 0 or fd in self.clients:
            return
        self.clients[fd] = client
        self.poller.register(fd, _READ)

    def leave(self) -> None:
        """The script ended: the loop takes over again, including the connections accepted."""
        server = self.server
        server.busy_script = None
        for dup in self.listeners.values():
            dup.close()
        self.listeners = {}
        self.clients = {}
        self.poller = None
        self.ctx = None
        orphans, self.orphans = self.orphans, []
        for transport in orphans:
            transport.abort()  # closes our duplicate only: the loop owns the connection
        accepted, self.accepted = self.accepted, []
        loop = server.loop
        for sock, client, transport in accepted:
            if transport.closing:
                continue
            if loop is None:
                transport.abort()
                continue
            loop.create_task(_adopt(loop, sock, client, transport))

    # -- one poll from the hook -----------------------------------------------------------------
    def poll(self) -> None:
        poller = self.poller
        if poller is None:
            return
        now = time.monotonic()
        if now >= self.next_scan:
            self.next_scan = now + _ORPHAN_SCAN_S
            self._find_orphans()
        for fd, events in poller.poll(0):
            if fd in self.listeners:
                self._accept(self.listeners[fd])
                continue
            client = self.clients.get(fd)
            if client is None:
                continue
            self._read(fd, client, events)
        for _sock, _client, transport in self.accepted:
            if transport.pending:
                transport.flush()
        self.server.flush_pass()
        event = self.server.shutdown_requested
        if event is not None and event.is_set() and self.server.shutdown_save is False:
            self._exit_now()

    def _read(self, fd: int, client: Client, events: int) -> None:
        if client.closing:
            self._forget(fd)
            return
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self._forget(fd)
            return
        if not data:
            # End of stream: leave it to the loop (or close a connection accepted here).
            self._forget(fd)
            transport = client.transport
            if isinstance(transport, BusyTransport):
                transport.abort()
            return
        client.data_received(data)
        if client.closing or client.read_paused:
            self._forget(fd)

    def _forget(self, fd: int) -> None:
        if self.clients.pop(fd, None) is not None and self.poller is not None:
            try:
                self.poller.unregister(fd)
            except (KeyError, ValueError):
                pass

    def _accept(self, listener: socket.socket) -> None:
        from sentrykv_server.protocol.connection import Client

        while True:
            try:
                sock, _addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accepting a connection during a slow script: %s", exc)
                return
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            client = Client(self.server)
            transport = BusyTransport(sock, lambda client=client: client.connection_lost(None))
            client.connection_made(transport)  # type: ignore[arg-type]
            if client.closing:
                continue
            self.accepted.append((sock, client, transport))
            self._watch(client)

    def _find_orphans(self) -> None:
        """Sockets of this process connected to our port that no Client owns yet."""
        from sentrykv_server.protocol.connection import Client

        port = self.server.port
        tls_port = self.server.config.tls_port
        try:
            fds = [int(name) for name in os.listdir("/proc/self/fd")]
        except OSError:
            return
        for fd in fds:
            if fd in self.known_fds or fd in self.clients:
                continue
            self.known_fds.add(fd)
            try:
                if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                    continue
                sock = socket.socket(fileno=os.dup(fd))
            except OSError:
                continue
            try:
                local = sock.getsockname()
                peer = sock.getpeername()
                usable = (sock.type == socket.SOCK_STREAM and isinstance(local, tuple)
                          and local[1] == port and local[1] != tls_port and bool(peer))
            except OSError:
                usable = False
            if not usable:
                sock.close()
                continue
            sock.setblocking(False)
            self.known_fds.add(sock.fileno())
            client = Client(self.server)
            transport = BusyTransport(sock, lambda client=client: client.connection_lost(None))
            client.connection_made(transport)  # type: ignore[arg-type]
            if client.closing:
                continue
            self.orphans.append(transport)
            self._watch(client)

    def _exit_now(self) -> None:
        """SHUTDOWN NOSAVE during a slow script: Redis exits without waiting for it."""
        server = self.server
        server.ops.clear()
        aof = server.aof
        if aof is not None:
            try:
                aof.write_pass()
                aof.writer.sync()
            except OSError as exc:
                log.error("writing the write-ahead log at shutdown: %s", exc)
        log.warning("SHUTDOWN NOSAVE during a slow script: exiting now, the script's effects are dropped")
        logging.shutdown()
        os._exit(0)


async def _adopt(loop: asyncio.AbstractEventLoop, sock: socket.socket, client: Client,
                 transport: BusyTransport) -> None:
    """Give a connection accepted during the script to the event loop."""
    if transport.closing:
        return
    try:
        await loop.connect_accepted_socket(lambda: client, sock)
    except OSError:
        transport.abort()
