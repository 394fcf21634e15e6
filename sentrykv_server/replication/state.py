"""The server's replication state (``server.repl``): role, IDs, offsets, stream, gates.

Offsets are Redis's: ``offset`` (master_repl_offset) counts every byte of
the replication stream this server has produced (as a master) or applied
(as a replica, the master's bytes, proxied unchanged to its own replicas and
backlog, so that offsets agree along a chain and after a promotion).

The master's stream is fed from ``Server.commit_ops``: every committed unit
(a command, an EXEC, a script; a cron pass of expirations) goes through
``server.repl_feed`` while a backlog exists.  The bytes of one loop pass are
joined once, in the pass's flush point (after the WAL write), into the
backlog and to every online replica (:meth:`flush_stream`).

The gates of ``dispatch.check_command`` that replication adds (READONLY,
NOREPLICAS, MASTERDOWN, LOADING during a full sync's load) are active only
while one of them may apply (``gated``), so a plain master pays nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.registry import MAY_REPLICATE
from sentrykv_server.replication.backlog import Backlog
from sentrykv_server.replication.marker import Marker, parse_mark
from sentrykv_server.replication.stream import GETACK, PING, StreamEncoder

if TYPE_CHECKING:
    from sentrykv_server.commands.registry import Command
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.replication.failover import Failover
    from sentrykv_server.replication.master import ReplicaLink
    from sentrykv_server.replication.replica import MasterLink
    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv.replication")

NO_REPLID = "0" * 40
READONLY = "READONLY You can't write against a read only replica."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
LOADING = "LOADING Redis is loading the dataset in memory"


def new_replid() -> str:
    return os.urandom(20).hex()


class Replication:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.replid = new_replid()
        self.replid2 = NO_REPLID
        self.offset = 0
        self.second_offset = -1
        self.backlog: Backlog | None = None
        self.backlog_idle_since = time.time()
        self.encoder = StreamEncoder()
        self.pending: list[bytes] = []  # stream bytes of this pass, not yet sent
        self.replicas: list[ReplicaLink] = []
        self.get_ack = False
        self.last_ping = 0.0
        self.marker = Marker(self)
        # Replica side.
        self.master_host: str | None = None
        self.master_port = 0
        self.link: MasterLink | None = None
        self.down_since = 0.0  # when the link to the master went down (0: never up)
        self.loading = False  # a full sync's data is being loaded
        self.connect_handle: Any = None
        self.connect_task: Any = None
        self.load_task: Any = None
        # psync2: (replid, offset) of the stream the data reflects, from the WAL markers.
        self.restored: tuple[str, int, str, int] | None = None
        self.failover: Failover | None = None
        self.gated = False
        self.good_replicas = 0
        self.sync_full = self.sync_partial_ok = self.sync_partial_err = 0
        self.net_input = self.net_output = 0
        self._install_config_hooks()

    # -- roles ------------------------------------------------------------------------------
    @property
    def is_replica(self) -> bool:
        return self.master_host is not None

    def drop_link(self) -> None:
        """CLIENT KILL of the master client: close the link; it is retried a second later."""
        if self.link is not None:
            self.link.close()

    def link_up(self) -> bool:
        return self.link is not None and self.link.state == "connected"

    def activate(self) -> None:
        """Point the server's hooks at this state: feeding (master), markers (offsets kept)."""
        server = self.server
        server.repl_mark = self.marker if self.backlog is not None else None
        server.repl_feed = self.feed if self.backlog is not None and not self.is_replica else None
        self.refresh_gates()

    def ensure_backlog(self, new_history: bool = False) -> None:
        """Create the backlog (the first replica, a sync as replica, a restart with a position)."""
        if self.backlog is None:
            if new_history and not self.is_replica:
                # Bytes produced without a backlog were never kept: a replica that knew the
                # old ID must not continue into a gap (Redis's changeReplicationId too).
                self.replid = new_replid()
                self.replid2, self.second_offset = NO_REPLID, -1
            self.backlog = Backlog(self.server.config.value("repl-backlog-size"), self.offset)
            self.marker.due = True
            self.activate()

    def shift_replid(self) -> None:
        """A promotion: the old history stays continuable under replid2 (psync2)."""
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.replid = new_replid()
        self.marker.due = True
        log.info("Setting secondary replication ID to %s, valid up to offset: %d. New replication ID is %s",
                 self.replid2, self.second_offset, self.replid)

    # -- the stream (master) ---------------------------------------------------------------
    def feed(self, ops: Sequence[tuple[int, Sequence[bytes]]], client: Client | None) -> None:
        """``server.repl_feed``: one committed unit into the stream."""
        chunks = self.encoder.unit(ops, client is not None)
        self.pending += chunks
        self.offset += sum(map(len, chunks))
        if client is not None:
            client.woff = self.offset

    def proxy(self, data: bytes) -> None:
        """Replica: the master's bytes, applied; they go on unchanged (backlog, sub-replicas)."""
        self.pending.append(data)
        self.offset += len(data)

    def feed_raw(self, data: bytes) -> None:
        """PING / REPLCONF GETACK into the stream (they count in the offset, as in Redis)."""
        self.pending.append(data)
        self.offset += len(data)
        self.marker.due = True
        self.server.schedule_pass()

    def flush_stream(self) -> None:
        """The pass's flush point: the pass's bytes to the backlog and every online replica."""
        if self.get_ack and not self.is_replica:
            self.get_ack = False
            if self.replicas:
                # No WAL marker for it (one per WAITAOF would double the fsyncs): after a
                # restart a replica that got it is ahead, and gets a full sync.
                self.pending.append(GETACK)
                self.offset += len(GETACK)
        if not self.pending:
            return
        data = b"".join(self.pending) if len(self.pending) > 1 else self.pending[0]
        self.pending = []
        if self.backlog is not None:
            self.backlog.append(data)
        for link in self.replicas:
            link.send(data)

    # -- replicas (master side) ------------------------------------------------------------
    def add_replica(self, link: ReplicaLink) -> None:
        self.replicas.append(link)
        self.refresh_gates()

    def remove_replica(self, link: ReplicaLink) -> None:
        if link in self.replicas:
            self.replicas.remove(link)
            if not self.replicas:
                self.backlog_idle_since = time.time()
            log.info("Connection with replica %s lost.", link.name)
        self.refresh_gates()

    def drop_replicas(self) -> None:
        """Disconnect every replica (a role or ID change: they reconnect and PSYNC)."""
        for link in list(self.replicas):
            link.close()

    def count_acked(self, offset: int, fsynced: bool = False) -> int:
        """Replicas that acknowledged the stream up to ``offset`` (applied, or fsynced)."""
        if fsynced:
            return sum(1 for r in self.replicas if r.online and r.fack_off >= offset)
        return sum(1 for r in self.replicas if r.online and r.ack_off >= offset)

    def request_acks(self) -> None:
        """WAIT / WAITAOF: ask every replica for its offsets in this pass's flush."""
        if not self.get_ack:
            self.get_ack = True
            self.server.schedule_pass()

    # -- gates (dispatch.check_command) ----------------------------------------------------
    def refresh_gates(self) -> None:
        cfg = self.server.config
        gated = False
        if self.is_replica:
            gated = bool(cfg.value("replica-read-only")) or self.loading or (
                not cfg.value("replica-serve-stale-data") and not self.link_up())
        else:
            self._count_good()
            gated = self._min_replicas_unmet()
        if self.failover is not None:
            gated = True
        if gated != self.gated:
            self.gated = gated
            self.server.refresh_gates()

    def _count_good(self) -> None:
        max_lag = self.server.config.value("min-replicas-max-lag")
        now = time.time()
        self.good_replicas = sum(1 for r in self.replicas if r.online and now - r.ack_time <= max_lag)

    def _min_replicas_unmet(self) -> bool:
        cfg = self.server.config
        need = cfg.value("min-replicas-to-write")
        return bool(need and cfg.value("min-replicas-max-lag") and self.good_replicas < need)

    def check_write(self, c: Client, cmd: Command, is_write: bool, paused_ok: bool = True) -> str | None:
        """NOREPLICAS, READONLY (Redis's order, after MISCONF); PAUSED while a FAILOVER
        holds writes (and may-replicate commands: EVAL, FCALL, PUBLISH), as CLIENT PAUSE WRITE."""
        if is_write:
            if not self.is_replica and self._min_replicas_unmet():
                return NOREPLICAS
            if self.is_replica:
                if self.server.config.value("replica-read-only"):
                    return READONLY
                if self.loading:
                    return LOADING
        if paused_ok and self.failover is not None and (is_write or MAY_REPLICATE in cmd.flags):
            from sentrykv_server.replication.failover import PAUSED

            return PAUSED
        return None

    def check_stale(self, c: Client, flags: frozenset[str]) -> str | None:
        """MASTERDOWN: the link is down and stale data must not be served (``flags``: those
        of what runs, a script's as it declares them)."""
        if (self.is_replica and not self.link_up() and not self.server.config.value("replica-serve-stale-data")
                and "stale" not in flags):
            return MASTERDOWN
        return None

    # -- persistence of the position --------------------------------------------------------
    def restore_mark(self, argv: list[bytes]) -> None:
        """Recovery met a marker op: the data reflects the stream up to there."""
        mark = parse_mark(argv)
        if mark is not None:
            self.restored = mark

    def after_recovery(self) -> None:
        """Start-up: resume the position the WAL recorded (Redis does it from the RDB aux).

        As a replica (``replicaof`` configured) the position is the cached master: the
        first PSYNC asks for the rest of that stream.  As a master, a new history
        begins whose replid2 is the old one, so replicas continue with a PSYNC.
        """
        mark = self.restored
        if mark is None:
            return
        replid, offset, replid2, second = mark
        self.offset = offset
        if self.is_replica:
            self.replid, self.replid2, self.second_offset = replid, replid2, second
        else:
            self.replid2, self.second_offset = replid, offset + 1
        self.backlog = Backlog(self.server.config.value("repl-backlog-size"), offset)
        self.marker.due = True
        log.info("Replication position restored from the WAL: %s:%d%s", replid, offset,
                 " (cached master for PSYNC)" if self.is_replica else "; replicas may continue")
        self.activate()

    # -- lifecycle ----------------------------------------------------------------------------
    def configure_from_config(self) -> None:
        """``replicaof host port`` in the config file or command line: start as a replica."""
        value = str(self.server.config.value("replicaof") or "").split()
        if len(value) == 2 and value[1].isdigit():
            self.master_host, self.master_port = value[0], int(value[1])
            self.server.keyspace.replica = True
            self.down_since = time.time()
        self.refresh_gates()

    def start(self) -> None:
        """The server is listening: connect to the master, if any."""
        if self.is_replica:
            from sentrykv_server.replication.replica import connect

            connect(self)

    async def before_shutdown(self, wait: bool = True) -> None:
        """Give online replicas up to ``shutdown-timeout`` seconds to acknowledge everything.

        Redis 7.0 does this for SHUTDOWN (without NOW) and SIGTERM, so that a planned
        restart of a master loses no write that reached it; then the links are closed.
        ``wait=False`` (SHUTDOWN NOW) only closes them.
        """
        import asyncio

        from sentrykv_server.replication.replica import disconnect

        timeout = float(self.server.config.value("shutdown-timeout") or 0)
        self.flush_stream()
        self.marker.due = True  # the final frame records the exact final offset
        if wait and not self.is_replica and timeout > 0 and any(r.online for r in self.replicas):
            deadline = time.monotonic() + timeout
            self.request_acks()
            self.flush_stream()
            while time.monotonic() < deadline:
                lagging = [r for r in self.replicas if r.online and r.ack_off < self.offset]
                if not lagging:
                    break
                await asyncio.sleep(0.01)
            else:
                log.warning("Some replicas did not acknowledge the whole stream within %.0fs", timeout)
        disconnect(self)
        for link in list(self.replicas):
            if link.sync is not None:
                link.sync.cancel()

    # -- periodic work (replicationCron, once a second) -------------------------------------
    def cron(self) -> None:
        now = time.time()
        cfg = self.server.config
        if self.is_replica:
            from sentrykv_server.replication.replica import replica_cron

            replica_cron(self, now)
        else:
            period = cfg.value("repl-ping-replica-period")
            if self.replicas and period and now - self.last_ping >= period:
                self.last_ping = now
                self.feed_raw(PING)
        timeout = cfg.value("repl-timeout")
        for link in list(self.replicas):
            link.cron(now, timeout)
        ttl = cfg.value("repl-backlog-ttl")
        if (self.backlog is not None and not self.is_replica and not self.replicas and ttl
                and now - self.backlog_idle_since > ttl):
            log.info("Replication backlog freed after %d seconds without connected replicas.", ttl)
            self.backlog = None
            self.replid = new_replid()
            self.replid2, self.second_offset = NO_REPLID, -1
            self.activate()
        self.refresh_gates()

    # -- configuration ----------------------------------------------------------------------
    def _install_config_hooks(self) -> None:
        cfg = self.server.config

        def backlog_size(v: int) -> None:
            if self.backlog is not None:
                self.backlog.resize(v)

        cfg.on_change("repl-backlog-size", backlog_size)
        for name in ("replica-read-only", "replica-serve-stale-data", "min-replicas-to-write",
                     "min-replicas-max-lag"):
            cfg.on_change(name, lambda _v: self.refresh_gates())

    def config_replicaof(self) -> None:
        """Keep ``replicaof`` in the config (CONFIG GET / REWRITE) in step with the role."""
        value = f"{self.master_host} {self.master_port}" if self.master_host is not None else ""
        self.server.config._values["replicaof"] = value

    def announced_port(self) -> int:
        return int(self.server.config.value("replica-announce-port")) or self.server.port
