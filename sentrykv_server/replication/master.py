"""The master's side of one replica (Redis's syncCommand / replconfCommand / replicas list).

A replica is an ordinary client connection until it sends PSYNC (or SYNC);
from then on the connection carries the replication stream to it, and what
it sends back are ``REPLCONF ACK <offset> [FACK <aof-offset>]`` (no reply).
The stream goes straight to the transport once per loop pass
(``Replication.flush_stream``): it never waits for this server's own fsync,
which is what lets ``WAITAOF 1 1`` cost one fsync on each machine in
parallel rather than in turn.  While a full sync's RDB is being sent, the
stream produced meanwhile is kept in :attr:`ReplicaLink.pending` and follows
the RDB; it counts against ``client-output-buffer-limit replica``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, parse_int

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.replication.state import Replication

log = logging.getLogger("sentrykv.replication")

WAIT_BGSAVE, SEND_BULK, ONLINE = "wait_bgsave", "send_bulk", "online"


class ReplicaLink:
    """``client.replica_link``: the state of one replica connection."""

    def __init__(self, repl: Replication, client: Client) -> None:
        self.repl = repl
        self.client = client
        self.state = WAIT_BGSAVE
        self.listening_port = client.repl_conf.get("listening-port", 0)
        self.announced_ip: str | None = client.repl_conf.get("ip-address")
        self.capa: set[str] = set(client.repl_conf.get("capa", ()))
        self.ack_off = 0
        self.fack_off = 0
        self.ack_time = time.time()
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.soft_since = 0.0
        self.sync: Any = None  # the full sync task (fullsync.FullSync)
        self.closed = False
        self.legacy = False  # SYNC (pre-PSYNC): it never acknowledges, so no ack timeout
        self.wait_first_ack = False  # RDB sent with an EOF mark: the stream waits for the first ACK

    @property
    def online(self) -> bool:
        return self.state == ONLINE

    @property
    def ip(self) -> str:
        if self.announced_ip:
            return self.announced_ip
        return self.client.addr.rsplit(":", 1)[0]

    @property
    def name(self) -> str:
        return f"{self.ip}:{self.listening_port}"

    def send(self, data: bytes) -> None:
        """Stream bytes: to the socket when online, kept behind the RDB otherwise."""
        if self.closed:
            return
        if self.state != ONLINE:
            self.pending.append(data)
            self.pending_bytes += len(data)
            if self._over_limit(self.pending_bytes):
                self.close()
            return
        transport = self.client.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self.repl.net_output += len(data)
        self.repl.server.stats.net_output_bytes += len(data)
        size = transport.get_write_buffer_size()
        if size and self._over_limit(size):
            self.close()

    def go_online(self) -> None:
        """The RDB is sent: the stream produced meanwhile follows it."""
        self.state = ONLINE
        self.ack_time = time.time()
        pending, self.pending = self.pending, []
        self.pending_bytes = 0
        if pending:
            self.send(b"".join(pending))
        self.repl.refresh_gates()
        log.info("Synchronization with replica %s succeeded", self.name)

    def _over_limit(self, size: int) -> bool:
        limit = self.repl.server.output_limits.get("slave")
        if limit is None:
            return False
        if limit.hard and size > limit.hard:
            log.warning("Client %s (replica) scheduled to be closed ASAP for overcoming of output buffer limits.",
                        self.client.addr)
            return True
        if limit.soft and size > limit.soft:
            now = time.monotonic()
            if not self.soft_since:
                self.soft_since = now
            elif now - self.soft_since >= limit.soft_seconds:
                log.warning("Client %s (replica) closed for overcoming of output buffer soft limit.", self.client.addr)
                return True
        else:
            self.soft_since = 0.0
        return False

    def ack(self, offset: int, fack: int | None) -> None:
        if self.wait_first_ack:
            self.wait_first_ack = False
            self.go_online()
        if offset > self.ack_off:
            self.ack_off = offset
        if fack is not None and fack > self.fack_off:
            self.fack_off = fack
        self.ack_time = time.time()

    def cron(self, now: float, timeout: int) -> None:
        if (self.online or self.wait_first_ack) and timeout and now - self.ack_time > timeout and not self.legacy:
            log.warning("Disconnecting timedout replica (streaming sync): %s", self.name)
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.sync is not None:
                self.sync.cancel()
            self.client.close()
            self.repl.remove_replica(self)

    def lag(self, now: float) -> int:
        return int(now - self.ack_time)


def replica_gone(repl: Replication, client: Client) -> None:
    """``Server.client_disconnected`` for a replica connection."""
    link = client.replica_link
    if link is not None:
        link.closed = True
        if link.sync is not None:
            link.sync.cancel()
        repl.remove_replica(link)


# -- REPLCONF ----------------------------------------------------------------------------
def replconf(c: Client, argv: list[bytes]) -> Any:
    """REPLCONF <option> <value> ...: the handshake's settings, then ACK / GETACK."""
    from sentrykv_server.protocol.reply import NO_REPLY

    if len(argv) % 2 == 0:
        raise CommandError("ERR syntax error")
    repl = c.server.repl
    for i in range(1, len(argv), 2):
        opt = argv[i].lower()
        value = argv[i + 1]
        if opt == b"listening-port":
            c.repl_conf["listening-port"] = parse_int(value)
        elif opt == b"ip-address":
            if len(value) > 46:  # NET_HOST_STR_LEN
                raise CommandError("ERR REPLCONF ip-address provided by replica instance is too long: "
                                   f"{len(value)} bytes")
            c.repl_conf["ip-address"] = value.decode("utf-8", "replace")
        elif opt == b"capa":
            c.repl_conf.setdefault("capa", set()).add(value.lower().decode("utf-8", "replace"))
        elif opt == b"ack":
            link = c.replica_link
            if link is None:
                return NO_REPLY
            offset = _ll(value)
            fack = None
            if i + 3 < len(argv) and argv[i + 2].lower() == b"fack":
                fack = _ll(argv[i + 3])
            if offset is not None:
                link.ack(offset, fack)
            return NO_REPLY
        elif opt == b"getack":
            if repl.is_replica and repl.link is not None:
                repl.link.send_ack(force=True)
            return NO_REPLY
        elif opt == b"rdb-only":
            flag = parse_int(value)
            if flag not in (0, 1):
                raise CommandError("ERR syntax error")
            c.repl_conf["rdb-only"] = flag
        elif opt == b"rdb-filter-only":
            c.repl_conf["rdb-filter-only"] = value
        else:
            raise CommandError(f"ERR Unrecognized REPLCONF option: {argv[i].decode('utf-8', 'replace')}")
    return "OK"


