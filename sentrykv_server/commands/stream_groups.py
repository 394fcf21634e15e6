"""Consumer-group commands (Redis's t_stream.c): XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM.

Logging follows Redis 7.0's propagation, resolved to what actually happened:

* every pending entry XREADGROUP creates or re-delivers, and every entry
  XCLAIM / XAUTOCLAIM claims, is logged as the idempotent
  ``XCLAIM key group consumer 0 id TIME <ms> RETRYCOUNT <n> FORCE JUSTID LASTID <group last ID>``
  (a claimed entry that no longer exists is logged the same way: replaying it
  drops the pending entry, as the original did);
* a group whose last-delivered ID moved is logged as
  ``XGROUP SETID key group <id> ENTRIESREAD <n>``;
* a consumer XREADGROUP creates is logged as ``XGROUP CREATECONSUMER`` (XCLAIM
  on replay would create it too, but not for NOACK reads);
* XACK (and XGROUP, commands/stream_xgroup.py) as sent, when
  they changed something.

Re-deliveries of a consumer's own history (``XREADGROUP ... STREAMS k 0``) bump
delivery time and count; Redis does not propagate that, SentryKV logs it like a
claim so that the pending entries come back from the log exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.blocking_cmds import _block
from sentrykv_server.commands.containers import will_modify
from sentrykv_server.commands.errors import (
    CommandError,
    parse_int,
    syntax_error,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.commands.streams import (
    changed,
    entries_reply,
    get_stream,
    keyed_reply,
    parse_interval,
    parse_read_args,
    parse_strict_id,
    read_deadline,
)
from sentrykv_server.notify import STREAM, notify
from sentrykv_server.protocol.reply import NULL_ARRAY, Raw
from sentrykv_server.store.stream import (
    INVALID_ENTRIES_READ,
    MAX_ID,
    Consumer,
    Group,
    Pending,
    Stream,
    id_bytes,
)

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

GONE = CommandError("UNBLOCKED the stream key no longer exists")
GROUP_GONE = "NOGROUP the consumer group this client was blocked on no longer exists"


# -- entries-read bookkeeping (Redis 7.0's lag tracking) -------------------------------------
def has_tombstones(s: Stream, start: int) -> bool:
    """streamRangeHasTombstones(s, start, +): a deleted entry may lie at or after ``start``."""
    if not s.length or not s.max_deleted:
        return False
    if s.first_id() > s.max_deleted:
        return False
    return start <= s.max_deleted


def estimate_entries_read(s: Stream, packed: int) -> int:
    """streamEstimateDistanceFromFirstEverEntry: the read counter of an ID, or -1."""
    if not s.entries_added:
        return 0
    if not s.length and packed <= s.last_id:
        return s.entries_added
    if packed == s.last_id:
        return s.entries_added
    if packed > s.last_id:
        return INVALID_ENTRIES_READ
    first = s.first_id()
    if not s.max_deleted or s.max_deleted < first:
        if packed < first:
            return s.entries_added - s.length
        if packed == first:
            return s.entries_added - s.length + 1
    return INVALID_ENTRIES_READ


def group_lag(s: Stream, group: Group) -> int | None:
    """The lag XINFO reports (None when it cannot be known)."""
    if not s.entries_added:
        return 0
    if group.entries_read != INVALID_ENTRIES_READ and not has_tombstones(s, group.last_id):
        return s.entries_added - group.entries_read
    read = estimate_entries_read(s, group.last_id)
    return None if read == INVALID_ENTRIES_READ else s.entries_added - read


# -- shared pieces ---------------------------------------------------------------------------
def lookup_consumer(c: Client, db: Database, key: bytes, group: Group, name: bytes, now: int) -> Consumer:
    """streamLookupConsumer(SLC_DEFAULT) or create it (logged as XGROUP CREATECONSUMER)."""
    consumer = group.consumers.get(name)
    if consumer is None:
        consumer = group.create_consumer(name, now)
        c.server.propagate(db.id, [b"XGROUP", b"CREATECONSUMER", key, group.name, name])
        notify(c.server, STREAM, b"xgroup-createconsumer", db, key)
    else:
        consumer.seen_time = now
    return consumer


def log_claim(c: Client, db: Database, key: bytes, group: Group, packed: int, pending: Pending) -> None:
    """streamPropagateXCLAIM: the idempotent XCLAIM that recreates one pending entry."""
    owner, time, count = pending
    c.server.propagate(db.id, [
        b"XCLAIM", key, group.name, owner, b"0", id_bytes(packed),
        b"TIME", b"%d" % time, b"RETRYCOUNT", b"%d" % count,
        b"FORCE", b"JUSTID", b"LASTID", id_bytes(group.last_id),
    ])


def log_group_id(c: Client, db: Database, key: bytes, group: Group) -> None:
    """streamPropagateGroupID."""
    c.server.propagate(db.id, [
        b"XGROUP", b"SETID", key, group.name, id_bytes(group.last_id),
        b"ENTRIESREAD", b"%d" % group.entries_read,
    ])


def nogroup(key: bytes, group: bytes, suffix: str = "") -> CommandError:
    k, g = key.decode("utf-8", "replace"), group.decode("utf-8", "replace")
    return CommandError(f"NOGROUP No such key '{k}' or consumer group '{g}'{suffix}")


def stream_group(db: Database, key: bytes, name: bytes, read: bool = True) -> tuple[Stream, Group] | None:
    s = get_stream(db, key, read)
    if s is None:
        return None
    group = s.groups.get(name)
    return None if group is None else (s, group)


# -- XREADGROUP ------------------------------------------------------------------------------
def deliver_new(c: Client, db: Database, key: bytes, s: Stream, group: Group, consumer: Consumer,
                count: int, noack: bool, now: int) -> Raw:
    """Serve ``>``: entries after the group's last ID, into the consumer's PEL (unless NOACK)."""
    items = s.range(group.last_id + 1 if group.last_id < MAX_ID else MAX_ID, MAX_ID, count)
    moved = False
    for packed, _blob in items:
        if packed > group.last_id:
            if group.entries_read != INVALID_ENTRIES_READ and not has_tombstones(s, packed):
                group.entries_read += 1
            elif s.entries_added:
                group.entries_read = estimate_entries_read(s, packed)
            group.last_id = packed
            moved = True
        if not noack:
            nack = group.assign(packed, consumer, now, 1)
            log_claim(c, db, key, group, packed, nack)
    if moved:
        log_group_id(c, db, key, group)
    return entries_reply(items)


def deliver_history(c: Client, db: Database, key: bytes, s: Stream, group: Group, consumer: Consumer,
                    after: int, count: int, now: int) -> Raw:
    """Serve an explicit ID: the consumer's own pending entries after it, re-delivered."""
    start = after + 1
    missing = b"_\r\n" if c.resp3 else b"*-1\r\n"
    parts: list[bytes] = []
    for packed in consumer.pel.irange(start):
        if count and len(parts) >= count:
            break
        idb = id_bytes(packed)
        blob = s.get(packed)
        head = b"*2\r\n$%d\r\n%s\r\n" % (len(idb), idb)
        if blob is None:
            parts.append(head + missing)
            continue
        parts.append(head + blob)
        pending = group.pel[packed] = (consumer.name, now, group.pel[packed][2] + 1)
        log_claim(c, db, key, group, packed, pending)
    return Raw(b"*%d\r\n" % len(parts) + b"".join(parts))


