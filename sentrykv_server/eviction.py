"""maxmemory and eviction (Redis's evict.c).

When ``used_memory`` (minus the log buffer, which Redis does not count
either) is above ``maxmemory``, :meth:`Evictor.perform` deletes keys chosen
by ``maxmemory-policy`` until enough is freed, before the command runs:

* ``*-lru`` / ``*-lfu`` / ``volatile-ttl``: Redis's approximation.  Each round
  samples ``maxmemory-samples`` keys per database (``allkeys-*``: any key,
  from the database's keyring; ``volatile-*``: keys with a TTL, from the
  expiry heap), scores them (idle time, 255 - LFU counter, or how soon they
  expire) and merges them into the eviction pool of 16 best candidates kept
  across calls; the best live candidate is evicted.
* ``*-random``: a random key of the next database in turn.
* ``noeviction``: nothing is deleted; ``denyoom`` commands get the OOM error.

Each eviction is logged as a DEL, counted in ``evicted_keys``, breaks WATCHes
and reaches the ``on_evict`` hook (keyspace notifications).  The loop stops
after ``maxmemory-eviction-tenacity``'s time limit, checked every 16 keys,
and a timer carries on from the next loop pass (evictionTimeProc) until
enough is freed.  While clients are paused nothing is evicted.

To keep the request path free of all this, the dispatcher only checks
commands while :attr:`Evictor.near` (usage within an eighth of maxmemory or
above it, re-evaluated every loop pass and by the cron).
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from random import randrange
from typing import TYPE_CHECKING

from sentrykv_server.commands.registry import DENYOOM, Command
from sentrykv_server.scripting.command_flags import SCRIPT_COMMANDS, effective_flags

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database

log = logging.getLogger("sentrykv.eviction")

OOM_ERROR = "OOM command not allowed when used memory > 'maxmemory'."
POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")
EVPOOL_SIZE = 16
EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2
# Keys sampled per database per round at most, whatever maxmemory-samples says
# (Redis's dictGetSomeKeys is bounded by the table size; this also bounds the work).
MAX_SAMPLES = 1024
_ALLOWED_IN_OOM_MULTI = frozenset({"exec", "discard", "quit", "reset"})


def time_limit_us(tenacity: int) -> float:
    """evictionTimeLimitUs: 0..500 us linearly up to 10, then +15% per step, unlimited at 100."""
    if tenacity <= 10:
        return 50.0 * tenacity
    if tenacity < 100:
        return 500.0 * 1.15 ** (tenacity - 10)
    return float("inf")


class Evictor:
    """The maxmemory state of one server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.maxmemory = 0
        self.policy = "noeviction"
        self.samples = 5
        self.tenacity = 10
        # (score, db index, key), ascending: the best candidate is the last one.
        self.pool: list[tuple[int, int, bytes]] = []
        self.near = False
        self.oom_at_start = False  # over the limit when the running command started
        self.passes = 0
        # keyspace.dirty when usage was last found within the limit (reads change nothing).
        self.checked_dirty = -1
        self.timer_running = False
        self.next_db = 0
        # INFO total_eviction_exceeded_time / current_eviction_exceeded_time.
        self.exceeded_since: float | None = None
        self.exceeded_total = 0.0

    # -- configuration -----------------------------------------------------------------------
    def configure(self) -> None:
        """Read the maxmemory directives (start-up and every CONFIG SET of one of them)."""
        cfg = self.server.config
        ks = self.server.keyspace
        self.maxmemory = int(cfg.value("maxmemory"))
        policy = cfg.value("maxmemory-policy")
        if policy != self.policy:
            self.pool.clear()  # scores of another policy mean nothing here
            self.checked_dirty = -1
        self.policy = policy
        self.samples = int(cfg.value("maxmemory-samples"))
        self.tenacity = int(cfg.value("maxmemory-eviction-tenacity"))
        ks.clock.log_factor = int(cfg.value("lfu-log-factor"))
        ks.clock.decay_time = int(cfg.value("lfu-decay-time"))
        ks.set_lfu("lfu" in policy)
        ks.set_sampling(self.maxmemory > 0 and policy.startswith("allkeys"))
        self.refresh()

    def maxmemory_changed(self) -> None:
        """CONFIG SET maxmemory: warn if below usage, and evict down from a timer (as Redis)."""
        self.checked_dirty = -1
        self.configure()
        if self.maxmemory:
            used = self.server.memory.for_eviction()
            if self.maxmemory < used:
                log.warning(
                    "WARNING: the new maxmemory value set via CONFIG SET (%d) is smaller than the "
                    "current memory usage (%d). This will result in key eviction and/or the inability "
                    "to accept new write commands depending on the maxmemory-policy.", self.maxmemory, used)
            self.start_timer()

    def refresh(self) -> None:
        """Re-evaluate :attr:`near` (the dispatcher's gate); cheap: O(databases).

        Called at the end of every loop pass: if the pass went over the limit (a hash
        table that doubled, writes that ran before the gate closed), eviction starts from
        the timer at once instead of waiting for the next command.
        """
        near = False
        if self.maxmemory:
            # The tables' and clients' part is re-read every 16th pass (or every pass near
            # the limit); the dataset, which any write moves, every pass.
            self.passes += 1
            used = self.server.memory.for_eviction(refresh=self.near or not self.passes & 15)
            near = used >= self.maxmemory - (self.maxmemory >> 3)
            if used > self.maxmemory:
                self.checked_dirty = -1  # (tables or client buffers grew): check again
                if self.policy != "noeviction":
                    self.start_timer()
        if near != self.near:
            self.near = near
            self.server.refresh_gates()

    # -- processCommand's check --------------------------------------------------------------
    def check(self, c: Client, cmd: Command, flags: frozenset[str], argv: list[bytes]) -> str | None:
        """Evict what is needed before ``cmd`` runs; the OOM error if it must be refused.

        ``flags`` are the flags of what runs (a container's subcommand has its own, e.g.
        FUNCTION LOAD is deny-OOM); a script's declared flags replace them
        (scripting/command_flags.py).  Whether memory was over the limit at the start of
        the command is kept in :attr:`oom_at_start`: a script without declared flags
        refuses its first deny-OOM write on it (Redis's ``pre_command_oom_state``).
        """
        failed = self.oom_at_start = self.perform(c) == EVICT_FAIL
        if not failed:
            return None
        name = cmd.name
        if name in SCRIPT_COMMANDS:
            flags = effective_flags(self.server, name, flags, argv)
        denyoom = DENYOOM in flags or (
            name == "exec" and c.multi is not None and any(DENYOOM in q.flags for q, _a in c.multi))
        if denyoom or (c.multi is not None and name not in _ALLOWED_IN_OOM_MULTI):
            return OOM_ERROR
        return None

    # -- performEvictions --------------------------------------------------------------------
    def perform(self, client: Client | None = None) -> int:
        server = self.server
        ks = server.keyspace
        if not self.maxmemory or ks.loading or server.paused():
            return EVICT_OK
        if server.repl.is_replica and server.config.value("replica-ignore-maxmemory"):
            return EVICT_OK  # the master's DELs keep a replica in step (replica-ignore-maxmemory)
        if ks.dirty == self.checked_dirty and not self.timer_running:
            return EVICT_OK  # nothing was written since usage was last found within the limit
        used = server.memory.for_eviction(refresh=False)
        if used <= self.maxmemory:
            self.checked_dirty = ks.dirty
            self._exceeded(EVICT_OK)
            return EVICT_OK
        if self.policy == "noeviction":
            self._exceeded(EVICT_FAIL)
            return EVICT_FAIL
        to_free = used - self.maxmemory
        limit = time_limit_us(self.tenacity) / 1e6
        start = time.perf_counter()
        freed = evicted = 0
        result = EVICT_FAIL
        while True:
            if freed >= to_free:
                result = EVICT_RUNNING if self.timer_running else EVICT_OK
                break
            pick = self.select()
            if pick is None:
                break  # nothing left that the policy may evict
            db, key = pick
            before = db.dataset()
            self.evict(db, key)
            freed += before - db.dataset()
            evicted += 1
            if evicted % 16 == 0 and time.perf_counter() - start > limit:
                self.start_timer()
                result = EVICT_RUNNING
                break
        if evicted:
            server.commit_ops(client)
        if result == EVICT_OK:
            self.checked_dirty = ks.dirty
        self._exceeded(result)
        return result

    def evict(self, db: Database, key: bytes) -> None:
        server = self.server
        ks = server.keyspace
        db.delete(key)
        ks.evicted_keys += 1
        server.propagate(db.id, [b"DEL", key])
        if ks.on_evict is not None:
            ks.on_evict(db.id, key)

    def _exceeded(self, result: int) -> None:
        if result != EVICT_OK:
            if self.exceeded_since is None:
                self.exceeded_since = time.monotonic()
        elif self.exceeded_since is not None:
            self.exceeded_total += time.monotonic() - self.exceeded_since
            self.exceeded_since = None

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: the time spent above maxmemory starts again from zero."""
        self.exceeded_total = 0.0
        if self.exceeded_since is not None:
            self.exceeded_since = time.monotonic()

    def exceeded_ms(self) -> tuple[int, int]:
        """(total, current) time spent above maxmemory, in milliseconds."""
        current = time.monotonic() - self.exceeded_since if self.exceeded_since is not None else 0.0
        return int((self.exceeded_total + current) * 1000), int(current * 1000)

    # -- the eviction timer ------------------------------------------------------------------
    def start_timer(self) -> None:
        loop = self.server.loop
        if not self.timer_running and loop is not None:
            self.timer_running = True
            loop.call_soon(self._timer)

    def _timer(self) -> None:
        """evictionTimeProc: keep evicting from the next loop passes while above the limit."""
        if self.perform() == EVICT_RUNNING and self.server.loop is not None:
            self.server.loop.call_soon(self._timer)
            return
        self.timer_running = False
        self.refresh()

    # -- choosing a victim -------------------------------------------------------------------
    def select(self) -> tuple[Database, bytes] | None:
        if self.policy.endswith("random"):
            return self._random_victim()
        dbs = self.server.keyspace.dbs
        allkeys = self.policy.startswith("allkeys")
        pool = self.pool
        for _attempt in range(8):  # a round whose samples were all gone is retried
            if not self._populate(allkeys):
                return None
            while pool:
                _score, index, key = pool.pop()
                db = dbs[index]
                if key in (db.data if allkeys else db.expires):
                    return db, key
        return None

    def _populate(self, allkeys: bool) -> bool:
        """evictionPoolPopulate for every database; False when no key may be evicted."""
        ks = self.server.keyspace
        samples = self.samples
        if allkeys:
            total = 0
            for db in ks.dbs:
                if db.data:
                    total += len(db.data)
                    count = min(samples, len(db.data), MAX_SAMPLES)
                    self._insert(db, [k for k in (self._random_key(db) for _ in range(count)) if k])
            return total > 0
        with_ttl = [db for db in ks.dbs if db.expires]
        if not with_ttl:
            return False
        count = min(samples * len(with_ttl), MAX_SAMPLES * len(with_ttl))
        by_db: dict[int, list[bytes]] = {}
        for db, key in self._sample_volatile(count):
            by_db.setdefault(db.id, []).append(key)
        for index, keys in by_db.items():
            self._insert(ks.dbs[index], keys)
        return True

    def _insert(self, db: Database, keys: list[bytes]) -> None:
        """Score sampled keys and merge them into the pool as Redis does."""
        clock = self.server.keyspace.clock
        policy = self.policy
        pool = self.pool
        for key in keys:
            if policy == "volatile-ttl":
                score = -db.expires.get(key, 0)
            else:
                raw = db.access(key)
                if raw is None:
                    raw = clock.lru
                score = 255 - clock.frequency(raw) if policy.endswith("lfu") else clock.idle_ms(raw)
            k = bisect_left(pool, score, key=lambda entry: entry[0])
            if len(pool) >= EVPOOL_SIZE:
                if k == 0:
                    continue  # worse than every candidate we have
                pool.pop(0)  # drop the worst to make room
                k -= 1
            pool.insert(k, (score, db.id, key))

    def _random_key(self, db: Database) -> bytes | None:
        """A uniformly random live key of ``db`` from its keyring (stale slots are dropped)."""
        ring = db.keyring
        data = db.data
        if ring is None or len(ring) > len(data) + (len(data) >> 2) + 1024:
            ring = db.keyring = list(data)  # a quarter stale: start again from the live keys
        for _ in range(64):
            if not ring:
                return None
            i = randrange(len(ring))
            key = ring[i]
            if key in data:
                return key
            last = ring.pop()  # a key deleted since it was added: swap-remove the slot
            if i < len(ring):
                ring[i] = last
        db.keyring = list(data)
        return None

    def _sample_volatile(self, count: int) -> list[tuple[Database, bytes]]:
        """Random keys with a TTL: current entries of the expiry heap (stale ones skipped)."""
        ks = self.server.keyspace
        dbs = ks.dbs
        out: list[tuple[Database, bytes]] = []
        for attempt in range(2):
            heap = ks.expiry_heap
            tries = 0
            while len(out) < count and heap and tries < 8 * count + 64:
                tries += 1
                when, index, key = heap[randrange(len(heap))]
                db = dbs[index]
                if db.expires.get(key) == when:
                    out.append((db, key))
            if out or attempt:
                break
            ks.rebuild_expiry_heap()  # mostly stale entries: keep only the current ones
        return out

    def _random_victim(self) -> tuple[Database, bytes] | None:
        dbs = self.server.keyspace.dbs
        if self.policy == "allkeys-random":
            for _ in range(len(dbs)):
                self.next_db = (self.next_db + 1) % len(dbs)
                db = dbs[self.next_db]
                if db.data:
                    key = self._random_key(db)
                    if key is not None:
                        return db, key
            return None
        picked = self._sample_volatile(1)
        return picked[0] if picked else None

    # -- client eviction (maxmemory-clients) ---------------------------------------------------
    def clients_limit(self) -> int:
        """maxmemory-clients in bytes (a percentage is of maxmemory); 0 when off."""
        raw = str(self.server.config.value("maxmemory-clients")).strip()
        if raw.endswith("%"):
            return self.maxmemory * int(raw[:-1]) // 100
        return int(raw)

    def evict_clients(self) -> int:
        """Disconnect the biggest clients (not NO-EVICT ones) while all clients together hold
        more than maxmemory-clients; returns how many were closed."""
        limit = self.clients_limit()
        if not limit:
            return 0
        from sentrykv_server.memory import client_memory

        server = self.server
        sized = [(client_memory(c), c) for c in server.clients.values() if not c.no_evict and not c.closing]
        total = sum(size for size, _c in sized) + sum(
            client_memory(c) for c in server.clients.values() if c.no_evict)
        closed = 0
        for size, c in sorted(sized, key=lambda pair: pair[0], reverse=True):
            if total <= limit:
                break
            log.warning("Evicting client: %s", c.addr)
            c.close()
            server.stats.evicted_clients += 1
            total -= size
            closed += 1
        return closed

