"""Client-side caching (Redis's tracking.c): which clients may cache which keys.

A client that turns ``CLIENT TRACKING on`` is told when a key it may have
cached changes:

* **Default mode**: every key a tracking client reads (the key arguments of
  a read-only command, found with the command's key specs) is remembered in
  one table ``key -> client ids``.  Keys are not per database, as in Redis.
  When the key is modified the entry goes away and each client in it gets
  one invalidation message; it must read the key again to be told again.
* **BCAST mode**: nothing is remembered; a client registers key prefixes
  and receives, once per event-loop pass, the list of modified keys that
  start with each prefix (Redis's trackingBroadcastInvalidationMessages).
* **OPTIN / OPTOUT**: reads are remembered only after ``CLIENT CACHING yes``
  (respectively not after ``CLIENT CACHING no``), for the next command or the
  next MULTI/EXEC.  **NOLOOP**: no messages about the client's own writes.

Messages are RESP3 pushes (``>2 invalidate [keys]``) or, with ``REDIRECT id``
to a client in RESP2 Pub/Sub mode, messages on ``__redis__:invalidate``.
FLUSHDB/FLUSHALL send a null instead of keys and forget the whole table.

Where it hooks in:

* every modification reaches :meth:`Tracking.invalidate` through the
  keyspace's signal path (``Keyspace.touched`` -> ``tracker``, Redis's
  signalModifiedKey); the hook is only installed while the table or the
  prefix registry holds something, so it costs nothing otherwise;
* reads are recorded by ``dispatch.call`` for tracking clients only, and a
  tracking client always takes the dispatcher's slow path (it is
  ``special``), so clients that do not track pay nothing on the hot path;
* :meth:`Tracking.run` wraps a tracking client's command: invalidations of
  keys the client itself tracks are held until after the reply (a whole
  EXEC counts as one command), as Redis 7.0's tracking_pending_keys;
* the server's flush pass calls :meth:`Tracking.broadcast` (beforeSleep).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sentrykv_server.commands.keyspecs import command_keys
from sentrykv_server.commands.registry import PUBSUB

if TYPE_CHECKING:
    from sentrykv_server.commands.registry import Command
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server

_INVALIDATE3 = b">2\r\n$10\r\ninvalidate\r\n"
_INVALIDATE2 = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_REDIR_BROKEN = b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n"
_SCRIPT_RO = frozenset({"eval_ro", "evalsha_ro", "fcall_ro"})
# How many table entries one pass may evict to honour tracking-table-max-keys, times the
# number of consecutive passes that found the table still too big (Redis's effort).
_EVICT_EFFORT = 100


class TrackingState:
    """One client's tracking options (Redis's CLIENT_TRACKING_* flags)."""

    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "broken", "prefixes")

    def __init__(self) -> None:
        self.redirect = 0
        self.bcast = False
        self.optin = False
        self.optout = False
        self.noloop = False
        self.caching = False  # CLIENT CACHING yes/no given for the next command
        self.broken = False  # the redirect client went away
        self.prefixes: list[bytes] = []

    def flag_names(self) -> list[bytes]:
        """CLIENT TRACKINGINFO's flags, in Redis's order."""
        flags = [b"on"]
        if self.bcast:
            flags.append(b"bcast")
        for mode, name, caching in ((self.optin, b"optin", b"caching-yes"), (self.optout, b"optout", b"caching-no")):
            if mode:
                flags.append(name)
                if self.caching:
                    flags.append(caching)
        if self.noloop:
            flags.append(b"noloop")
        if self.broken:
            flags.append(b"broken_redirect")
        return flags


class _Prefix:
    """One BCAST prefix: its clients and the keys modified since the last pass."""

    __slots__ = ("clients", "keys")

    def __init__(self) -> None:
        self.clients: dict[Client, None] = {}
        # key -> the tracking client whose command last modified it (NOLOOP), or None.
        self.keys: dict[bytes, Client | None] = {}


def _keys_payload(keys: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


class Tracking:
    """The tracking table, the BCAST prefixes and the delivery of invalidations."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.table: dict[bytes, dict[int, None]] = {}
        self.items = 0  # (key, client) pairs in the table: tracking_total_items
        self.prefixes: dict[bytes, _Prefix] = {}
        self.clients = 0  # tracking_clients
        # The tracking client whose command is running (Redis's current_client, for the
        # cases where it matters: NOLOOP, and invalidations held until after the reply).
        self.executing: Client | None = None
        self.pending: list[bytes | None] = []  # None: a flush (null invalidation)
        self.bcast_pending = False
        self._over_limit_passes = 0
        # tracking-table-max-keys (0: no limit), kept current by a config hook.
        config = server.config
        self.max_keys: int = config.value("tracking-table-max-keys")
        config.on_change("tracking-table-max-keys", self._set_max_keys)

    def _set_max_keys(self, value: int) -> None:
        self.max_keys = value

    # -- CLIENT TRACKING -----------------------------------------------------------------
    def enable(self, c: Client, redirect: int, bcast: bool, optin: bool, optout: bool,
               noloop: bool, prefixes: list[bytes]) -> None:
        """enableTracking: (re)configure ``c``; options were validated by the command."""
        st = c.tracking
        if st is None:
            st = c.tracking = TrackingState()
            self.clients += 1
            c.refresh()
        st.redirect = redirect
        st.broken = False
        st.optin, st.optout, st.noloop, st.bcast = optin, optout, noloop, bcast
        if bcast:
            for prefix in prefixes or [b""]:
                entry = self.prefixes.get(prefix)
                if entry is None:
                    entry = self.prefixes[prefix] = _Prefix()
                if c not in entry.clients:
                    entry.clients[c] = None
                    st.prefixes.append(prefix)
        self._update_hook()

    def disable(self, c: Client) -> None:
        """disableTracking (CLIENT TRACKING off, RESET, disconnection).

        Entries of the table that name the client stay until their key is
        invalidated (Redis removes client ids lazily too).
        """
        st = c.tracking
        if st is None:
            return
        for prefix in st.prefixes:
            entry = self.prefixes.get(prefix)
            if entry is not None:
                entry.clients.pop(c, None)
                if not entry.clients:
                    del self.prefixes[prefix]
        c.tracking = None
        self.clients -= 1
        c.refresh()
        self._update_hook()

    def _update_hook(self) -> None:
        """Hear about modifications only while something is tracked."""
        ks = self.server.keyspace
        want = self.invalidate if (self.table or self.prefixes) else None
        if ks.tracker is not want:
            ks.tracker = want
            ks.refresh_observed()

    # -- reads -----------------------------------------------------------------------------
    def remember(self, c: Client, cmd: Command, argv: list[bytes], from_script: bool = False) -> None:
        """trackingRememberKeys: ``c`` (tracking) ran the read-only ``cmd``.

        The read-only script commands count only through the reads their script
        makes (``from_script``, with the EVAL / FCALL's own argv), as in Redis.
        """
        st = c.tracking
        if st is None or st.bcast or PUBSUB in cmd.flags or (cmd.name in _SCRIPT_RO and not from_script):
            return
        if (st.optin and not st.caching) or (st.optout and st.caching):
            return
        keys = command_keys(cmd, argv)
        if not keys:
            return
        table = self.table
        cid = c.id
        for key in keys:
            ids = table.get(key)
            if ids is None:
                ids = table[key] = {}
            if cid not in ids:
                ids[cid] = None
                self.items += 1
        if self.server.keyspace.tracker is None:
            self._update_hook()

    # -- writes ----------------------------------------------------------------------------
    def invalidate(self, key: bytes, by_command: bool = True) -> None:
        """The keyspace signal for a modified (``by_command``) or expired key."""
        if self.prefixes:
            self._note_for_broadcast(key, self.executing if by_command else None)
        if key in self.table:
            self._invalidate_tracked(key)

    def _invalidate_tracked(self, key: bytes) -> None:
        """trackingInvalidateKey's default-mode half: message the clients that read ``key``."""
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        clients = self.server.clients
        current = self.executing
        for cid in ids:
            target = clients.get(cid)
            if target is None:
                continue
            st = target.tracking
            if st is None or st.bcast:
                continue
            if target is current:
                if not st.noloop:
                    self.pending.append(key)
                continue
            self._send(target, _keys_payload([key]))
        if not self.table and not self.prefixes:
            self._update_hook()

    def _note_for_broadcast(self, key: bytes, modifier: Client | None) -> None:
        prefixes = self.prefixes
        if len(key) < len(prefixes):  # many prefixes: look up the key's own prefixes instead
            matching = [e for e in (prefixes.get(key[:n]) for n in range(len(key) + 1)) if e is not None]
        else:
            matching = [e for prefix, e in prefixes.items() if key.startswith(prefix)]
        for entry in matching:
            entry.keys[key] = modifier
            self.bcast_pending = True

    def flush(self) -> None:
        """FLUSHDB / FLUSHALL: every tracking client gets a null invalidation; forget all."""
        current = self.executing
        for c in list(self.server.clients.values()):
            if c.tracking is None:
                continue
            if c is current:
                self.pending.append(None)
            else:
                self._send(c, b"_\r\n" if c.resp3 else b"$-1\r\n")
        self.table = {}
        self.items = 0
        self._update_hook()

    def broadcast(self) -> None:
        """Once per loop pass: send each BCAST client the keys modified under its prefixes."""
        self.bcast_pending = False
        for prefix in sorted(self.prefixes):
            entry = self.prefixes[prefix]
            if not entry.keys:
                continue
            keys = sorted(entry.keys)
            common = _keys_payload(keys)
            for c in list(entry.clients):
                st = c.tracking
                if st is not None and st.noloop:
                    own = [k for k in keys if entry.keys[k] is not c]
                    if own:
                        self._send(c, _keys_payload(own))
                else:
                    self._send(c, common)
            entry.keys = {}

    # -- delivery --------------------------------------------------------------------------
    def _send(self, c: Client, payload: bytes) -> None:
        """sendTrackingMessage: to ``c`` or its redirect target, as a push or a Pub/Sub message."""
        st = c.tracking
        target: Client | None = c
        redirected = st is not None and st.redirect != 0
        if st is not None and redirected:
            target = self.server.clients.get(st.redirect)
            if target is None:
                st.broken = True
                if c.resp3:
                    c.push(_REDIR_BROKEN % st.redirect)
                return
        assert target is not None
        if target.resp3:
            target.push(_INVALIDATE3 + payload)
        elif redirected and (target.channels or target.patterns or target.shard_channels):
            target.push(_INVALIDATE2 + payload)
        # else: RESP2 without redirection cannot carry pushes; nothing is sent.

    # -- one command of a tracking client ----------------------------------------------------
    def run(self, c: Client, cmd: Command, argv: list[bytes],
            body: Callable[[Client, Command, list[bytes]], None]) -> None:
        """Run a tracking client's command with ``body`` (the dispatcher's way of running
        it, reply included), then send its own invalidations."""
        self.executing = c
        try:
            body(c, cmd, argv)
        finally:
            self.executing = None
        self.after_command(c, cmd)

    def after_command(self, c: Client, cmd: Command | None) -> None:
        """trackingHandlePendingKeyInvalidations, the CACHING reset, the table's size limit."""
        if self.pending:
            pending, self.pending = self.pending, []
            if not c.closing:
                for key in pending:
                    if key is None:
                        self._send(c, b"_\r\n" if c.resp3 else b"$-1\r\n")
                    else:
                        self._send(c, _keys_payload([key]))
        st = c.tracking
        # CLIENT CACHING lasts for the next command, or the whole MULTI ... EXEC.
        if st is not None and st.caching and c.multi is None and (cmd is None or cmd.name != "client"):
            st.caching = False
        self.enforce_limit()

    def enforce_limit(self) -> None:
        """tracking-table-max-keys: invalidate keys (oldest first) until under the limit."""
        limit = self.max_keys
        if not limit or len(self.table) <= limit:
            self._over_limit_passes = 0
            return
        effort = _EVICT_EFFORT * (self._over_limit_passes + 1)
        while effort > 0 and len(self.table) > limit:
            effort -= 1
            self._invalidate_tracked(next(iter(self.table)))
        if len(self.table) > limit:
            self._over_limit_passes += 1
        else:
            self._over_limit_passes = 0
