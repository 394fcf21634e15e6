"""The per-key access clock: Redis's 24-bit LRU field and its LFU counter (evict.c).

Redis keeps 24 bits in every object header: the LRU clock (seconds, wrapping
every 194 days) of the last access, or, under an LFU ``maxmemory-policy``, a
16-bit time in minutes plus an 8-bit logarithmic access counter.  A Python
value has no spare header bits (strings are immutable ``bytes``), so each
database keeps one extra dict, ``Database.lru``: key -> that same 24-bit
field, with the same meaning and the same arithmetic.

The hot path records an access with one dict store, ``db.lru[key] = db.clock``:

* LRU policies: ``db.clock`` is the cached LRU clock (an int shared by every
  key touched in the same second, so the stores allocate nothing) and
  ``db.lru`` is a plain dict.
* LFU policies: ``db.lru`` is an :class:`LFUCounters` dict whose
  ``__setitem__`` applies Redis's rules, and ``db.clock`` is the :data:`TOUCH`
  marker (decay, then logarithmic increment).  Code that stores a *new value
  object* writes ``db.wclock`` instead: the LRU clock, or under LFU the
  :data:`CREATE` marker, which initialises a new key to ``LFU_INIT_VAL`` and
  keeps the counter of a key being overwritten (Redis's dbAdd/dbOverwrite).

Switching policy between LRU and LFU converts no value, exactly like Redis:
the 24 bits are read the other way until keys are touched again.
"""

from __future__ import annotations

import random
import time
from typing import Any

LRU_CLOCK_MAX = (1 << 24) - 1
LRU_CLOCK_RESOLUTION = 1000  # milliseconds per LRU clock tick
LFU_INIT_VAL = 5

_random = random.random


class AccessClock:
    """The clocks and LFU tunables every database reads (updated by the server cron)."""

    __slots__ = ("lru", "minutes", "log_factor", "decay_time")

    def __init__(self) -> None:
        self.log_factor = 10
        self.decay_time = 1
        self.lru = 0
        self.minutes = 0
        self.tick(time.time())

    def tick(self, now: float) -> None:
        """Redis's serverCron: ``server.lruclock`` and the LFU minute clock."""
        self.lru = int(now) & LRU_CLOCK_MAX  # (mstime / LRU_CLOCK_RESOLUTION) & LRU_CLOCK_MAX
        self.minutes = (int(now) // 60) & 0xFFFF

    def idle_ms(self, raw: int) -> int:
        """estimateObjectIdleTime: milliseconds since the access recorded in ``raw``."""
        now = self.lru
        if now >= raw:
            return (now - raw) * LRU_CLOCK_RESOLUTION
        return (now + (LRU_CLOCK_MAX - raw)) * LRU_CLOCK_RESOLUTION

    def frequency(self, raw: int) -> int:
        """LFUDecrAndReturn: the counter after the decay its idle minutes call for."""
        ldt = raw >> 8
        counter = raw & 255
        decay = self.decay_time
        if decay:
            now = self.minutes
            elapsed = now - ldt if now >= ldt else 65535 - ldt + now
            periods = elapsed // decay
            if periods:
                counter = 0 if periods > counter else counter - periods
        return counter

    def lfu_touched(self, raw: int | None) -> int:
        """updateLFU: decay, then one logarithmic increment, stamped with the current minute."""
        if raw is None:
            return (self.minutes << 8) | LFU_INIT_VAL
        counter = self.frequency(raw)
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if base <= 0 or _random() < 1.0 / (base * self.log_factor + 1):
                counter += 1
        return (self.minutes << 8) | counter


class _Marker:
    """A value written into an :class:`LFUCounters` dict that names an operation."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


TOUCH: Any = _Marker("lfu-touch")
CREATE: Any = _Marker("lfu-create")


class LFUCounters(dict[bytes, int]):
    """key -> (minutes << 8) | counter; storing a marker applies Redis's LFU rule."""

    __slots__ = ("clock",)

    def __init__(self, clock: AccessClock, items: Any = ()) -> None:
        super().__init__(items)
        self.clock = clock

    def __setitem__(self, key: bytes, value: Any) -> None:
        if value is TOUCH:
            dict.__setitem__(self, key, self.clock.lfu_touched(self.get(key)))
        elif value is CREATE:
            if key not in self:
                dict.__setitem__(self, key, (self.clock.minutes << 8) | LFU_INIT_VAL)
        else:
            dict.__setitem__(self, key, value)


def idle_or_freq_value(clock: AccessClock, lfu: bool, freq: int, idle_s: int, multiplier: int = 1000) -> int | None:
    """objectSetLRUOrLFU: the raw field for a key restored with FREQ / IDLETIME (RESTORE, RDB).

    ``freq`` (0..255) only counts under an LFU policy and ``idle_s`` (seconds)
    only under the others; -1 means "not given".  Returns None when nothing is
    to be set, so the key keeps the field it got on creation.
    """
    if lfu:
        if freq >= 0:
            return (clock.minutes << 8) | min(freq, 255)
        return None
    if idle_s < 0:
        return None
    idle = idle_s * multiplier // LRU_CLOCK_RESOLUTION
    absolute = clock.lru - idle
    if absolute < 0:  # wrapped: half-way round the circle keeps the idle time large
        absolute = (clock.lru + LRU_CLOCK_MAX // 2) % LRU_CLOCK_MAX
    return absolute
