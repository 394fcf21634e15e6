"""FAILOVER: a coordinated switch of roles with a replica (Redis 6.2+'s failover.c part).

``FAILOVER [TO host port [FORCE]] [TIMEOUT ms]`` / ``FAILOVER ABORT``:

1. *waiting-for-sync*: writes are paused (a client sending one waits, as
   under ``CLIENT PAUSE WRITE``; it runs once the failover ends), and the
   master asks its replicas for acknowledgements until the target (or, with
   no TO, any replica) has acknowledged the whole stream;
2. *failover-in-progress*: the master becomes a replica of the target and
   sends it ``PSYNC <replid> <offset> FAILOVER``; the target, seeing its own
   replication ID, promotes itself and answers ``+CONTINUE`` with its new ID;
3. done: the paused writes run (and get -READONLY: this is a replica now).

A TIMEOUT that passes while waiting aborts, unless FORCE (with TO) goes
ahead anyway; a refused PSYNC or a timeout in step 2 makes the server a
master again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.replication.master import ReplicaLink
    from sentrykv_server.replication.state import Replication

log = logging.getLogger("sentrykv.replication")

WAITING, IN_PROGRESS = "waiting-for-sync", "failover-in-progress"
PAUSED = "\x00paused"  # check_command's answer for a write that waits for the failover
POLL_S = 0.01


class Postponed:
    """``client.blocked`` while its write waits for the failover to end."""

    __slots__ = ("argv",)

    def __init__(self, argv: list[bytes]) -> None:
        self.argv = argv


class Failover:
    def __init__(self, repl: Replication, host: str | None, port: int, timeout_ms: int, force: bool) -> None:
        self.repl = repl
        self.host, self.port = host, port
        self.force = force
        self.deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
        self.state = WAITING
        self.postponed: list[Client] = []
        self.task: asyncio.Task[None] | None = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}" if self.host is not None else "any replica"

    # -- pausing writes ------------------------------------------------------------------------
    def postpone(self, c: Client, argv: list[bytes]) -> None:
        c.blocked = Postponed(argv)
        self.postponed.append(c)

    def _unpause(self) -> None:
        loop = self.repl.server.loop
        for c in self.postponed:
            state = c.blocked
            if not isinstance(state, Postponed) or c.closing:
                continue
            c.blocked = None
            c.execute(state.argv)
            c.server.schedule_flush(c)
            if loop is not None:
                loop.call_soon(c.resume)
        self.postponed = []

    # -- the state machine ---------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="failover")

    async def _run(self) -> None:
        repl = self.repl
        try:
            while self.state == WAITING:
                chosen = self._caught_up()
                if chosen is not None:
                    self._switch(chosen.ip, chosen.listening_port)
                    break
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    if self.force and self.host is not None:
                        log.info("FAILOVER to %s: the timeout passed, forcing the failover", self.target)
                        self._switch(self.host, self.port)
                        break
                    self.abort("Replica never caught up before timeout")
                    return
                repl.request_acks()
                await asyncio.sleep(POLL_S * 10)
            while self.state == IN_PROGRESS:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    self.abort("Failover target never accepted the PSYNC before timeout")
                    return
                await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            if self.state in (WAITING, IN_PROGRESS):  # the server is stopping
                self.abort("the server is shutting down")
            raise

    def _caught_up(self) -> ReplicaLink | None:
        repl = self.repl
        for link in repl.replicas:
            if not link.online or link.ack_off != repl.offset:
                continue
            if self.host is None or (link.ip == self.host and link.listening_port == self.port):
                return link
        return None

    def _switch(self, host: str, port: int) -> None:
        from sentrykv_server.replication.commands import set_master

        log.info("Failover target %s:%d is synced, failing over.", host, port)
        self.state = IN_PROGRESS
        self.host, self.port = host, port
        set_master(self.repl, host, port)

    def psync_answered(self, accepted: bool) -> None:
        """The target answered our PSYNC ... FAILOVER."""
        if self.state != IN_PROGRESS:
            return
        if accepted:
            log.info("Failover target %s:%d accepted the PSYNC; failover complete.", self.host, self.port)
            self._clear()
        else:
            self.abort("Failover target rejected psync request")

    def abort(self, reason: str) -> None:
        from sentrykv_server.replication.commands import unset_master

        log.info("FAILOVER to %s aborted: %s", self.target, reason)
        if self.state == IN_PROGRESS:
            self.state = WAITING  # so that unset_master's role change is not a failover step
            unset_master(self.repl)
        self._clear()

    def _clear(self) -> None:
        repl = self.repl
        if repl.failover is self:
            repl.failover = None
        self.state = "done"
        if self.task is not None and not self.task.done() and self.task is not asyncio.current_task():
            self.task.cancel()
        repl.refresh_gates()
        self._unpause()



def failover_cmd(c: Client, argv: list[bytes]) -> Any:
    """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (see the module doc)."""
    repl = c.server.repl
    if len(argv) == 2 and argv[1].lower() == b"abort":
        if repl.failover is None:
            raise CommandError("ERR No failover in progress.")
        repl.failover.abort("Failover manually aborted")
        return "OK"
    timeout = 0
    force = False
    host: str | None = None
    port = 0
    i = 1
    while i < len(argv):
        word = argv[i].lower()
        if word == b"timeout" and i + 1 < len(argv) and timeout == 0:
            timeout = parse_int(argv[i + 1])
            if timeout <= 0:
                raise CommandError("ERR FAILOVER timeout must be greater than 0")
            i += 2
        elif word == b"to" and i + 2 < len(argv) and host is None:
            port = parse_int(argv[i + 2])
            host = argv[i + 1].decode("utf-8", "replace")
            i += 3
        elif word == b"force" and not force:
            force = True
            i += 1
        else:
            raise syntax_error()
    if repl.failover is not None:
        raise CommandError("ERR FAILOVER already in progress.")
    if repl.is_replica:
        raise CommandError("ERR FAILOVER is not valid when server is a replica.")
    if not repl.replicas:
        raise CommandError("ERR FAILOVER requires connected replicas.")
    if force and (not timeout or host is None):
        raise CommandError("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
    if host is not None:
        link = next((r for r in repl.replicas if r.ip == host and r.listening_port == port), None)
        if link is None:
            raise CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
        if not link.online:
            raise CommandError("ERR FAILOVER target replica is not online.")
        log.info("FAILOVER requested to %s:%d.", host, port)
    else:
        log.info("FAILOVER requested to any replica.")
    failover = Failover(repl, host, port, timeout, force)
    repl.failover = failover
    repl.refresh_gates()
    failover.start()
    return "OK"
