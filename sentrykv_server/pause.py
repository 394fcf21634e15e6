"""CLIENT PAUSE / UNPAUSE (Redis 7.0's pauseClients in networking.c).

While a pause is active, a client whose next command the pause covers is
*postponed*: it stays blocked (its later pipelined requests wait behind it)
until the pause ends, then the command runs through the normal dispatch as
if it had just arrived.  ``ALL`` covers every command; ``WRITE`` covers the
commands that may change the dataset or be propagated: the ``write`` and
``may_replicate`` ones (EVAL, EVALSHA, FCALL, PUBLISH, ...), and EXEC when its
queue holds one.  During any pause the dataset is frozen from the server's
side too: active expiry and eviction stop, and a key that expires is read as
missing but not deleted (its DEL is logged once the pause is over).

A pause only escalates (``WRITE`` -> ``ALL``, a later end time), as in Redis;
CLIENT UNPAUSE or the end time lifts it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.registry import MAY_REPLICATE, Command

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

OFF, WRITE, ALL = 0, 1, 2
# Commands Redis 7.0 flags CMD_MAY_REPLICATE (not shown by COMMAND INFO), by full name,
# besides those registered with the may_replicate flag.
MAY_REPLICATE_NAMES = frozenset({
    "eval", "evalsha", "fcall", "publish", "spublish", "pfcount",
    "function|delete", "function|flush", "function|load", "function|restore",
})


def may_replicate(cmd: Command, argv: list[bytes]) -> bool:
    if cmd.is_write or MAY_REPLICATE in cmd.flags or cmd.name in MAY_REPLICATE_NAMES:
        return True
    return len(argv) > 1 and f"{cmd.name}|{argv[1].decode('latin-1').lower()}" in MAY_REPLICATE_NAMES


class Postponed:
    """``Client.blocked`` while a client waits for the pause to end (no keys: see blocking.py)."""

    __slots__ = ("argv",)
    keys: tuple[bytes, ...] = ()

    def __init__(self, argv: list[bytes]) -> None:
        self.argv = argv


class ClientPause:
    """The server's pause state and the clients it postponed, in arrival order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.kind = OFF
        self.end = 0.0  # time.monotonic() when the pause ends
        self.waiting: deque[Client] = deque()
        self._timer: Any = None

    @property
    def active(self) -> bool:
        """Paused right now (lifting a pause whose end time passed, like Redis's check)."""
        if self.kind != OFF and time.monotonic() >= self.end:
            self.unpause()
        return self.kind != OFF

    def pause(self, timeout_ms: int, kind: int) -> None:
        end = time.monotonic() + timeout_ms / 1000.0
        if kind > self.kind:
            self.kind = kind
        if end > self.end:
            self.end = end
            self._arm()
        self._apply()

    def _arm(self) -> None:
        """A timer for the end of the pause (re-armed daily for very long pauses)."""
        loop = self.server.loop
        if loop is not None:
            if self._timer is not None:
                self._timer.cancel()
            delay = min(max(0.0, self.end - time.monotonic()), 86400.0)
            self._timer = loop.call_later(delay, self._expired)

    def unpause(self) -> None:
        """End the pause and run every postponed command, oldest first."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.kind = OFF
        self.end = 0.0
        self._apply()
        from sentrykv_server.dispatch import process_command

        waiting, self.waiting = self.waiting, deque()
        server = self.server
        for client in waiting:
            state = client.blocked
            if type(state) is not Postponed or client.closing:
                continue
            client.blocked = None
            process_command(client, state.argv)
            server.schedule_flush(client)
            if server.loop is not None:
                server.loop.call_soon(client.resume)

    def _expired(self) -> None:
        self._timer = None
        if self.kind == OFF:
            return
        if time.monotonic() >= self.end - 0.0005:
            self.unpause()
        else:
            self._arm()

    def _apply(self) -> None:
        """Tell the keyspace (expiry) and the dispatcher's gate."""
        self.server.keyspace.expiry_paused = self.kind != OFF
        self.server.refresh_gates()

    # -- dispatch --------------------------------------------------------------------------
    def covers(self, c: Client, cmd: Command, argv: list[bytes]) -> bool:
        """Whether the pause postpones this command (processCommand's check)."""
        if not self.active:
            return False
        if self.kind == ALL or may_replicate(cmd, argv):
            return True
        if cmd.name == "exec" and c.multi is not None:
            return any(may_replicate(q, qargv) for q, qargv in c.multi)
        return False

    def postpone(self, c: Client, argv: list[bytes]) -> None:
        c.blocked = Postponed(argv)
        self.waiting.append(c)

    def forget(self, c: Client) -> None:
        """The client disconnected."""
        if type(c.blocked) is Postponed:
            c.blocked = None
            try:
                self.waiting.remove(c)
            except ValueError:
                pass
