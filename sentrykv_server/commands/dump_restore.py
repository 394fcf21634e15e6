"""DUMP and RESTORE (Redis's cluster.c dumpCommand / restoreCommand).

The payload is Redis 7.0's (RDB version 10, CRC-64 trailer; see
``persistence/rdb``), so values move between SentryKV and redis-server in both
directions.  RESTORE logs itself with an absolute TTL (``ABSTTL``) and
``REPLACE``, so replaying the log recreates exactly the key it created; a
RESTORE whose TTL is already in the past creates nothing and logs only the
DEL of the key it replaced, as Redis propagates it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, notify
from sentrykv_server.persistence.rdb import payload as rdb_payload
from sentrykv_server.persistence.rdb.constants import RdbError
from sentrykv_server.persistence.rdb.decode import Limits, Unsupported
from sentrykv_server.store.access import idle_or_freq_value
from sentrykv_server.store.lists import QuickList
from sentrykv_server.store.zset import ZSet

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

log = logging.getLogger("sentrykv.restore")

BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
BAD_FORMAT = "ERR Bad data format"
BUSYKEY = "BUSYKEY Target key name already exists."


def limits_of(c: Client) -> Limits:
    return Limits.from_config(c.server.config)


@command("dump", 2, "readonly", 1, 1, 1, group="generic", since="2.6.0")
def dump_cmd(c: Client, argv: list[bytes]) -> Any:
    """Serialize a key's value in Redis's DUMP format."""
    value = c.db.lookup_read(argv[1])
    if value is None:
        return None
    try:
        return rdb_payload.dump(value, limits_of(c))
    except TypeError as exc:  # a value type without an RDB encoding yet
        raise CommandError(f"ERR {exc}") from None


def decode_payload(c: Client, data: bytes) -> Any:
    """The value of a RESTORE payload, or the error Redis replies for it."""
    try:
        return rdb_payload.restore(data, limits_of(c))
    except rdb_payload.BadPayload:
        raise CommandError(BAD_PAYLOAD) from None
    except Unsupported as exc:
        log.warning("RESTORE refused: the payload holds %s", exc)
        raise CommandError(BAD_FORMAT) from None
    except RdbError as exc:
        log.debug("RESTORE refused a payload: %s", exc)
        raise CommandError(BAD_FORMAT) from None


def _restore(c: Client, argv: list[bytes]) -> Any:
    replace = absttl = False
    idle = freq = -1
    options: list[bytes] = []
    i = 4
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        more = n - i - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(argv[i + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            options += argv[i:i + 2]
            i += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(argv[i + 1])
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            options += argv[i:i + 2]
            i += 1
        else:
            raise syntax_error()
        i += 1
    db = c.db
    key = argv[1]
    if not replace and db.lookup(key) is not None:
        raise CommandError(BUSYKEY)
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    value = decode_payload(c, argv[3])
    deleted = replace and db.lookup(key) is not None and db.delete(key)
    now = db.keyspace.now()
    if ttl and not absttl:
        ttl += now
    if ttl and ttl <= now and not db.keyspace.loading:
        if deleted:
            c.server.propagate(db.id, [b"DEL", key])
            notify(c.server, GENERIC, b"del", db, key)
        return "OK"
    db.add(key, value)
    raw = idle_or_freq_value(db.keyspace.clock, db.lfu, freq, idle)
    if raw is not None:  # IDLETIME / FREQ: Redis's objectSetLRUOrLFU
        db.set_access(key, raw)
    if ttl:
        db.set_expire(key, ttl)
    c.server.propagate(db.id, [b"RESTORE", key, b"%d" % ttl, argv[3], b"ABSTTL", b"REPLACE", *options])
    notify(c.server, GENERIC, b"restore", db, key)
    if type(value) in (QuickList, ZSet):
        db.keyspace.signal_ready(db, key)
    return "OK"


@command("restore", -4, "write denyoom", 1, 1, 1, group="generic", since="2.6.0")
def restore_cmd(c: Client, argv: list[bytes]) -> Any:
    """Create a key from a DUMP payload."""
    return _restore(c, argv)


@command("restore-asking", -4, "write denyoom asking", 1, 1, 1, group="server", since="3.0.0")
def restore_asking_cmd(c: Client, argv: list[bytes]) -> Any:
    """RESTORE as a cluster sends it during slot migration (the same here: no cluster)."""
    return _restore(c, argv)
