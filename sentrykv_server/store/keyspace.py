"""Databases and the keyspace (Redis's db.c).

A :class:`Database` is two dicts, like Redis's ``db->dict`` and ``db->expires``:
``data`` maps key -> value and ``expires`` maps key -> absolute expiry in
milliseconds.  Values are typed by their Python class:

    bytes -> string,  Hash (dict) -> hash,  QuickList (deque) -> list,
    RedisSet (set) -> set,  ZSet -> sorted set     (see store/types.py)

All access happens on the event loop thread, so there are no locks.  Expiry is
lazy (checked on every lookup through :meth:`Database.lookup`) plus an active
cycle in :mod:`sentrykv_server.store.expire`.  A key that expires is deleted
*and* the deletion is reported to the keyspace's ``on_expire`` hook, which the
server uses to log a DEL record so that replaying the log reproduces it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from heapq import heapify, heappush
from typing import Any

from sentrykv_server.store.clock import now_ms

ExpireHook = Callable[[int, bytes], None]
ChangeHook = Callable[["Database", bytes], None]


class Database:
    """One numbered database (SELECT n)."""

    __slots__ = ("id", "data", "expires", "keyspace", "avg_ttl", "hits", "misses", "on_miss")

    def __init__(self, index: int, keyspace: Keyspace) -> None:
        self.id = index
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.keyspace = keyspace
        self.avg_ttl = 0
        # keyspace_hits / keyspace_misses, counted per database (summed by INFO).
        self.hits = 0
        self.misses = 0
        # The 'keymiss' keyspace event, or None (on each database: one test on a read miss).
        self.on_miss: ChangeHook | None = None

    def __len__(self) -> int:
        return len(self.data)

    # -- lookups ---------------------------------------------------------------------------
    def lookup(self, key: bytes) -> Any:
        """The live value of ``key`` or None; an expired key is removed on the way."""
        value = self.data.get(key)
        if value is not None and self.expires and key in self.expires:
            if self.expires[key] <= self.keyspace.now() and not self.keyspace.loading:
                self.expire_now(key)
                return None
        return value

    def lookup_read(self, key: bytes) -> Any:
        """Like :meth:`lookup` but counts a keyspace hit or miss (INFO stats)."""
        value = self.lookup(key)
        if value is None:
            self.misses += 1
            if self.on_miss is not None:  # the 'keymiss' keyspace event
                self.on_miss(self, key)
        else:
            self.hits += 1
        return value

    def exists(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    def ttl_ms(self, key: bytes) -> int | None:
        """Absolute expiry of a live key, or None when it has none."""
        return self.expires.get(key)

    # -- mutations -------------------------------------------------------------------------
    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store ``value``; like Redis's setKey, an overwrite clears the TTL unless keep_ttl."""
        ks = self.keyspace
        if ks.cow is not None:
            ks.cow(self, key)
        if ks.observed:  # WATCH, client tracking or 'new' events: the general path
            self._set_observed(key, value, keep_ttl)
            return
        expires = self.expires
        if expires and key in expires:
            self._drop_ttl(key, keep_ttl)
        self.data[key] = value
        ks.dirty += 1  # touched(), inlined for the most common write

    def _drop_ttl(self, key: bytes, keep_ttl: bool) -> None:
        """Before overwriting a key with a TTL: expire it if its time passed (as setKey's
        lookupKeyWrite does: 'expired' event, DEL logged), else drop the TTL unless kept."""
        if self.expires[key] <= self.keyspace.now() and not self.keyspace.loading:
            self.expire_now(key)
        elif not keep_ttl:
            del self.expires[key]

    def _set_observed(self, key: bytes, value: Any, keep_ttl: bool) -> None:
        """setKey with observers: a 'new' event when the key did not exist, then the signal.

        Like setKey's lookupKeyWrite, a key whose TTL passed is expired first
        (its 'expired' event and DEL come before the 'new' event).
        """
        ks = self.keyspace
        on_new = ks.on_new
        if on_new is not None:
            created = self.lookup(key) is None
        else:
            created = False
            if self.expires and key in self.expires:
                self._drop_ttl(key, keep_ttl)
        self.data[key] = value
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        if created and on_new is not None:
            on_new(self, key)
        ks.dirty += 1
        ks.signal_modified(self, key)

    def add(self, key: bytes, value: Any) -> None:
        """Insert a value for a key known to be absent (creating a container: Redis's dbAdd)."""
        ks = self.keyspace
        if ks.cow is not None:
            ks.cow(self, key)
        self.data[key] = value
        if ks.on_new is not None:
            ks.on_new(self, key)
        ks.touched(self, key)

    def delete(self, key: bytes) -> bool:
        """Remove a key (and its TTL); True if it existed."""
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key)
        if self.data.pop(key, None) is None:
            return False
        if self.expires:
            self.expires.pop(key, None)
        self.keyspace.touched(self, key)
        return True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key)
        self.expires[key] = when_ms
        ks = self.keyspace
        heappush(ks.expiry_heap, (when_ms, self.id, key))
        ks.touched(self, key)

    def persist(self, key: bytes) -> bool:
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key)
        if self.expires.pop(key, None) is None:
            return False
        self.keyspace.touched(self, key)
        return True

    def expire_now(self, key: bytes) -> None:
        """Delete an expired key and tell the server (it logs a DEL, counts expired_keys)."""
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key)
        self.data.pop(key, None)
        self.expires.pop(key, None)
        ks = self.keyspace
        ks.expired_keys += 1
        # Redis's order: the 'expired' event (raised by the on_expire hook), then the
        # modification signal (WATCH, tracking invalidation) made on nobody's behalf.
        ks.on_expire(self.id, key)
        ks.dirty += 1
        if ks.observed:
            ks.signal_modified(self, key, False)

    def is_expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        return when is not None and when <= self.keyspace.now()

    def clear(self) -> int:
        """FLUSHDB: drop everything; returns how many keys were removed."""
        removed = len(self.data)
        before = self.data
        self.data = {}
        self.expires = {}
        self.keyspace.flushed(self, before)
        return removed

    def live_keys(self) -> Iterator[bytes]:
        """Keys that have not expired (expired ones are skipped, not deleted: safe while iterating)."""
        if not self.expires:
            yield from self.data
            return
        now = self.keyspace.now()
        expires = self.expires
        for key in self.data:
            when = expires.get(key)
            if when is None or when > now:
                yield key