def _ll(raw: bytes) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


# -- PSYNC / SYNC --------------------------------------------------------------------------
def psync(c: Client, argv: list[bytes], sync_command: bool) -> Any:
    """PSYNC replid offset (or SYNC): +CONTINUE from the backlog, else +FULLRESYNC and an RDB."""
    from sentrykv_server.protocol.reply import NO_REPLY

    repl = c.server.repl
    if c.replica_link is not None:
        return NO_REPLY  # already a replica: Redis ignores it
    if not sync_command and len(argv) > 3 and argv[3].lower() == b"failover":
        # FAILOVER's hand-over: our master asks us to take its place (failover.py).
        if argv[1].decode("utf-8", "replace") != repl.replid:
            raise CommandError("ERR PSYNC FAILOVER replid must match my replid.")
        from sentrykv_server.replication.commands import unset_master

        unset_master(repl)
        log.info("MASTER MODE enabled (failover request from 'id=%d addr=%s')", c.id, c.addr)
    if repl.failover is not None:
        raise CommandError("NOMASTERLINK Can't SYNC while failing over")
    if repl.is_replica and not repl.link_up():
        raise CommandError("NOMASTERLINK Can't SYNC while not connected with my master")
    if c.held or c.multi is not None:
        raise CommandError("ERR SYNC and PSYNC are invalid with pending output")
    transport = c.transport
    if transport is None:
        return NO_REPLY
    # Replies to the handshake's commands are still in c.out: they go first.
    head = bytes(c.out)
    c.out.clear()
    repl.flush_stream()  # everything produced so far is in the backlog, offsets exact
    link = ReplicaLink(repl, c)
    c.replica_link = link
    link.legacy = sync_command
    if not sync_command:
        replid = argv[1].decode("utf-8", "replace")
        offset = _ll(argv[2])
        if offset is not None and _can_continue(repl, replid, offset):
            backlog = repl.backlog
            assert backlog is not None
            data = b"".join(backlog.read_from(offset))
            psync2 = "psync2" in link.capa
            line = b"+CONTINUE %s\r\n" % repl.replid.encode() if psync2 else b"+CONTINUE\r\n"
            transport.write(head + line)
            repl.sync_partial_ok += 1
            repl.add_replica(link)
            link.state = "online"
            link.ack_time = time.time()
            if data:
                link.send(data)
            log.info("Partial resynchronization request from %s accepted. Sending %d bytes of backlog "
                     "starting from offset %d.", link.name, len(data), offset)
            return NO_REPLY
        if replid != "?":
            repl.sync_partial_err += 1
            log.info("Partial resynchronization not accepted: replica %s asked for %s:%s "
                     "(my replication IDs %s/%s, offsets %d/%d)", link.name, replid,
                     argv[2].decode("utf-8", "replace"), repl.replid, repl.replid2, repl.offset, repl.second_offset)
        else:
            log.info("Full resync requested by replica %s", link.name)
    repl.ensure_backlog(new_history=not repl.replicas)
    repl.sync_full += 1
    repl.add_replica(link)
    link.state = "send_bulk"
    repl.encoder.seldb = -1  # the stream after the RDB starts with a SELECT
    if not sync_command:
        transport.write(head + b"+FULLRESYNC %s %d\r\n" % (repl.replid.encode(), repl.offset))
    elif head:
        transport.write(head)
    from sentrykv_server.replication.fullsync import FullSync

    link.sync = FullSync(link, eof_mark="eof" in link.capa and not sync_command)
    link.sync.start()
    return NO_REPLY


def _can_continue(repl: Replication, replid: str, offset: int) -> bool:
    if replid != repl.replid and (replid != repl.replid2 or offset > repl.second_offset):
        return False
    backlog = repl.backlog
    return backlog is not None and backlog.can_serve(offset)
