"""Clients blocked on keys (Redis's blocked.c): BLPOP and friends.

A blocking command that finds nothing to take calls :meth:`BlockingRegistry.block`
with a *serve* function and answers ``NO_REPLY``.  From then on:

* A push onto one of its keys calls ``keyspace.signal_ready`` ->
  :meth:`key_ready`, which only records the key.  The dispatcher calls
  :meth:`serve_ready` after the pushing command (or the whole EXEC) has
  returned and its log frame was committed, so the served pop is logged as its
  own frame *after* the push, and a transaction is never observed half-done.
* Waiters of a key are served first-come-first-served; each serve function
  performs the non-blocking equivalent (LPOP, LMOVE, ZPOPMIN...), propagates
  it, and returns the reply, which is queued on the waiting client.  The
  client's pipeline resumes on the next loop iteration (``Client.resume``).
* Timeouts are kept in a heap; the server cron calls :meth:`check_timeouts`
  and a ``loop.call_later`` armed for the nearest deadline makes them precise
  to about a millisecond rather than 1/hz.
* CLIENT UNBLOCK answers the timeout reply or an UNBLOCKED error; a client
  that disconnects is forgotten.

A key holding a different type than the waiter wants is skipped, leaving the
client blocked, as Redis 7.0 does -- except for a waiter that passed a *gone*
reply (XREADGROUP): when its key is deleted, overwritten with another type or
flushed it is woken with that error (Redis 7.0's "UNBLOCKED the stream key no
longer exists").  Those waiters are noticed through the WATCH machinery: a
:class:`_GoneWatch` sits in ``keyspace.watchers`` for each of their keys, so
deletions cost nothing extra on the write path when nobody waits that way.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError
from sentrykv_server.protocol.reply import NULL_ARRAY, encode_error, to_bytes

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database

# serve(client, db, key) -> reply, or None when the key cannot serve this client (yet).
ServeFn = Callable[["Client", "Database", bytes], Any]

UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"


class BlockState:
    """What a blocked client waits for."""

    __slots__ = ("db", "keys", "kind", "deadline", "serve", "gone", "guards")

    def __init__(self, db: Database, keys: list[bytes], kind: type, deadline: int, serve: ServeFn,
                 gone: CommandError | None = None) -> None:
        self.db = db
        self.keys = keys
        self.kind = kind  # the value class that can serve it (QuickList, ZSet, Stream)
        self.deadline = deadline  # absolute ms, 0 = never
        self.serve = serve
        self.gone = gone  # the reply when a key is deleted or retyped (None: keep waiting)
        self.guards: list[_GoneWatch] = []


class _GoneWatch:
    """Stands in ``keyspace.watchers`` like a WATCHing client: a change of the key marks it
    ready, so that the waiter sees a deletion or type change (see the module doc)."""

    __slots__ = ("registry", "db", "key")

    def __init__(self, registry: BlockingRegistry, db: Database, key: bytes) -> None:
        self.registry = registry
        self.db = db
        self.key = key

    @property
    def watch_dirty(self) -> bool:
        return False

    @watch_dirty.setter
    def watch_dirty(self, value: bool) -> None:
        self.registry.key_ready(self.db, self.key)


class BlockingRegistry:
    def __init__(self, server: Server) -> None:
        self.server = server
        # (db index, key) -> waiting clients in arrival order (dict used as an ordered set).
        self.waiting: dict[tuple[int, bytes], dict[Client, None]] = {}
        self.blocked: set[Client] = set()
        # Keys that received data while somebody waits on them; served by serve_ready().
        self.ready: list[tuple[Database, bytes]] = []
        self._ready_set: set[tuple[int, bytes]] = set()
        self._timeouts: list[tuple[int, int, Client, BlockState]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0
        self._serving = False

    def count(self) -> int:
        return len(self.blocked)

    # -- blocking ----------------------------------------------------------------------------
    def block(self, client: Client, db: Database, keys: list[bytes], kind: type,
              deadline: int, serve: ServeFn, gone: CommandError | None = None) -> None:
        """Park ``client`` until one of ``keys`` (in ``db``) can serve it or ``deadline`` (ms) passes.

        With ``gone``, the client is woken with that error when a key it waits on
        is deleted or stops holding a ``kind``.
        """
        unique = list(dict.fromkeys(keys))
        state = BlockState(db, unique, kind, deadline, serve, gone)
        if gone is not None:
            watchers = db.keyspace.watchers
            for key in unique:
                guard = _GoneWatch(self, db, key)
                state.guards.append(guard)
                watchers.setdefault((db.id, key), set()).add(guard)
            db.keyspace.refresh_observed()
        client.blocked = state
        self.blocked.add(client)
        for key in unique:
            entry = (db.id, key)
            waiters = self.waiting.get(entry)
            if waiters is None:
                waiters = self.waiting[entry] = {}
            waiters[client] = None
        if deadline:
            heappush(self._timeouts, (deadline, next(self._seq), client, state))
            self._arm(deadline)

    def key_ready(self, db: Database, key: bytes) -> None:
        """A key that clients may be waiting on received data (keyspace.signal_ready)."""
        entry = (db.id, key)
        if entry in self.waiting and entry not in self._ready_set:
            self._ready_set.add(entry)
            self.ready.append((db, key))

    def serve_ready(self) -> None:
        """Serve the clients waiting on keys that became ready (called by the dispatcher).

        Serving can make more keys ready (BLMOVE pushes to its destination):
        loop until none are left.  Re-entrant calls are no-ops.
        """
        if self._serving:
            return
        self._serving = True
        try:
            while self.ready:
                batch = self.ready
                self.ready = []
                self._ready_set = set()
                for db, key in batch:
                    self._serve_key(db, key)
            if self.server.ops:  # a waited-on key found expired: its DEL is logged now
                self.server.commit_ops(None)
        finally:
            self._serving = False

    def _serve_key(self, db: Database, key: bytes) -> None:
        waiters = self.waiting.get((db.id, key))
        if not waiters:
            return
        for client in list(waiters):
            state = client.blocked
            if state is None or client not in waiters:
                continue
            value = db.lookup(key)
            if value is None or type(value) is not state.kind:
                if state.gone is not None:
                    self._wake(client, state.gone)
                elif value is None:
                    return
                continue
            try:
                reply = state.serve(client, db, key)
            except CommandError as exc:
                reply = exc
            if reply is not None:
                self._wake(client, reply)

    # -- unblocking --------------------------------------------------------------------------
    def _detach(self, client: Client) -> None:
        state = client.blocked
        client.blocked = None
        self.blocked.discard(client)
        if state is None:
            return
        # SAVE, WAITAOF and SHUTDOWN block a client without keys (their states have none).
        if getattr(state, "guards", None):
            watchers = state.db.keyspace.watchers
            for guard in state.guards:
                entry = (state.db.id, guard.key)
                guards = watchers.get(entry)
                if guards is not None:
                    guards.discard(guard)
                    if not guards:
                        del watchers[entry]
            state.db.keyspace.refresh_observed()
        for key in getattr(state, "keys", ()):
            entry = (state.db.id, key)
            waiters = self.waiting.get(entry)
            if waiters is not None:
                waiters.pop(client, None)
                if not waiters:
                    del self.waiting[entry]

    def _wake(self, client: Client, reply: Any) -> None:
        """Unblock with ``reply``: commit what serving logged, queue the reply, resume."""
        self._detach(client)
        server = self.server
        if server.ops:
            server.commit_ops(client)
        if server.fsync_always and server.last_lsn > client.wait_lsn:
            client.wait_lsn = server.last_lsn
        if client.reply_mode == "on":
            if type(reply) is CommandError:
                client.push(encode_error(reply.message))
            else:
                client.push(to_bytes(reply, client.resp3))
        elif client.reply_mode == "skip":
            client.reply_mode = "on"
            client.refresh()
        loop = server.loop
        if loop is not None:
            loop.call_soon(client.resume)

    def unblock(self, client: Client, error: bool = False) -> None:
        """CLIENT UNBLOCK: as if the timeout passed, or with an UNBLOCKED error."""
        if client.blocked is not None:
            self._wake(client, CommandError(UNBLOCKED) if error else NULL_ARRAY)

    def forget(self, client: Client) -> None:
        """The client disconnected."""
        self._detach(client)

    # -- timeouts ----------------------------------------------------------------------------
    def check_timeouts(self, now: float) -> None:
        """Unblock clients whose timeout passed (server cron and the precise timer)."""
        now_ms = int(now * 1000)
        heap = self._timeouts
        while heap and heap[0][0] <= now_ms:
            _deadline, _seq, client, state = heappop(heap)
            if client.blocked is state:
                self._wake(client, NULL_ARRAY)
        if len(heap) > 64 and len(heap) > 4 * len(self.blocked):
            # Mostly entries of clients served long ago: drop them.
            self._timeouts = heap = [e for e in heap if e[2].blocked is e[3]]
            heapify(heap)
        if heap:
            self._arm(heap[0][0])

    def _arm(self, deadline: int) -> None:
        """Make sure a timer fires at (or before) ``deadline`` ms."""
        loop = self.server.loop
        if loop is None:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        delay = max(0.001, deadline / 1000.0 - time.time())
        self._timer = loop.call_later(delay, self._on_timer)
        self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer = None
        self.check_timeouts(time.time())