class Keyspace:
    """All databases plus the hooks through which the server observes changes.

    ``touched(db, key)`` is called on every modification (Redis's
    signalModifiedKey): it breaks WATCHes and invalidates client-side caches
    (``tracker``).  ``on_expire(db_index, key)`` is called when a key is
    removed because its TTL passed.  ``on_new`` (and each database's
    ``on_miss``, see :meth:`set_miss_hook`) raise the 'new' and 'keymiss'
    keyspace events (sentrykv_server/notify.py).

    ``observed`` is the one flag the write paths test: True while WATCH,
    client tracking or 'new' events need to hear about changes, so a server
    using none of them pays nothing for them (refresh with
    :meth:`refresh_observed` whenever one of them changes).
    """

    def __init__(self, databases: int = 16) -> None:
        self.dbs = [Database(i, self) for i in range(databases)]
        self.loading = False
        self.active_expire = True  # DEBUG SET-ACTIVE-EXPIRE 0 leaves expiry to lookups
        self.expired_keys = 0
        self.evicted_keys = 0
        self.dirty = 0  # changes since the last save (rdb_changes_since_last_save)
        self.now: Callable[[], int] = now_ms
        self.watchers: dict[tuple[int, bytes], set[Any]] = {}
        # (when_ms, db index, key) for every TTL ever set; stale entries are skipped
        # when popped.  Drives the active expiry cycle (store/expire.py).
        self.expiry_heap: list[tuple[int, int, bytes]] = []
        self.key_ready_hook: Callable[[Database, bytes], None] | None = None
        self.on_expire: ExpireHook = _ignore_expire
        # Called with (db index, key) after a key was evicted (keyspace notifications).
        self.on_evict: ExpireHook | None = None
        self.on_flush: Callable[[Database], None] | None = None
        # Set while a checkpoint runs: called with (db, key) BEFORE a key's value or TTL
        # changes, so the checkpoint can keep the point-in-time version (serialize before
        # mutate).  Whole-database operations replace the dict objects instead of mutating
        # them, which leaves the checkpoint's references intact.
        self.cow: ChangeHook | None = None
        # Set by persistence.rdb.transfer.load_directory: the function libraries to export.
        self.function_codes: list[bytes] = []
        # Observers (see the class docstring).
        self.on_new: ChangeHook | None = None
        self.tracker: Callable[[bytes, bool], None] | None = None
        self.observed = False

    def set_miss_hook(self, hook: ChangeHook | None) -> None:
        """Install the 'keymiss' hook on every database (read misses test it)."""
        for db in self.dbs:
            db.on_miss = hook

    def refresh_observed(self) -> None:
        """Recompute ``observed`` after WATCH, tracking or the 'new' event changed."""
        self.observed = bool(self.watchers) or self.on_new is not None or self.tracker is not None

    def touched(self, db: Database, key: bytes) -> None:
        """A key changed: break WATCHes on it, invalidate caches (Redis's signalModifiedKey).

        Container commands that mutate a value in place call this too.
        """
        self.dirty += 1
        if self.observed:
            self.signal_modified(db, key)

    def signal_modified(self, db: Database, key: bytes, by_command: bool = True) -> None:
        """Tell the observers that ``key`` changed (``by_command`` False: expiry)."""
        if self.watchers:
            self.touched_watched(db, key)
        tracker = self.tracker
        if tracker is not None:
            tracker(key, by_command)

    def touched_watched(self, db: Database, key: bytes) -> None:
        """Flag the clients WATCHing ``key`` (only called when some client watches a key)."""
        clients = self.watchers.get((db.id, key))
        if clients:
            for client in clients:
                client.watch_dirty = True

    def flushed(self, db: Database, before: dict[bytes, Any] | None = None) -> None:
        """A whole database changed (FLUSHDB/FLUSHALL/SWAPDB): WATCHes on it break.

        Like Redis's touchAllWatchedKeysInDb, only a watched key that existed
        before (``before``, the replaced dict) or exists now counts as changed.
        """
        self.dirty += 1
        if self.watchers:
            for (index, key), clients in self.watchers.items():
                if index == db.id and (before is None or key in before or key in db.data):
                    for client in clients:
                        client.watch_dirty = True
        if self.on_flush is not None:
            self.on_flush(db)

    def signal_ready(self, db: Database, key: bytes) -> None:
        """A list/zset key received elements: blocked clients may be served."""
        if self.key_ready_hook is not None:
            self.key_ready_hook(db, key)

    def swap(self, a: int, b: int) -> None:
        """SWAPDB: exchange contents; Database objects keep their index."""
        da, db_ = self.dbs[a], self.dbs[b]
        da.data, db_.data = db_.data, da.data
        da.expires, db_.expires = db_.expires, da.expires
        self.rebuild_expiry_heap()
        self.flushed(da, db_.data)
        self.flushed(db_, da.data)
        # Keys that now exist in either db may satisfy clients blocked there.
        if self.key_ready_hook is not None:
            for d in (da, db_):
                for key in list(d.data):
                    self.key_ready_hook(d, key)

    def rebuild_expiry_heap(self) -> None:
        """Recreate the heap from the expires dicts (after SWAPDB, or when mostly stale)."""
        heap = [(when, db.id, key) for db in self.dbs for key, when in db.expires.items()]
        heapify(heap)
        self.expiry_heap = heap

    @property
    def hits(self) -> int:
        return sum(db.hits for db in self.dbs)

    @property
    def misses(self) -> int:
        return sum(db.misses for db in self.dbs)

    def reset_hit_stats(self) -> None:
        for db in self.dbs:
            db.hits = db.misses = 0

    def total_keys(self) -> int:
        return sum(len(db.data) for db in self.dbs)


def _ignore_expire(db_index: int, key: bytes) -> None:
    return None