@command("xreadgroup", -7, "write blocking", group="stream", since="5.0.0")
def xreadgroup_cmd(c: Client, argv: list[bytes]) -> Any:
    """Read from streams as a consumer of a group, optionally blocking."""
    args = parse_read_args(argv, True, getattr(c, "in_script", False))
    assert args.group is not None
    gname = args.group
    db = c.db
    after: list[int | None] = []  # None for ">"
    for key, raw in zip(args.keys, args.ids, strict=True):
        s = get_stream(db, key)
        if s is None or gname not in s.groups:
            raise nogroup(key, gname, " in XREADGROUP with GROUP option")
        if raw == b"$":
            raise CommandError(
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                "history of this consumer by specifying a proper ID, or use the > ID to get new "
                "messages. The $ ID would just return an empty result set."
            )
        # The last possible ID is how Redis encodes ">" internally: it reads as ">".
        packed = MAX_ID if raw == b">" else parse_strict_id(raw)
        after.append(None if packed == MAX_ID else packed)
    now = db.keyspace.now()
    served: list[tuple[bytes, Any]] = []
    for key, gt in zip(args.keys, after, strict=True):
        s = get_stream(db, key)
        assert s is not None
        group = s.groups[gname]
        if gt is None and not (s.length and s.last_valid_id() > group.last_id):
            continue  # nothing to serve: the consumer is not even created (as Redis)
        will_modify(db, key)
        consumer = lookup_consumer(c, db, key, group, args.consumer, now)
        if gt is not None:
            served.append((key, deliver_history(c, db, key, s, group, consumer, gt, args.count, now)))
        else:
            served.append((key, deliver_new(c, db, key, s, group, consumer, args.count, args.noack, now)))
        changed(db)
    if served:
        return keyed_reply(c, served)
    if args.timeout < 0:
        return NULL_ARRAY
    count = args.count or 1000
    consumer_name, noack = args.consumer, args.noack

    def serve(client: Client, sdb: Database, key: bytes) -> Any:
        s = sdb.lookup(key)
        group = s.groups.get(gname)
        if group is None:
            return CommandError(GROUP_GONE)
        if s.last_id <= group.last_id:
            return None
        now = sdb.keyspace.now()
        will_modify(sdb, key)
        consumer = lookup_consumer(client, sdb, key, group, consumer_name, now)
        reply = deliver_new(client, sdb, key, s, group, consumer, count, noack, now)
        changed(sdb)
        return keyed_reply(client, [(key, reply)])

    return _block(c, args.keys, Stream, read_deadline(c, args.timeout), serve, NULL_ARRAY, gone=GONE)


