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

Each database also keeps what Redis keeps in its object headers and
allocator, updated on every change in O(1) (never a walk of the keyspace):

* ``lru``: key -> the 24-bit LRU/LFU field of the last access (store/access.py);
  ``lookup`` touches it, ``peek`` does not (Redis's LOOKUP_NOTOUCH);
* ``mem``: the modelled bytes of every key and value object (store/memory.py),
  less :data:`BYTES_OBJECT` per object, which :meth:`Database.dataset` adds back
  per key (:func:`key_cost`, :func:`string_cost`; a short value shared between
  keys, store/shared.py, costs no object per key);
  containers changed in place are queued in ``resized`` and re-costed once
  per loop pass by :meth:`Keyspace.settle` (``sizes`` keeps their last cost);
* ``keyring``: while an ``allkeys-*`` eviction policy is active, the keys in a
  list, so that eviction can sample them at random in O(1) (a dict cannot);
  deleted keys leave stale slots, dropped when sampled and all at once when a
  quarter of the list is stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from heapq import heapify, heappush
from typing import Any

from sentrykv_server.store.access import CREATE, TOUCH, AccessClock, LFUCounters
from sentrykv_server.store.clock import now_ms
from sentrykv_server.store.memory import BYTES_OBJECT, INT_COST, alloc, getsizeof
from sentrykv_server.store.shared import (
    SHARED,
    SHARED_MAX_LEN,
    admit,
    is_shared,
    share,
    share_values,
)
from sentrykv_server.store.types import TYPES

ExpireHook = Callable[[int, bytes], None]
ChangeHook = Callable[["Database", bytes], None]
# keyspace.cow(db, key, in_place): in_place is True when the caller changes only this
# key's value or TTL (no dict key is inserted or deleted), see persistence/checkpoint.py.
CowHook = Callable[["Database", bytes, bool], None]
# A container's last cost: (bytes, elements now, elements when last measured, passes since).
Meter = tuple[int, int, int, int, int]  # ... and its structure's bytes when last measured
_NO_METER: Meter = (0, 0, 0, 0, 0)
# Containers are costed from this many elements (exactly when they have no more), and
# re-measured when their length moved by more than an eighth or after this many passes.
METER_SAMPLES = 16
METER_PASSES = 32


def key_cost(key: bytes) -> int:
    """What a key object adds to ``Database.mem``: its allocation (33 + len, in pymalloc's
    16-byte classes) less the :data:`BYTES_OBJECT` that ``dataset()`` adds per key."""
    return ((len(key) + 48) & -16) - BYTES_OBJECT


def string_cost(value: bytes) -> int:
    """What a stored string value adds to ``Database.mem``: like :func:`key_cost`, or, when
    it is a shared object (store/shared.py), minus the header ``dataset()`` adds per key."""
    return -BYTES_OBJECT if is_shared(value) else ((len(value) + 48) & -16) - BYTES_OBJECT


def measure(value: Any) -> Meter:
    """Cost a container from scratch (sampled: O(METER_SAMPLES))."""
    n = len(value)
    return (TYPES[type(value)].size(value, METER_SAMPLES), n, n, 0, alloc(getsizeof(value)))


class Database:
    """One numbered database (SELECT n)."""

    __slots__ = ("id", "data", "expires", "keyspace", "avg_ttl", "hits", "misses", "lru", "clock",
                 "wclock", "lfu", "mem", "sizes", "resized", "keyring", "on_miss")

    def __init__(self, index: int, keyspace: Keyspace) -> None:
        self.id = index
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.keyspace = keyspace
        self.avg_ttl = 0
        # keyspace_hits / keyspace_misses, counted per database (summed by INFO).
        self.hits = 0
        self.misses = 0
        # The access clock (see the module docstring): ``lru[key] = clock`` records an access,
        # ``lru[key] = wclock`` a new value object.  Both are ints under LRU policies.
        self.lfu = False
        self.lru: dict[bytes, int] = {}
        self.clock: Any = keyspace.clock.lru
        self.wclock: Any = self.clock
        # Memory accounting (see store/memory.py).
        self.mem = 0
        self.sizes: dict[bytes, Meter] = {}
        self.resized: set[bytes] = set()
        self.keyring: list[bytes] | None = None
        # The 'keymiss' keyspace event, or None (on each database: one test on a read miss).
        self.on_miss: ChangeHook | None = None

    def __len__(self) -> int:
        return len(self.data)

    # -- lookups ---------------------------------------------------------------------------
    def lookup(self, key: bytes) -> Any:
        """The live value of ``key`` or None, recording the access (Redis's lookupKey).

        An expired key is removed on the way (and reported missing without being
        removed while clients are paused, as Redis does).
        """
        value = self.data.get(key)
        if value is not None:
            if self.expires and key in self.expires and self._expired_now(key):
                return None
            self.lru[key] = self.clock
        return value

    def _expired_now(self, key: bytes) -> bool:
        """expireIfNeeded for a key with a TTL: True (and deleted, when allowed) if it passed.

        A replica waits for its master's DEL (the key reads as absent but stays);
        while clients are paused the key is reported missing without being removed.
        """
        ks = self.keyspace
        if ks.loading or not self.is_expired(key):
            return False
        if not ks.replica and not ks.expiry_paused:
            self.expire_now(key)
        return True

    def peek(self, key: bytes) -> Any:
        """Like :meth:`lookup` without recording an access (LOOKUP_NOTOUCH: TYPE, TTL, OBJECT...)."""
        value = self.data.get(key)
        if value is not None and self.expires and key in self.expires and self._expired_now(key):
            return None
        return value

    def lookup_read(self, key: bytes, touch: bool = True) -> Any:
        """Like :meth:`lookup` (or :meth:`peek`) but counts a keyspace hit or miss (INFO stats)."""
        value = self.lookup(key) if touch else self.peek(key)
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
            ks.cow(self, key, True)
        if ks.observed:  # WATCH, client tracking or 'new' events: the general path
            self._set_observed(key, value, keep_ttl)
            return
        expires = self.expires
        if expires and key in expires:
            self._drop_ttl(key, keep_ttl)
        self._store(key, value)
        ks.dirty += 1  # touched(), inlined for the most common write

    def _store(self, key: bytes, value: Any) -> None:
        """Put the value in the dict, stamp its access field, account its memory."""
        data = self.data
        old = data.get(key)
        if type(value) is not bytes:
            data[key] = value
            self.lru[key] = self.wclock
            self._account_store(key, old, value)
            return
        # Strings, inlined: a short value becomes the shared object (store/shared.py), and
        # costs no object of its own (string_cost, spelt out: this is the hottest write).
        n = len(value)
        if n > SHARED_MAX_LEN:
            cost = ((n + 48) & -16) - BYTES_OBJECT
        elif n <= 1:  # CPython's own shared objects
            cost = -BYTES_OBJECT
        else:
            found = SHARED.get(value)
            if found is not None:
                value = found
                cost = -BYTES_OBJECT
            else:  # not shared yet: admit() returns a new shared object or the value itself
                made = admit(value)
                cost = -BYTES_OBJECT if made is not value else ((n + 48) & -16) - BYTES_OBJECT
                value = made
        data[key] = value
        self.lru[key] = self.wclock
        if old is None:
            self.mem += ((len(key) + 48) & -16) - BYTES_OBJECT + cost
            if self.keyring is not None:
                self.keyring.append(key)
        elif type(old) is bytes:
            if old is not value:  # (the same shared value again costs nothing more)
                n = len(old)
                if n > SHARED_MAX_LEN or (n > 1 and SHARED.get(old) is not old):
                    cost -= ((n + 48) & -16) - BYTES_OBJECT
                else:
                    cost += BYTES_OBJECT
                self.mem += cost
        else:
            self._account_store(key, old, value)

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
        self._store(key, value)
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        if created and on_new is not None:
            on_new(self, key)
        ks.dirty += 1
        ks.signal_modified(self, key)

    def _account_store(self, key: bytes, old: Any, value: Any) -> None:
        """The general case of :meth:`set`'s accounting: containers, or a type change."""
        if old is None:
            self.mem += key_cost(key)
            if self.keyring is not None:
                self.keyring.append(key)
        elif type(old) is bytes:
            self.mem -= string_cost(old)
        else:
            self.mem -= self.sizes.pop(key, _NO_METER)[0] - BYTES_OBJECT
        if type(value) is bytes:
            self.mem += string_cost(value)
        else:
            meter = self.sizes[key] = measure(value)
            self.mem += meter[0] - BYTES_OBJECT

    def add(self, key: bytes, value: Any) -> None:
        """Insert a value for a key known to be absent (creating a container: Redis's dbAdd)."""
        ks = self.keyspace
        if ks.cow is not None:
            ks.cow(self, key, False)
        self.data[key] = value
        self.lru[key] = self.wclock
        self._account_store(key, None, value)
        if ks.on_new is not None:
            ks.on_new(self, key)
        ks.touched(self, key)

    def delete(self, key: bytes) -> bool:
        """Remove a key (and its TTL); True if it existed."""
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key, False)
        value = self.data.pop(key, None)
        if value is None:
            return False
        self._forget(key, value)
        self.keyspace.touched(self, key)
        return True

    def _forget(self, key: bytes, value: Any) -> None:
        """A key left the database: its TTL, access field and accounted bytes go too."""
        if self.expires:
            self.expires.pop(key, None)
        self.lru.pop(key, None)
        if type(value) is bytes:
            self.mem -= key_cost(key) + string_cost(value)
        else:
            self.mem -= key_cost(key) + self.sizes.pop(key, _NO_METER)[0] - BYTES_OBJECT

    def resize(self, key: bytes) -> None:
        """A container was changed in place: re-cost it at the end of the loop pass."""
        self.resized.add(key)
        self.keyspace.unsettled = True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key, True)
        self.expires[key] = when_ms
        ks = self.keyspace
        heappush(ks.expiry_heap, (when_ms, self.id, key))
        ks.touched(self, key)

    def persist(self, key: bytes) -> bool:
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key, True)
        if self.expires.pop(key, None) is None:
            return False
        self.keyspace.touched(self, key)
        return True

    def expire_now(self, key: bytes) -> None:
        """Delete an expired key and tell the server (it logs a DEL, counts expired_keys)."""
        cow = self.keyspace.cow
        if cow is not None:
            cow(self, key, False)
        value = self.data.pop(key, None)
        if value is not None:
            self._forget(key, value)
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
        self.lru = self.keyspace.new_lru()
        self.mem = 0
        self.sizes = {}
        self.resized = set()
        if self.keyring is not None:
            self.keyring = []
        self.keyspace.flushed(self, before)
        return removed

    # -- the access clock --------------------------------------------------------------------
    def access(self, key: bytes) -> int | None:
        """The raw 24-bit LRU/LFU field of a key (OBJECT, DEBUG OBJECT, eviction)."""
        return dict.get(self.lru, key)

    def set_access(self, key: bytes, raw: int) -> None:
        """Store a raw field as is: RENAME/MOVE carry it over, RESTORE IDLETIME/FREQ set it
        (see ``store.access.idle_or_freq_value``)."""
        dict.__setitem__(self.lru, key, raw)

    # -- memory accounting -------------------------------------------------------------------
    def dataset(self) -> int:
        """Bytes of every key and value object: ``mem`` plus the two objects' headers per key."""
        return self.mem + 2 * BYTES_OBJECT * len(self.data)

    def settle(self) -> None:
        """Re-cost the containers changed in place since the last call (O(1) amortised each).

        Between full measurements (sampled, O(METER_SAMPLES)) a container's cost is
        its structure's ``getsizeof`` now plus its elements at their last cost per
        element (a table doubling is not spread over the elements); it is measured again
        once its length moved by an eighth or after METER_PASSES passes.
        """
        resized = self.resized
        self.resized = set()
        data = self.data
        sizes = self.sizes
        mem = self.mem
        for key in resized:
            value = data.get(key)
            if value is None or type(value) is bytes:
                continue
            meter = sizes.get(key)
            n = len(value)
            if meter is None:
                new = measure(value)
            else:
                size, count, measured, passes, structure = meter
                mem -= size
                if passes >= METER_PASSES or 8 * abs(n - measured) > measured + 8 or not count:
                    new = measure(value)
                else:
                    # The structure (a dict's table grows by doubling) is read again, O(1);
                    # only the elements follow the length at their last cost per element.
                    now = alloc(getsizeof(value))
                    elements = size - structure
                    new = (now + elements + (n - count) * elements // count, n, measured, passes + 1, now)
            sizes[key] = new
            mem += new[0]
        self.mem = mem

    def overhead(self) -> tuple[int, int]:
        """(main table bytes, expires bytes): the dicts' tables and what only they hold.

        ``getsizeof`` of a dict includes its hash table, so this is O(1): the
        key/value dict, the access-field dict (plus one int per key under LFU:
        those fields are not shared), the container meters, the keyring; the
        expires dict plus one int per deadline (the expiry heap shares it).
        """
        lru = self.lru
        main = alloc(getsizeof(self.data)) + alloc(getsizeof(lru))
        if self.lfu:
            main += INT_COST * len(lru)
        if self.sizes:
            main += alloc(getsizeof(self.sizes)) + 80 * len(self.sizes)
        ring = self.keyring
        if ring is not None:  # its slots, and the deleted keys its stale slots keep alive
            main += alloc(getsizeof(ring)) + 64 * max(0, len(ring) - len(self.data))
        expires = self.expires
        exp = alloc(getsizeof(expires)) + INT_COST * len(expires) if expires else 0
        return main, exp

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
        self.clock = AccessClock()
        self.lfu = False
        # Containers were changed in place: Database.settle() is due (see Server.flush_pass).
        self.unsettled = False
        # Clients are paused (CLIENT PAUSE): expired keys read as missing but stay in place.
        self.expiry_paused = False
        self.dbs = [Database(i, self) for i in range(databases)]
        self.loading = False
        self.active_expire = True  # DEBUG SET-ACTIVE-EXPIRE 0 leaves expiry to lookups
        # A replica: keys whose TTL passed read as absent but stay until the master's DEL
        # (Redis's expireIfNeeded on replicas); the active cycle does not run.
        self.replica = False
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
        # Set while a checkpoint runs: called with (db, key, in_place) BEFORE a key's value or TTL
        # changes, so the checkpoint can keep the point-in-time version (serialize before
        # mutate).  Whole-database operations replace the dict objects instead of mutating
        # them, which leaves the checkpoint's references intact.
        self.cow: CowHook | None = None
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

    # -- access clock ------------------------------------------------------------------------
    def new_lru(self) -> dict[bytes, int]:
        return LFUCounters(self.clock) if self.lfu else {}

    def set_lfu(self, enabled: bool) -> None:
        """Switch between LRU and LFU policies: fields are kept as they are (as in Redis)."""
        if enabled == self.lfu:
            return
        self.lfu = enabled
        for db in self.dbs:
            db.lfu = enabled
            db.lru = LFUCounters(self.clock, db.lru) if enabled else dict(db.lru)
        self.tick_clock(None)

    def tick_clock(self, now: float | None) -> None:
        """serverCron's clock update; every database reads it as ``db.clock``."""
        clock = self.clock
        if now is not None:
            clock.tick(now)
        if self.lfu:
            for db in self.dbs:
                db.clock, db.wclock = TOUCH, CREATE
        else:
            tick = clock.lru
            for db in self.dbs:
                db.clock = db.wclock = tick

    # -- memory accounting -----------------------------------------------------------------
    def settle(self) -> None:
        """Re-cost every container changed in place since the last call."""
        self.unsettled = False
        for db in self.dbs:
            if db.resized:
                db.settle()

    def dataset_bytes(self) -> int:
        if self.unsettled:
            self.settle()
        return sum(db.dataset() for db in self.dbs)

    def recount(self, share_loaded: bool = False) -> None:
        """Recompute every database's accounting from scratch (after recovery: the snapshot
        loader and the replay's fast path fill the dicts directly).  O(keys), once.

        ``share_loaded``: first replace short values by their shared objects
        (store/shared.py), as the write paths would have stored them."""
        clock = self.clock
        for db in self.dbs:
            mem = 0
            sizes: dict[bytes, Meter] = {}
            old = db.lru
            lru = self.new_lru()
            fresh = (clock.minutes << 8) | 5 if self.lfu else clock.lru
            data = db.data
            for key, value in data.items():
                if type(value) is bytes:
                    if share_loaded and len(value) <= SHARED_MAX_LEN:
                        shared = share(value)
                        if shared is not value:
                            data[key] = value = shared
                    mem += key_cost(key) + string_cost(value)
                else:
                    if share_loaded:
                        share_values(value)
                    meter = sizes[key] = measure(value)
                    mem += key_cost(key) + meter[0] - BYTES_OBJECT
                raw = dict.get(old, key)
                dict.__setitem__(lru, key, fresh if raw is None else raw)
            db.mem, db.sizes, db.lru, db.resized = mem, sizes, lru, set()
            if db.keyring is not None:
                db.keyring = list(db.data)
        self.unsettled = False

    def set_sampling(self, enabled: bool) -> None:
        """Keep (or drop) the keyrings eviction samples ``allkeys-*`` policies from."""
        for db in self.dbs:
            if enabled and db.keyring is None:
                db.keyring = list(db.data)
            elif not enabled:
                db.keyring = None

    def signal_ready(self, db: Database, key: bytes) -> None:
        """A list/zset key received elements: blocked clients may be served."""
        if self.key_ready_hook is not None:
            self.key_ready_hook(db, key)

    def swap(self, a: int, b: int) -> None:
        """SWAPDB: exchange contents; Database objects keep their index."""
        da, db_ = self.dbs[a], self.dbs[b]
        for name in _SWAPPED:
            first = getattr(da, name)
            setattr(da, name, getattr(db_, name))
            setattr(db_, name, first)
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


# What SWAPDB exchanges between two databases (everything that describes their keys).
_SWAPPED = ("data", "expires", "lru", "mem", "sizes", "resized", "keyring")


def _ignore_expire(db_index: int, key: bytes) -> None:
    return None
