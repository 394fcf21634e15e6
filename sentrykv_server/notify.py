"""Keyspace notifications (Redis's notify.c).

With ``notify-keyspace-events`` set, every change to a key is published on two
Pub/Sub channels::

    __keyspace@<db>__:<key>     message = the event name   ('K')
    __keyevent@<db>__:<event>   message = the key name     ('E')

Commands call :func:`notify` with the event's class and Redis's event name
right where Redis calls ``notifyKeyspaceEvent``, so events come out in
Redis's order (e.g. ``lpop`` before the ``del`` of the emptied list, the
destination's ``rpush`` before the source's ``lpop`` in LMOVE).  Three events
come from the keyspace itself rather than from commands, through hooks this
module installs on :class:`~sentrykv_server.store.keyspace.Keyspace`:
``new`` (a key is created, Redis's dbAdd), ``keymiss`` (a read finds no key,
lookupKeyRead), ``expired`` (lazy and active expiry, via the server's
``on_expire``) and ``evicted`` (maxmemory eviction calls ``on_evict``).

Cost when notifications are off: ``server.notify_flags`` is 0, so hot
commands test that one attribute before calling :func:`notify`, the others
call it and it returns on the same test; the keyspace hooks are ``None`` and
the write paths test nothing more than before (see Keyspace.observed).
``notify_flags`` is the *effective* mask: 0 unless at least one of K/E and
one event class are set, since nothing would be delivered otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentrykv_server.server import Server
    from sentrykv_server.store.keyspace import Database

# Redis's NOTIFY_* bits.
KEYSPACE = 1 << 0  # K
KEYEVENT = 1 << 1  # E
GENERIC = 1 << 2  # g
STRING = 1 << 3  # $
LIST = 1 << 4  # l
SET = 1 << 5  # s
HASH = 1 << 6  # h
ZSET = 1 << 7  # z
EXPIRED = 1 << 8  # x
EVICTED = 1 << 9  # e
STREAM = 1 << 10  # t
KEY_MISS = 1 << 11  # m
LOADED = 1 << 12  # module-only, no letter
MODULE = 1 << 13  # d
NEW = 1 << 14  # n
# 'A': every class except key misses and new keys ("AKE" is all the usual events).
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_LETTERS = {
    "A": ALL, "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET,
    "x": EXPIRED, "e": EVICTED, "K": KEYSPACE, "E": KEYEVENT, "t": STREAM, "m": KEY_MISS,
    "d": MODULE, "n": NEW,
}
# keyspaceEventsFlagsToString's order for the classes shown when not all of 'A' is set.
_CLASS_ORDER = (
    ("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH), ("z", ZSET),
    ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE), ("n", NEW),
)
INVALID_CLASS = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
_CHANNEL_KINDS = KEYSPACE | KEYEVENT


def parse_flags(text: str) -> int:
    """keyspaceEventsStringToFlags; ValueError(INVALID_CLASS) on an unknown letter.

    Redis reads the value as a C string: a NUL byte ends it.
    """
    flags = 0
    for ch in text.split("\0", 1)[0]:
        bit = _LETTERS.get(ch)
        if bit is None:
            raise ValueError(INVALID_CLASS)
        flags |= bit
    return flags


def format_flags(flags: int) -> str:
    """keyspaceEventsFlagsToString, CONFIG GET's canonical form.

    Like Redis 7.0, 'n' is only shown when 'A' is not complete ("KEAn" reads
    back as "AKE" although new-key events stay on).
    """
    if flags & ALL == ALL:
        out = "A"
    else:
        out = "".join(letter for letter, bit in _CLASS_ORDER if flags & bit)
    if flags & KEYSPACE:
        out += "K"
    if flags & KEYEVENT:
        out += "E"
    if flags & KEY_MISS:
        out += "m"
    return out


def effective(flags: int) -> int:
    """The mask :func:`notify` tests: 0 unless something can actually be delivered."""
    if flags & _CHANNEL_KINDS and flags & ~_CHANNEL_KINDS:
        return flags
    return 0


def configure(server: Server, flags: int) -> None:
    """Apply a notify-keyspace-events value (start-up and CONFIG SET)."""
    mask = effective(flags)
    server.notify_flags = mask
    ks = server.keyspace
    ks.on_new = (lambda db, key: notify(server, NEW, b"new", db, key)) if mask & NEW else None
    ks.set_miss_hook((lambda db, key: notify(server, KEY_MISS, b"keymiss", db, key)) if mask & KEY_MISS else None)
    ks.on_evict = (lambda index, key: notify(server, EVICTED, b"evicted", ks.dbs[index], key)) \
        if mask & EVICTED else None
    ks.refresh_observed()


def notify(server: Server, cls: int, event: bytes, db: Database, key: bytes) -> None:
    """Publish ``event`` on ``key`` of ``db`` (Redis's notifyKeyspaceEvent)."""
    flags = server.notify_flags
    if not flags & cls:
        return
    pubsub = server.pubsub
    if not pubsub.channels and not pubsub.patterns:
        return  # nobody listens (also: log replay at start-up)
    prefix = b"@%d__:" % db.id
    if flags & KEYSPACE:
        pubsub.publish(b"__keyspace" + prefix + key, event)
    if flags & KEYEVENT:
        pubsub.publish(b"__keyevent" + prefix + event, key)
