"""One client connection (Redis's networking.c): read -> parse -> dispatch -> reply.

The hot path is :meth:`Client.data_received`: bytes go into a hiredis reader,
every complete request is executed at once by a plain function call, and the
encoded replies accumulate in ``self.out``.  Nothing is written to the socket
here: the server flushes every client once per event-loop pass (see
``Server.flush_pass``), after the write-ahead log for the same pass has been
handed to the OS, so a reply never leaves before the write it acknowledges.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any, cast

import hiredis
from mypy_extensions import mypyc_attr

from sentrykv_server.commands.errors import CommandError
from sentrykv_server.commands.registry import SKIP_MONITOR, Command
from sentrykv_server.dispatch import internal_error, process_command
from sentrykv_server.protection import DENIED, refuses_connection
from sentrykv_server.protocol import input_guard
from sentrykv_server.protocol.framing import check_partial, find_inline_start
from sentrykv_server.protocol.inline import UnbalancedQuotes, split_args
from sentrykv_server.protocol.input_guard import STAR_CANDIDATE
from sentrykv_server.protocol.reply import NO_REPLY, OK_BYTES, encode, encode_error

if TYPE_CHECKING:
    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv.client")

_client_ids = itertools.count(1)
_perf_ns = time.perf_counter_ns
_INLINE_MAX = 64 * 1024
# Stop executing a client's pipelined requests while this much output is pending: its
# replies go to the socket first, and if the peer does not read, pause_writing stops
# the input (without this a pipeline of big replies grows memory without bound).
_OUT_PAUSE = 1024 * 1024
_BULK_HEADERS = [b"$%d\r\n" % n for n in range(1024)]

def _protocol_error_text(exc: Exception) -> str:
    """Redis's wording for what hiredis reports."""
    text = str(exc)
    low = text.lower()  # hiredis says "Bulk string length out of range"
    if "nesting depth" in low:  # nested aggregates: Redis stops at the first one
        return "Protocol error: expected '$', got '*'"
    if "multi-bulk" in low:
        return "Protocol error: invalid multibulk length"
    if "bulk" in low:
        return "Protocol error: invalid bulk length"
    if "reply type byte" in text:
        got = text.split('"')[1] if '"' in text else "?"
        return f"Protocol error: expected '$', got '{got}'"
    return "Protocol error: " + text