# -- XACK ------------------------------------------------------------------------------------
@command("xack", -4, "write fast", 1, 1, 1, group="stream", since="5.0.0")
def xack_cmd(c: Client, argv: list[bytes]) -> Any:
    """Acknowledge pending entries of a group; how many were pending."""
    db = c.db
    key = argv[1]
    found = stream_group(db, key, argv[2])
    if found is None:
        return 0
    group = found[1]
    ids = [parse_strict_id(raw) for raw in argv[3:]]
    will_modify(db, key)
    acked = sum(1 for packed in ids if group.ack(packed))
    if acked:
        changed(db)
        c.server.propagate(db.id, argv)
    return acked


# -- XPENDING --------------------------------------------------------------------------------
@command("xpending", -3, "readonly", 1, 1, 1, group="stream", since="5.0.0")
def xpending_cmd(c: Client, argv: list[bytes]) -> Any:
    """Summary of a group's pending entries, or the entries of an ID range."""
    n = len(argv)
    if n != 3 and not 6 <= n <= 9:
        raise syntax_error()
    min_idle = 0
    count = 0
    start = end = 0
    consumer_name: bytes | None = None
    if n >= 6:
        at = 3
        if argv[3].lower() == b"idle":
            min_idle = parse_int(argv[4])
            if n < 8:
                raise syntax_error()
            at = 5
        count = max(0, parse_int(argv[at + 2]))
        start, ex = parse_interval(argv[at], 0)
        if ex:
            if start == MAX_ID:
                raise CommandError("ERR invalid start ID for the interval")
            start += 1
        end, ex = parse_interval(argv[at + 1], (1 << 64) - 1)
        if ex:
            if end == 0:
                raise CommandError("ERR invalid end ID for the interval")
            end -= 1
        if at + 3 < n:
            consumer_name = argv[at + 3]
    key, gname = argv[1], argv[2]
    found = stream_group(c.db, key, gname)
    if found is None:
        raise nogroup(key, gname)
    group = found[1]
    pel = group.pel
    if n == 3:
        if not pel:
            return [0, None, None, NULL_ARRAY]
        owners = [[name, b"%d" % len(group.consumers[name].pel)]
                  for name in sorted(group.consumers) if group.consumers[name].pel]
        return [len(pel), id_bytes(pel.keys()[0]), id_bytes(pel.keys()[-1]), owners]
    if consumer_name is not None:
        consumer = group.consumers.get(consumer_name)
        if consumer is None:
            return []
        pel = consumer.pel
    now = c.db.keyspace.now()
    out = []
    if count:
        for packed in pel.irange(start, end):
            owner, time, delivered = group.pel[packed]
            idle = now - time
            if min_idle and idle < min_idle:
                continue
            out.append([id_bytes(packed), owner, max(0, idle), delivered])
            if len(out) == count:
                break
    return out


# -- XCLAIM ----------------------------------------------------------------------------------
def claim_reply(s: Stream, packed: int, justid: bool) -> bytes:
    if justid:
        idb = id_bytes(packed)
        return b"$%d\r\n%s\r\n" % (len(idb), idb)
    blob = s.get(packed)
    assert blob is not None
    idb = id_bytes(packed)
    return b"*2\r\n$%d\r\n%s\r\n%s" % (len(idb), idb, blob)


def _claim_option(argv: list[bytes], j: int, what: str) -> int:
    return parse_int(argv[j], f"ERR Invalid {what} option argument for XCLAIM")


