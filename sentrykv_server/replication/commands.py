"""Replication commands: REPLICAOF / SLAVEOF, REPLCONF, PSYNC, SYNC, ROLE, WAIT.

WAITAOF lives with the other persistence commands (commands/persistence_cmds.py)
and counts replicas' FACKs through ``Replication.count_acked``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, parse_int
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import NO_REPLY, Raw, to_bytes
from sentrykv_server.replication import master as master_side
from sentrykv_server.replication import replica as replica_side

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.replication.state import Replication

log = logging.getLogger("sentrykv.replication")


def set_master(repl: Replication, host: str, port: int) -> None:
    """Become a replica of host:port (Redis's replicationSetMaster)."""
    was_master = not repl.is_replica
    replica_side.disconnect(repl)
    repl.master_host, repl.master_port = host, port
    repl.config_replicaof()
    repl.server.keyspace.replica = True
    # Our replicas stay (Redis 7.0 too): they get the new master's stream through us, and
    # are dropped only when the replication ID changes (a full sync, a new ID on +CONTINUE).
    repl.flush_stream()
    if was_master and repl.backlog is None and repl.offset == 0:
        pass  # nothing to continue from: PSYNC ? -1
    elif was_master:
        # The data is our own history: ask the new master to continue it (psync2 after
        # a failover: a demoted master whose writes all reached the new one continues).
        repl.ensure_backlog()
    _unblock_all(repl)
    repl.down_since = time.time()
    repl.activate()
    replica_side.connect(repl)


def unset_master(repl: Replication) -> None:
    """Become a master (Redis's replicationUnsetMaster): the old history stays continuable."""
    if not repl.is_replica:
        return
    replica_side.disconnect(repl)
    repl.master_host, repl.master_port = None, 0
    repl.config_replicaof()
    repl.server.keyspace.replica = False
    repl.loading = False
    if repl.backlog is not None or repl.offset:
        repl.shift_replid()
    repl.drop_replicas()
    repl.encoder.seldb = -1
    repl.down_since = 0.0
    repl.backlog_idle_since = time.time()
    repl.activate()


@command("replicaof", 3, "admin noscript stale no_async_loading", group="server", since="5.0.0")
def replicaof_cmd(c: Client, argv: list[bytes]) -> Any:
    """Make the server a replica of another instance, or promote it to master (NO ONE)."""
    repl = c.server.repl
    if repl.failover is not None:
        raise CommandError("ERR REPLICAOF not allowed while failing over.")
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if repl.is_replica:
            unset_master(repl)
            log.info("MASTER MODE enabled (user request from 'id=%d addr=%s')", c.id, c.addr)
        return "OK"
    if c.replica_link is not None:
        raise CommandError("ERR Command is not valid when client is a replica.")
    try:
        port = int(argv[2])
    except ValueError:
        raise CommandError("ERR Invalid master port") from None
    if not 0 <= port <= 65535:
        raise CommandError("ERR Invalid master port")
    host = argv[1].decode("utf-8", "replace")
    if repl.is_replica and repl.master_host is not None and repl.master_host.lower() == host.lower() \
            and repl.master_port == port:
        log.info("REPLICAOF would result into synchronization with the master we are already connected with. "
                 "No operation performed.")
        return Raw(b"+OK Already connected to specified master\r\n")
    set_master(repl, host, port)
    log.info("REPLICAOF %s:%d enabled (user request from 'id=%d addr=%s')", host, port, c.id, c.addr)
    return "OK"


def _unblock_all(repl: Replication) -> None:
    """Clients blocked on keys are released with an error: the instance changes role."""
    blocking = repl.server.blocking
    for client in list(blocking.blocked):
        blocking._wake(client, CommandError(
            "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"))


@command("slaveof", 3, "admin noscript stale no_async_loading", group="server")
def slaveof_cmd(c: Client, argv: list[bytes]) -> Any:
    """Alias of REPLICAOF."""
    return replicaof_cmd(c, argv)


@command("replconf", -1, "admin noscript loading stale allow_busy", group="server", since="3.0.0")
def replconf_cmd(c: Client, argv: list[bytes]) -> Any:
    """Replication settings and acknowledgements between master and replica (internal)."""
    return master_side.replconf(c, argv)


@command("psync", -3, "admin noscript no_async_loading no_multi", group="server", since="2.8.0")
def psync_cmd(c: Client, argv: list[bytes]) -> Any:
    """Start (or continue) replication from this server (internal)."""
    return master_side.psync(c, argv, sync_command=False)


@command("sync", 1, "admin noscript no_async_loading no_multi", group="server")
def sync_cmd(c: Client, argv: list[bytes]) -> Any:
    """Full replication from this server, old protocol (internal)."""
    return master_side.psync(c, argv, sync_command=True)


@command("failover", -1, "admin noscript stale", group="server", since="6.2.0")
def failover_cmd(c: Client, argv: list[bytes]) -> Any:
    """Start a coordinated failover between this master and one of its replicas."""
    from sentrykv_server.replication.failover import failover_cmd as run

    return run(c, argv)


@command("role", 1, "noscript loading stale fast", group="server", since="2.8.12")
def role_cmd(c: Client, argv: list[bytes]) -> Any:
    """The role of this instance in replication."""
    repl = c.server.repl
    if not repl.is_replica:
        replicas = [[r.ip.encode(), b"%d" % r.listening_port, b"%d" % r.ack_off] for r in repl.replicas if r.online]
        return [b"master", repl.offset, replicas]
    link = repl.link
    return [b"slave", (repl.master_host or "").encode(), repl.master_port, link_state(repl).encode(),
            repl.offset if link is not None and link.state == replica_side.CONNECTED else -1]


def link_state(repl: Replication) -> str:
    """ROLE's state of the link: none, connect, connecting, handshake, sync, connected."""
    link = repl.link
    if link is None:
        return "connect"
    return {
        replica_side.CONNECTING: "connecting", replica_side.HANDSHAKE: "handshake",
        replica_side.TRANSFER: "sync", replica_side.LOADING: "sync", replica_side.CONNECTED: "connected",
    }[link.state]


# -- WAIT ------------------------------------------------------------------------------------
class ReplicationWait:
    """``client.blocked`` while WAIT waits for acknowledgements (no request is parsed meanwhile)."""

    __slots__ = ("task",)

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None


@command("wait", 3, "noscript", group="generic", since="3.0.0")
def wait_cmd(c: Client, argv: list[bytes]) -> Any:
    """Wait until this client's writes reached N replicas (or the timeout); the count."""
    from sentrykv_server.commands.persistence_cmds import _parse_timeout_ms, poll_then_reply

    repl = c.server.repl
    if repl.is_replica:
        raise CommandError(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
            "replica is configured to be writable (which is not the default) writes to replicas are just "
            "local and are not propagated."
        )
    numreplicas = parse_int(argv[1])
    timeout_ms = _parse_timeout_ms(argv[2])
    acked = repl.count_acked(c.woff)
    if acked >= numreplicas or c.in_exec or c.multi is not None or c.deny_blocking:
        return acked
    state = ReplicationWait()
    c.blocked = state
    repl.request_acks()
    deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
    state.task = asyncio.get_running_loop().create_task(
        poll_then_reply(c, state, _wait_poll(c, numreplicas, deadline)))
    return NO_REPLY


def _wait_poll(c: Client, numreplicas: int, deadline: float | None) -> Callable[[], bytes | None]:
    """WAIT's condition: the count once reached or timed out, else None."""
    repl = c.server.repl

    def poll() -> bytes | None:
        acked = repl.count_acked(c.woff)
        if acked >= numreplicas or (deadline is not None and time.monotonic() >= deadline):
            return to_bytes(acked, c.resp3)
        return None

    return poll