# Compiled by mypyc (docs/build.md): scripting's ScriptClient, an ordinary Python class,
# subclasses it, which a native class allows only when it says so.
@mypyc_attr(allow_interpreted_subclasses=True)
class Client(asyncio.Protocol):
    """Per-connection state plus the asyncio protocol callbacks."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.id = next(_client_ids)
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.db = server.keyspace.dbs[0]
        self.resp3 = False
        self.out = bytearray()
        self.queued = False  # on the server's flush list for this loop pass
        self.closing = False
        self.close_after_reply = False
        # Every connection starts as the default user; it counts as authenticated when that
        # user needs no password (Redis's clientSetDefaultAuth).
        user = self.user = server.acl.default
        self.authenticated = user.nopass and user.enabled
        # True when execute() must take the slow path (see refresh()).
        self.special = not self.authenticated or user.restricted
        self.name = b""
        self.addr = "?"
        self.laddr = "?"
        self.peer_ip = ""
        self.fd = -1
        self.created = time.time()
        self.last_seen = server.unixtime
        self.last_cmd: Command | None = None
        self.partial: list[bytes] = []
        # The RESP reader holds part of a request.  hiredis consumes headers as it parses,
        # so reader.has_data() is False mid-request; this flag is what tells a new chunk
        # that starts with a non-'*' byte apart from an inline command.
        self.resp_partial = False
        # self.partial starts at a request boundary (framing.check_partial may walk it).
        self.partial_aligned = False
        # self.partial[0] starts at a request boundary, complete requests may come first
        # (lets an inline command after them be found, see _switch_to_inline).
        self.partial_from_boundary = False
        self.partial_size = 0
        self.next_scan = 0
        self.inline_buf = b""
        self.fed_at_boundary: bytes | None = None
        # Input kept away from hiredis by protocol/input_guard.py (big or unplaced headers);
        # guarded: every chunk goes through the guard (held input, or not authenticated).
        self.held_in: list[bytes] = []
        self.held_size = 0
        self.big_count = 0
        self.guarded = not self.authenticated
        # Durability: the LSN the pending replies depend on, and replies waiting for fsync.
        self.wait_lsn = 0
        self.held: deque[tuple[int, bytes]] = deque()
        self.held_bytes = 0
        self.reply_peak = 0  # CLIENT LIST rbp: the largest reply batch lately (reset by the cron)
        self.read_paused = False
        self.write_paused = False
        self.input_pending = False  # complete requests left unexecuted (see _OUT_PAUSE)
        # MULTI/EXEC and WATCH.
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.multi_error = False
        self.watch_dirty = False
        self.watched: list[tuple[int, bytes]] = []
        # Pub/Sub.
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.shard_channels: set[bytes] = set()
        # Blocking commands: set while waiting for a key; requests stay unparsed meanwhile.
        self.blocked: Any = None
        self.reply_mode = "on"  # CLIENT REPLY on|off|skip
        self.skip_next = False
        self.no_evict = False
        self.monitor = False
        self.in_exec = False
        # Blocking commands answer at once instead of waiting (EXEC, scripts: Redis's
        # CLIENT_DENY_BLOCKING).
        self.deny_blocking = False
        # Client-side caching options while CLIENT TRACKING is on (tracking.TrackingState).
        self.tracking: Any = None
        # Replication: the stream offset after this client's last write (WAIT), the
        # REPLCONF settings of a replica's handshake, its link once it sent PSYNC, and
        # whether this stands for the master (a replica applying the stream).
        self.woff = 0
        self.repl_conf: dict[str, Any] = {}
        self.replica_link: Any = None
        self.is_master = False

    # -- asyncio callbacks ---------------------------------------------------------------
    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # uvloop's TCPTransport is not a subclass
        if self.transport is not None:
            # Accepted while a slow script ran (scripting/busy.py): the loop takes it over.
            leftover = self.transport.detach()  # type: ignore[attr-defined]
            self.transport = transport
            transport.set_write_buffer_limits(high=4 * 1024 * 1024)
            if leftover:
                transport.write(leftover)
            return
        self.transport = transport
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.addr = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "?")
        self.laddr = f"{sock[0]}:{sock[1]}" if isinstance(sock, tuple) else str(sock or "?")
        self.peer_ip = str(peer[0]) if isinstance(peer, tuple) else ""
        socket = transport.get_extra_info("socket")
        self.fd = socket.fileno() if socket is not None else -1
        server = self.server
        refusal = None
        if len(server.clients) >= server.config.maxclients:
            refusal = b"-ERR max number of clients reached\r\n"
        elif refuses_connection(server, self.peer_ip):
            refusal = DENIED
        if refusal is not None:
            transport.write(refusal)
            server.stats.rejected_connections += 1
            self.closing = True
            transport.close()
            return
        transport.set_write_buffer_limits(high=4 * 1024 * 1024)
        server.client_connected(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.client_disconnected(self)

    def pause_writing(self) -> None:
        # The peer is not reading: stop reading its requests so its replies stop growing.
        self.write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._update_reading()
        self._schedule_continue()

    def _schedule_continue(self) -> None:
        if self.input_pending and self.server.loop is not None:
            self.server.loop.call_soon(self._continue_input)

    def _continue_input(self) -> None:
        """Execute the requests left pending once the output has drained enough."""
        if self.input_pending and not self.write_paused and self.held_bytes <= self.server.max_held_bytes:
            self.input_pending = False
            self.resume()

    def _update_reading(self) -> None:
        want_pause = self.write_paused or self.held_bytes > self.server.max_held_bytes
        if want_pause != self.read_paused and self.transport is not None and not self.closing:
            self.read_paused = want_pause
            if want_pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    # -- input ---------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        server = self.server
        self.last_seen = server.unixtime
        server.stats.net_input_bytes += len(data)
        if self.guarded:
            input_guard.feed(self, data)
            return
        reader = self.reader
        if self.inline_buf or (not self.resp_partial and data[0] != 42):
            data = self._inline(self.inline_buf + data)
            if not data or self.closing:
                self.server.schedule_flush(self)
                return
        # A header hiredis would preallocate for (see input_guard): place it first.
        if STAR_CANDIDATE(data) is not None or b"~" in data or b">" in data:
            input_guard.feed(self, data)
            return
        # A chunk fed at a request boundary is remembered, so that an inline command
        # following RESP requests in the same packet can be found again (see below).
        self.fed_at_boundary = None if self.resp_partial else data
        reader.feed(data)
        self.resp_partial = True
        if self.blocked is not None:
            self._track_partial(data, False)
            return
        self.process_input(data)

    def process_input(self, data: bytes | None = None) -> None:
        """Execute every complete request in the reader (stops while blocked).

        This loop is the server's hot path.  The common case (a known command
        with the right arity, a plain client, no disk trouble, no checkpoint
        running) is run right here with the same bookkeeping as
        :meth:`execute`, which saves a call and its setup per pipelined request
        (about a third of the per-request cost at -P 16); every other case goes
        through :meth:`execute`.
        """
        reader = self.reader
        gets = reader.gets
        has_data = reader.has_data
        out = self.out
        server = self.server
        blocking = server.blocking
        lookup_get = server.lookup_table.get
        perf = _perf_ns
        completed = False
        while self.blocked is None and not self.closing:
            if len(out) > _OUT_PAUSE:
                self.input_pending = True
                break
            pending = has_data()
            try:
                request = gets()
            except hiredis.ProtocolError as exc:
                if self._switch_to_inline(data):
                    reader = self.reader
                    gets = reader.gets
                    has_data = reader.has_data
                    continue
                self.protocol_error(_protocol_error_text(exc))
                break
            except TypeError:
                # hiredis builds a RESP3 map (%) as a dict: an array as its key raises
                # TypeError (unhashable) from gets(). A map is never a request element.
                self.protocol_error("Protocol error: expected '$', got '%'")
                break
            if request is False:
                self.resp_partial = pending
                break
            completed = True
            if type(request) is not list or not request:
                if request is None or request == []:
                    continue
                self.protocol_error("Protocol error: expected '*', got something else")
                break
            # Every element must be a bulk string: hiredis also accepts integers, nulls,
            # nested arrays ... which would reach handlers (and the keyspace) otherwise.
            # (A plain loop: all(map(isinstance, ...)) costs three times as much for 2-3 args.)
            bad = False
            for arg in request:
                if type(arg) is not bytes:
                    bad = True
                    break
            if bad:
                self._bad_request(request)
                break
            cmd = lookup_get(request[0])
            if (
                cmd is None
                or self.special
                or self.multi is not None
                or self.channels
                or self.patterns
                or server.gated
                or (server.cow_guard is not None and cmd.is_write)
            ):
                self.execute(request)
                continue
            arity = cmd.arity
            n = len(request)
            if (arity > 0 and n != arity) or n < -arity:
                self.execute(request)
                continue
            start = perf()
            try:
                result = cmd.handler(self, request)
            except CommandError as exc:
                cmd.failed_calls += 1
                result = exc
            except Exception as exc:  # a bug must not kill the connection or the server
                result = internal_error(cmd, request, exc)
            elapsed = (perf() - start) // 1000
            cmd.calls += 1
            cmd.usec += elapsed
            if elapsed >= server.slowlog_threshold_us >= 0:
                server.slowlog.record(self, request, elapsed)
            if server.monitors and SKIP_MONITOR not in cmd.flags:
                server.feed_monitors(self, request, cmd)
            self.last_cmd = cmd
            if server.ops:
                server.commit_ops(self)
            if server.fsync_always:
                self.wait_lsn = server.last_lsn
            if blocking.ready:  # the command fed keys that blocked clients wait on
                blocking.serve_ready()
            t = type(result)
            if t is bytes:
                n = len(result)
                out += _BULK_HEADERS[n] if n < 1024 else b"$%d\r\n" % n
                out += result
                out += b"\r\n"
            elif t is str and result == "OK":
                out += OK_BYTES
            elif result is None:
                out += b"_\r\n" if self.resp3 else b"$-1\r\n"
            elif t is CommandError:
                out += encode_error(result.message)
            elif result is not NO_REPLY:
                encode(out, result, self.resp3)
        if data is None:
            if self.held_in:  # resumed after blocking/output pressure: held input goes on
                input_guard.resume(self)
        elif (self.resp_partial or self.partial) and not self.closing:
            self._track_partial(data, completed)
        # Replies wait for the pass's flush point (after the log write), even when they
        # could leave now: writing them from here measured 10-25% slower under load.
        server.schedule_flush(self)

    def _switch_to_inline(self, data: bytes | None = None) -> bool:
        """RESP requests followed by an inline command in one packet (redis-benchmark -a does it).

        hiredis stops at the inline line's first byte; walk the chunk's complete
        RESP requests (already executed) to find where it starts, then carry on
        with a fresh reader.  False when it was a real protocol error.
        """
        chunk = self.fed_at_boundary
        if chunk is None and data is not None and self.partial and self.partial_from_boundary:
            # The chunk began inside a request whose first chunk began at a boundary.
            chunk = b"".join(self.partial) + data
        if chunk is None:
            return False
        offset = find_inline_start(chunk)
        if offset is None:
            return False
        self.reader = hiredis.Reader()
        self.resp_partial = False
        self.partial = []
        self.partial_size = 0
        self.fed_at_boundary = None
        rest = self._inline(chunk[offset:])
        if rest and not self.closing:
            if self.guarded or input_guard.has_candidate(rest):
                input_guard.hold(self, rest)
                if self.server.loop is not None:
                    self.server.loop.call_soon(self.resume)
                return True
            self.fed_at_boundary = rest
            self.reader.feed(rest)
            self.resp_partial = True
        return True

    def resume(self) -> None:
        """Continue with the requests that arrived while the client was blocked."""
        if self.blocked is not None or self.closing:
            return
        if self.inline_buf:
            rest = self._inline(self.inline_buf)
            if rest and not self.closing:
                if self.guarded or input_guard.has_candidate(rest):
                    input_guard.hold(self, rest)
                else:
                    self.fed_at_boundary = None if self.resp_partial else rest
                    self.reader.feed(rest)
                    self.resp_partial = True
        self.process_input()

    def _bad_request(self, request: list[Any]) -> None:
        bad = next((x for x in request if type(x) is not bytes), None)
        if bad is None:  # a null bulk ($-1) inside a request
            self.protocol_error("Protocol error: invalid bulk length")
            return
        kind = {int: ":", list: "*", float: ",", bool: "#", dict: "%"}.get(type(bad), "?")
        self.protocol_error(f"Protocol error: expected '$', got '{kind}'")

    def _track_partial(self, data: bytes, completed: bool) -> None:
        """Bound what an incomplete request may make us buffer (see framing.check_partial)."""
        if not self.resp_partial:
            if self.partial:
                self.partial = []
                self.partial_size = 0
            return
        if completed:
            # The incomplete request starts somewhere inside data: count it, never parse it.
            self.partial = [data]
            self.partial_size = len(data)
            self.next_scan = 0
            self.partial_aligned = False
            self.partial_from_boundary = self.fed_at_boundary is data
            return
        if not self.partial:
            self.partial_aligned = self.partial_from_boundary = True
        self.partial.append(data)
        self.partial_size += len(data)
        config = self.server.config
        if self.partial_size > config.client_query_buffer_limit:
            log.warning("closing client %s that reached max query buffer length", self.addr)
            self.close()
            return
        if self.partial_aligned and (self.partial_size <= 65536 or self.partial_size >= self.next_scan):
            self.next_scan = max(2 * self.partial_size, 131072)
            joined = b"".join(self.partial)
            self.partial = [joined]
            error = check_partial(joined, config.proto_max_bulk_len)
            if error:
                self.protocol_error(error)

    def _inline(self, buf: bytes) -> bytes:
        """Run inline lines at the head of ``buf``; return what remains for the RESP reader."""
        while buf and not self.closing:
            if self.blocked is not None:
                # Keep the rest for when the client is unblocked (see resume()).
                self.inline_buf = buf
                return b""
            if buf[0] == 42:
                self.inline_buf = b""
                return buf
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > _INLINE_MAX:
                    self.protocol_error("Protocol error: too big inline request")
                    return b""
                self.inline_buf = buf
                return b""
            line, buf = buf[:nl], buf[nl + 1:]
            if line.endswith(b"\r"):
                line = line[:-1]
            try:
                argv = split_args(line)
            except UnbalancedQuotes:
                self.protocol_error("Protocol error: unbalanced quotes in request")
                return b""
            if argv:
                self.execute(argv)
        self.inline_buf = b""
        return b""

    def protocol_error(self, message: str) -> None:
        """Reply with the error, then close once it has been flushed (as Redis does)."""
        self.out += encode_error("ERR " + message)
        self.server.stats.protocol_errors += 1
        log.debug("protocol error from %s: %s", self.addr, message)
        self.close_after_reply = True
        self.closing = True
        self.server.schedule_flush(self)

    # -- dispatch ------------------------------------------------------------------------
    def execute(self, argv: list[bytes]) -> None:
        """Run one request that :meth:`process_input` does not run itself (see dispatch.py)."""
        process_command(self, argv)

    def refresh(self) -> None:
        """Recompute ``special`` after AUTH, HELLO, RESET, CLIENT REPLY, TRACKING or an ACL change.

        A client whose user has any restriction takes the checked path, so the ACL
        check never runs for clients of an unrestricted user (the default one); a
        tracking client takes it too, which records its reads: the hot path never
        looks at tracking.
        """
        self.special = (not self.authenticated or self.user.restricted or self.reply_mode != "on"
                        or bool(self.shard_channels) or self.tracking is not None)
        self.guarded = not self.authenticated or bool(self.held_in)

    # -- output --------------------------------------------------------------------------
    def push(self, data: bytes) -> None:
        """Queue already-encoded bytes (pub/sub messages, unblocked replies) and flush soon."""
        if self.closing:
            return
        self.out += data
        self.server.schedule_flush(self)

    def flush(self, durable_lsn: int, hold: bool) -> None:
        """Hand pending replies to the socket, or hold them until their LSN is durable."""
        self.queued = False
        transport = self.transport
        if transport is None:
            return
        if self.out:
            data = bytes(self.out)
            self.out.clear()
            if len(data) > self.reply_peak:
                self.reply_peak = len(data)
            if hold and (self.held or self.wait_lsn > durable_lsn):
                self.held.append((self.wait_lsn, data))
                self.held_bytes += len(data)
                self.server.holding.add(self)
                if self.held_bytes > self.server.max_held_bytes:
                    self._update_reading()
            elif not transport.is_closing():
                transport.write(data)
                server = self.server
                server.stats.net_output_bytes += len(data)
                # Usually the kernel took it all (nothing buffered, no soft-limit clock).
                size = transport.get_write_buffer_size()
                if (size or server.soft_limited) and server.output_limit_exceeded(self, size):
                    # abort(), not close(): close() would keep the unsent buffer in memory
                    # until a peer that does not read drains it, i.e. forever.
                    self.closing = True
                    transport.abort()
                    return
        if self.close_after_reply and not self.held:
            self.close()
        elif self.input_pending and not self.write_paused:
            self._schedule_continue()

    def release(self, durable_lsn: int) -> bool:
        """Send held replies whose LSN is now durable; True when none are left."""
        held = self.held
        transport = self.transport
        chunks = []
        while held and held[0][0] <= durable_lsn:
            lsn, data = held.popleft()
            self.held_bytes -= len(data)
            chunks.append(data)
        if chunks and transport is not None and not transport.is_closing():
            data = b"".join(chunks)
            transport.write(data)
            self.server.stats.net_output_bytes += len(data)
        if self.read_paused:
            self._update_reading()
        if self.input_pending:
            self._schedule_continue()
        if not held and self.close_after_reply:
            self.close()
        return not held

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # -- helpers for commands ------------------------------------------------------------
    def select(self, index: int) -> None:
        self.db = self.server.keyspace.dbs[index]