@command("xclaim", -6, "write fast", 1, 1, 1, group="stream", since="5.0.0")
def xclaim_cmd(c: Client, argv: list[bytes]) -> Any:
    """Take over pending entries idle for at least min-idle-time."""
    db = c.db
    key, gname, name = argv[1], argv[2], argv[3]
    found = stream_group(db, key, gname)
    if found is None:
        raise nogroup(key, gname)
    s, group = found
    min_idle = max(0, parse_int(argv[4], "ERR Invalid min-idle-time argument for XCLAIM"))
    ids: list[int] = []
    j = 5
    n = len(argv)
    while j < n:
        try:
            ids.append(parse_strict_id(argv[j]))
        except CommandError:
            break
        j += 1
    now = db.keyspace.now()
    force = justid = False
    retrycount = -1
    delivery = -1
    last_id = 0
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            delivery = now - _claim_option(argv, j, "IDLE")
        elif opt == b"time" and more:
            j += 1
            delivery = _claim_option(argv, j, "TIME")
        elif opt == b"retrycount" and more:
            j += 1
            retrycount = _claim_option(argv, j, "RETRYCOUNT")
        elif opt == b"lastid" and more:
            j += 1
            last_id = parse_strict_id(argv[j])
        else:
            raise CommandError(f"ERR Unrecognized XCLAIM option '{argv[j].decode('utf-8', 'replace')}'")
        j += 1
    will_modify(db, key)
    moved = last_id > group.last_id
    if moved:
        group.last_id = last_id
    if delivery < 0 or delivery > now:
        delivery = now
    consumer: Consumer | None = None
    parts: list[bytes] = []
    for packed in ids:
        nack = group.pel.get(packed)
        if s.find(packed) is None:
            if nack is not None:
                log_claim(c, db, key, group, packed, nack)
                moved = False
                group.ack(packed)
            continue
        if nack is None:
            if not force:
                continue
            fresh = True
        else:
            fresh = False
            if min_idle and now - nack[1] < min_idle:
                continue
        if consumer is None:
            consumer = lookup_consumer(c, db, key, group, name, now)
        if fresh:
            count = 1
        else:
            assert nack is not None
            count = nack[2]
        if retrycount >= 0:
            count = retrycount
        elif not justid:
            count += 1
        nack = group.assign(packed, consumer, delivery, count)
        parts.append(claim_reply(s, packed, justid))
        log_claim(c, db, key, group, packed, nack)
        moved = False
    if moved:
        log_group_id(c, db, key, group)
    changed(db)
    return Raw(b"*%d\r\n" % len(parts) + b"".join(parts))


# -- XAUTOCLAIM ------------------------------------------------------------------------------
_AUTOCLAIM_MAX_COUNT = ((1 << 63) - 1) // 16  # LONG_MAX / max(sizeof(streamID), attempts factor)
_TRANSIENT_MEMORY_LIMIT = 1 << 46  # bytes Redis fails to allocate for the deleted-IDs buffer


@command("xautoclaim", -6, "write fast", 1, 1, 1, group="stream", since="6.2.0")
def xautoclaim_cmd(c: Client, argv: list[bytes]) -> Any:
    """Claim pending entries idle long enough, scanning the PEL from a cursor."""
    min_idle = max(0, parse_int(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"))
    start, ex = parse_interval(argv[5], 0)
    if ex:
        if start == MAX_ID:
            raise CommandError("ERR invalid start ID for the interval")
        start += 1
    count = 100
    justid = False
    j = 6
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"count" and n - 1 - j:
            count = parse_int(argv[j + 1], "ERR COUNT must be > 0")
            if not 1 <= count <= _AUTOCLAIM_MAX_COUNT:
                raise CommandError("ERR COUNT must be > 0")
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise syntax_error()
        j += 1
    db = c.db
    key, gname, name = argv[1], argv[2], argv[3]
    found = stream_group(db, key, gname)
    if found is None:
        raise nogroup(key, gname)
    if count * 16 >= _TRANSIENT_MEMORY_LIMIT:
        raise CommandError("ERR Insufficient memory, failed allocating transient memory, COUNT too high.")
    s, group = found
    will_modify(db, key)
    now = db.keyspace.now()
    attempts = count * 10
    consumer: Consumer | None = None
    parts: list[bytes] = []
    deleted: list[bytes] = []
    cursor = 0
    pel = group.pel
    scan = pel.irange(start)
    while True:
        packed = next(scan, None)
        if packed is None:
            break
        if not (attempts and count):
            cursor = packed
            break
        attempts -= 1
        nack = pel[packed]
        if s.find(packed) is None:
            log_claim(c, db, key, group, packed, nack)
            group.ack(packed)
            deleted.append(id_bytes(packed))
            count -= 1
            scan = pel.irange(packed, inclusive=(False, True))
            continue
        if min_idle and now - nack[1] < min_idle:
            continue
        if consumer is None:
            consumer = lookup_consumer(c, db, key, group, name, now)
        nack = group.assign(packed, consumer, now, nack[2] if justid else nack[2] + 1)
        parts.append(claim_reply(s, packed, justid))
        count -= 1
        log_claim(c, db, key, group, packed, nack)
    changed(db)
    deleted_reply = b"*%d\r\n" % len(deleted) + b"".join(b"$%d\r\n%s\r\n" % (len(d), d) for d in deleted)
    head = id_bytes(cursor)
    return Raw(b"*3\r\n$%d\r\n%s\r\n" % (len(head), head) + b"*%d\r\n" % len(parts) + b"".join(parts)
               + deleted_reply)
