"""Stream commands without consumer groups (Redis's t_stream.c): XADD XRANGE XREVRANGE
XLEN XDEL XTRIM XSETID XREAD, plus the ID parsing and reply building the group
commands (commands/stream_groups.py) and XINFO (commands/stream_info.py) share.

What gets logged is the effect, as Redis 7.0 propagates it: XADD with the ID it
generated (``*`` and ``<ms>-*`` resolved); an approximate trim (``~``, with or
without LIMIT) rewritten as the exact trim it performed (``MAXLEN = <length
after>`` or ``MINID = <first ID after>``, no LIMIT), so that replaying never
depends on node boundaries or limits; XDEL/XTRIM only when they removed
something.  XREAD is a read and logs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.blocking_cmds import _block
from sentrykv_server.commands.common import get_typed
from sentrykv_server.commands.containers import config_int, modified, will_modify
from sentrykv_server.commands.errors import (
    NO_SUCH_KEY,
    CommandError,
    c_text,
    parse_int,
    syntax_error,
    wrong_args,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import STREAM, notify
from sentrykv_server.protocol.reply import NULL_ARRAY, Raw
from sentrykv_server.store.stream import MASK64, MAX_ID, Stream, id_bytes

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.store.keyspace import Database

INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
XREAD_BLOCKED_DEFAULT_COUNT = 1000
_SPACES = b" \t\n\v\f\r"


# -- IDs -------------------------------------------------------------------------------------
def _strtoull(text: bytes) -> int | None:
    """Redis's string2ull: string2ll first (a negative number fails), then C's strtoull
    (leading spaces, a sign, leading zeros; '-n' wraps modulo 2^64)."""
    if text.isdigit():
        value = int(text)
        return value if value <= MASK64 else None
    if text[:1] == b"-" and text[1:].isdigit() and text[1:2] != b"0" and int(text[1:]) <= 1 << 63:
        return None  # string2ll took it: a negative number
    rest = text.lstrip(_SPACES)
    negative = rest[:1] == b"-"
    if rest[:1] in (b"+", b"-"):
        rest = rest[1:]
    if not rest.isdigit():
        return None
    value = int(rest)
    if value > MASK64:
        return None
    return (-value) & MASK64 if negative else value


def parse_id(raw: bytes, missing_seq: int = 0, strict: bool = False) -> int:
    """streamGenericParseIDOrReply: ``<ms>[-<seq>]``, or ``-`` / ``+`` unless strict."""
    packed, _given = _parse_id(raw, missing_seq, strict, False)
    return packed


def _parse_id(raw: bytes, missing_seq: int, strict: bool, star: bool) -> tuple[int, bool]:
    if len(raw) > 127:
        raise CommandError(INVALID_ID)
    buf = raw.split(b"\0", 1)[0]  # the C string ends at a NUL
    if buf == b"-":
        if strict:
            raise CommandError(INVALID_ID)
        return 0, True
    if buf == b"+":
        if strict:
            raise CommandError(INVALID_ID)
        return MAX_ID, True
    ms_text, dash, seq_text = buf.partition(b"-")
    ms = _strtoull(ms_text)
    if ms is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return ms << 64 | missing_seq, True
    if star and seq_text == b"*":
        return ms << 64, False
    seq = _strtoull(seq_text)
    if seq is None:
        raise CommandError(INVALID_ID)
    return ms << 64 | seq, True


def parse_strict_id(raw: bytes, missing_seq: int = 0) -> int:
    return parse_id(raw, missing_seq, True)


def parse_interval(raw: bytes, missing_seq: int) -> tuple[int, bool]:
    """streamParseIntervalIDOrReply: an ID, or ``(ID`` (exclusive, strict)."""
    if len(raw) > 1 and raw[:1] == b"(":
        return parse_id(raw[1:], missing_seq, True), True
    return parse_id(raw, missing_seq), False


def parse_count(raw: bytes) -> int:
    """A COUNT argument: any integer, negative meaning 0."""
    return max(0, parse_int(raw))


# -- replies ---------------------------------------------------------------------------------
def entry_bytes(packed: int, blob: bytes) -> bytes:
    idb = id_bytes(packed)
    return b"*2\r\n$%d\r\n%s\r\n%s" % (len(idb), idb, blob)


def entries_reply(items: list[tuple[int, bytes]]) -> Raw:
    """An array of ``[id, [field, value, ...]]`` entries, encoded once (same in RESP2/3)."""
    parts = [b"*%d\r\n" % len(items)]
    for packed, blob in items:
        idb = id_bytes(packed)
        parts.append(b"*2\r\n$%d\r\n%s\r\n%s" % (len(idb), idb, blob))
    return Raw(b"".join(parts))


def range_reply(s: Stream, start: int, end: int, count: int = 0, rev: bool = False) -> Raw:
    """The entries of a range, encoded straight from the nodes (XRANGE, XREAD)."""
    n, parts = s.range_encoded(start, end, count, rev)
    return Raw(b"*%d\r\n" % n + b"".join(parts))


def keyed_reply(c: Client, pairs: list[tuple[bytes, Any]]) -> Any:
    """XREAD/XREADGROUP's outer shape: RESP3 map of key -> entries, RESP2 array of pairs."""
    if c.resp3:
        return dict(pairs)
    return [[key, value] for key, value in pairs]


# -- lookups ---------------------------------------------------------------------------------
def get_stream(db: Database, key: bytes, read: bool = True) -> Stream | None:
    return get_typed(db, key, Stream, read)


def stream_or_error(db: Database, key: bytes, read: bool = False) -> Stream:
    s = get_stream(db, key, read)
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    return s


def changed(db: Database) -> None:
    """A stream write Redis does not signal as a key modification (it breaks no WATCH):
    consumer-group state, XSETID.  It still counts as a change since the last save."""
    db.keyspace.dirty += 1


def node_limits(c: Client) -> tuple[int, int]:
    value = c.server.config.value
    return value("stream-node-max-bytes"), value("stream-node-max-entries")


# -- XADD / XTRIM ----------------------------------------------------------------------------
class TrimArgs:
    """streamAddTrimArgs: what MAXLEN/MINID/LIMIT/NOMKSTREAM and the ID said."""

    __slots__ = ("maxlen", "minid", "approx", "limit", "nomkstream", "id", "id_given", "seq_given", "idpos")

    def __init__(self) -> None:
        self.maxlen: int | None = None
        self.minid: int | None = None
        self.approx = False
        self.limit = 0
        self.nomkstream = False
        self.id = 0
        self.id_given = False
        self.seq_given = True
        self.idpos = 0

    @property
    def trimming(self) -> bool:
        return self.maxlen is not None or self.minid is not None


_BOTH = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"


_PLAIN_XADD = TrimArgs()  # ``XADD key * ...``: shared, never modified
_PLAIN_XADD.idpos = 2


def parse_trim_args(c: Client, argv: list[bytes], xadd: bool) -> TrimArgs:
    """streamParseAddOrTrimArgsOrReply, with its checks in Redis's order."""
    if xadd and argv[2] == b"*":
        return _PLAIN_XADD
    args = TrimArgs()
    limit_given = False
    i = 2
    n = len(argv)
    while i < n:
        more = n - 1 - i
        opt = argv[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if (low == b"maxlen" or low == b"minid") and more:
            if args.trimming:
                raise CommandError(_BOTH)
            args.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                args.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            if low == b"maxlen":
                value = parse_int(argv[i + 1])
                if value < 0:
                    raise CommandError("ERR The MAXLEN argument must be >= 0.")
                args.maxlen = value
            else:
                args.minid = parse_strict_id(argv[i + 1])
            i += 1
        elif low == b"limit" and more:
            value = parse_int(argv[i + 1])
            if value < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            args.limit = value
            limit_given = True
            i += 1
        elif xadd and low == b"nomkstream":
            args.nomkstream = True
        elif xadd:
            args.id, args.seq_given = _parse_id(opt, 0, True, True)
            args.id_given = True
            break
        else:
            raise syntax_error()
        i += 1
    args.idpos = i
    if args.limit and not args.trimming:
        raise CommandError("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    if not xadd and not args.trimming:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not args.approx:
            raise CommandError("ERR syntax error, LIMIT cannot be used without the special ~ option")
    elif args.approx:
        limit = 100 * config_int(c, "stream-node-max-entries")
        args.limit = limit if 0 < limit <= 1000000 else 10000
    else:
        args.limit = 0
    return args


def trim(s: Stream, args: TrimArgs) -> tuple[int, list[bytes]]:
    """Trim as asked; (entries removed, the exact trim arguments to log).

    The log record must reproduce the trim exactly on replay, node for node
    (later approximate trims depend on the node layout), without LIMIT
    (streamRewriteTrimArgument).  An exact trim is logged as asked.  An
    approximate one removed whole nodes only: it is logged as ``MAXLEN =
    <length after>``, as Redis does, unless a node without live entries was among
    them (those are left behind by an exact MINID trim and a MAXLEN replay
    would stop before them); then, and for MINID, as ``MINID = <first ID of the
    first node kept>``, which removes exactly the nodes before it.
    """
    deleted, removed_empty = s.trim(args.maxlen, args.minid, args.approx, args.limit)
    if not args.approx:
        if args.maxlen is not None:
            return deleted, [b"MAXLEN", b"=", b"%d" % args.maxlen]
        assert args.minid is not None
        return deleted, [b"MINID", b"=", id_bytes(args.minid)]
    if args.maxlen is not None and not removed_empty:
        return deleted, [b"MAXLEN", b"=", b"%d" % s.length]
    if s.nodes:
        return deleted, [b"MINID", b"=", id_bytes(s.nodes[0].master)]
    if s.last_id < MAX_ID:
        return deleted, [b"MINID", b"=", id_bytes(s.last_id + 1)]
    return deleted, [b"MAXLEN", b"=", b"0"]


def next_id(s: Stream, args: TrimArgs, now: int) -> int:
    """The ID XADD appends with (streamAppendItem's rules); CommandError when impossible."""
    last = s.last_id
    if not args.id_given:
        ms = now
        new = ms << 64 if ms > last >> 64 else last + 1
    elif not args.seq_given:
        if args.id >> 64 == last >> 64:
            if last & MASK64 == MASK64:
                raise CommandError(_ID_TOO_SMALL)
            new = last + 1
        else:
            new = args.id
    else:
        new = args.id
    if new <= last:
        raise CommandError(_ID_TOO_SMALL)
    return new


_ID_TOO_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"


@command("xadd", -5, "write denyoom fast", 1, 1, 1, group="stream", since="5.0.0")
def xadd_cmd(c: Client, argv: list[bytes]) -> Any:
    """Append an entry to a stream (creating it), optionally trimming."""
    args = parse_trim_args(c, argv, True)
    field_pos = args.idpos + 1
    nargs = len(argv) - field_pos
    if nargs < 2 or nargs % 2:
        raise wrong_args("xadd")
    if args.id_given and args.seq_given and args.id == 0:
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    db = c.db
    key = argv[1]
    s = get_stream(db, key, False)
    created = s is None
    if s is None:
        if args.nomkstream:
            return None
        s = Stream()
    if s.last_id == MAX_ID:
        raise CommandError("ERR The stream has exhausted the last possible ID, unable to add more items")
    new = next_id(s, args, db.keyspace.now())
    pairs = argv[field_pos:]
    max_bytes, max_entries = node_limits(c)
    if created:
        s.append(new, pairs, max_bytes, max_entries)
        db.add(key, s)
    else:
        will_modify(db, key)
        s.append(new, pairs, max_bytes, max_entries)
    logged = [b"XADD", key]
    if args.nomkstream:
        logged.append(b"NOMKSTREAM")
    trimmed = 0
    if args.trimming:
        trimmed, exact = trim(s, args)
        logged += exact
    if not created:
        modified(db, key)
    idb = id_bytes(new)
    logged.append(idb)
    logged += pairs
    c.server.propagate(db.id, logged)
    notify(c.server, STREAM, b"xadd", db, key)
    if trimmed:
        notify(c.server, STREAM, b"xtrim", db, key)
    db.keyspace.signal_ready(db, key)
    return idb


@command("xtrim", -4, "write", 1, 1, 1, group="stream", since="5.0.0")
def xtrim_cmd(c: Client, argv: list[bytes]) -> Any:
    """Trim a stream by MAXLEN or MINID."""
    db, key, s = c.db, argv[1], get_stream(c.db, argv[1], False)
    if s is None:
        return 0
    args = parse_trim_args(c, argv, False)
    will_modify(db, key)
    deleted, exact = trim(s, args)
    if deleted:
        modified(db, key)
        c.server.propagate(db.id, [b"XTRIM", key, *exact])
        notify(c.server, STREAM, b"xtrim", db, key)
    return deleted


# -- XDEL / XLEN / XSETID --------------------------------------------------------------------
@command("xdel", -3, "write fast", 1, 1, 1, group="stream", since="5.0.0")
def xdel_cmd(c: Client, argv: list[bytes]) -> Any:
    """Delete entries by ID; how many existed."""
    db, key, s = c.db, argv[1], get_stream(c.db, argv[1], False)
    if s is None:
        return 0
    ids = [parse_strict_id(raw) for raw in argv[2:]]
    will_modify(db, key)
    deleted = 0
    for packed in ids:
        if s.delete(packed):
            deleted += 1
            if packed > s.max_deleted:
                s.max_deleted = packed
    if deleted:
        modified(db, key)
        c.server.propagate(db.id, argv)
        notify(c.server, STREAM, b"xdel", db, key)
    return deleted


@command("xlen", 2, "readonly fast", 1, 1, 1, group="stream", since="5.0.0")
def xlen_cmd(c: Client, argv: list[bytes]) -> Any:
    """Number of entries in a stream."""
    s = get_stream(c.db, argv[1])
    return 0 if s is None else s.length


@command("xsetid", -3, "write denyoom fast", 1, 1, 1, group="stream", since="5.0.0")
def xsetid_cmd(c: Client, argv: list[bytes]) -> Any:
    """Set a stream's last ID (and its entries-added / max-deleted-ID counters)."""
    new = parse_strict_id(argv[2])
    entries_added = -1
    max_deleted = 0
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"entriesadded" and i + 1 < n:
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
        elif opt == b"maxdeletedid" and i + 1 < n:
            max_deleted = parse_strict_id(argv[i + 1])
            if new < max_deleted:
                raise CommandError("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
        else:
            raise syntax_error()
        i += 2
    db = c.db
    key = argv[1]
    s = stream_or_error(db, key)
    if s.length:
        if new < s.last_valid_id():
            raise CommandError("ERR The ID specified in XSETID is smaller than the target stream top item")
        if entries_added != -1 and s.length > entries_added:
            raise CommandError("ERR The entries_added specified in XSETID is smaller than the target stream length")
    if new < s.max_deleted:
        raise CommandError("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    will_modify(db, key)
    s.last_id = new
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted:
        s.max_deleted = max_deleted
    changed(db)
    c.server.propagate(db.id, argv)
    notify(c.server, STREAM, b"xsetid", db, key)
    return "OK"


# -- XRANGE / XREVRANGE ----------------------------------------------------------------------
def _xrange(c: Client, argv: list[bytes], rev: bool) -> Any:
    start_raw, end_raw = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start, start_ex = parse_interval(start_raw, 0)
    if start_ex:
        if start == MAX_ID:
            raise CommandError("ERR invalid start ID for the interval")
        start += 1
    end, end_ex = parse_interval(end_raw, MASK64)
    if end_ex:
        if end == 0:
            raise CommandError("ERR invalid end ID for the interval")
        end -= 1
    count = -1
    i = 4
    n = len(argv)
    while i < n:
        if argv[i].lower() == b"count" and i + 1 < n:
            count = parse_count(argv[i + 1])
            i += 2
        else:
            raise syntax_error()
    s = get_stream(c.db, argv[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return range_reply(s, start, end, max(count, 0), rev)


@command("xrange", -4, "readonly", 1, 1, 1, group="stream", since="5.0.0")
def xrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Entries with IDs in a range, oldest first."""
    return _xrange(c, argv, False)


@command("xrevrange", -4, "readonly", 1, 1, 1, group="stream", since="5.0.0")
def xrevrange_cmd(c: Client, argv: list[bytes]) -> Any:
    """Entries with IDs in a range, newest first."""
    return _xrange(c, argv, True)


# -- XREAD -----------------------------------------------------------------------------------
class ReadArgs:
    """What XREAD / XREADGROUP were asked (Redis's xreadCommand parsing)."""

    __slots__ = ("timeout", "count", "keys", "ids", "group", "consumer", "noack")

    def __init__(self) -> None:
        self.timeout = -1  # ms; -1 = no BLOCK
        self.count = 0
        self.keys: list[bytes] = []
        self.ids: list[bytes] = []
        self.group: bytes | None = None
        self.consumer = b""
        self.noack = False


def parse_block_timeout(raw: bytes) -> int:
    """BLOCK <milliseconds> (getTimeoutFromObjectOrReply with UNIT_MILLISECONDS)."""
    value = parse_int(raw, "ERR timeout is not an integer or out of range")
    if value < 0:
        raise CommandError("ERR timeout is negative")
    return value


def parse_read_args(argv: list[bytes], group: bool, from_script: bool = False) -> ReadArgs:
    """xreadCommand's option loop.  ``from_script``: a script called it, where Redis 7.0
    refuses BLOCK outright (it would never be served inside the script) -- the refusal
    comes in argument order, so before any later syntax error, with the name as called."""
    args = ReadArgs()
    n = len(argv)
    i = 1
    streams_at = 0
    while i < n:
        more = n - i - 1
        low = argv[i].lower()
        if low == b"block" and more:
            if from_script:
                raise CommandError(f"ERR {c_text(argv[0])} command is not allowed with BLOCK option from scripts")
            i += 1
            args.timeout = parse_block_timeout(argv[i])
        elif low == b"count" and more:
            i += 1
            args.count = parse_count(argv[i])
        elif low == b"streams" and more:
            streams_at = i + 1
            if (n - streams_at) % 2:
                raise CommandError(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
                )
            break
        elif low == b"group" and more >= 2:
            if not group:
                raise CommandError("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
            args.group, args.consumer = argv[i + 1], argv[i + 2]
            i += 2
        elif low == b"noack":
            if not group:
                raise CommandError("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
            args.noack = True
        else:
            raise syntax_error()
        i += 1
    if not streams_at:
        raise syntax_error()
    if group and args.group is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    half = (n - streams_at) // 2
    args.keys = argv[streams_at:streams_at + half]
    args.ids = argv[streams_at + half:]
    return args


def read_deadline(c: Client, timeout: int) -> int:
    return c.db.keyspace.now() + timeout if timeout else 0


@command("xread", -4, "readonly blocking", group="stream", since="5.0.0")
def xread_cmd(c: Client, argv: list[bytes]) -> Any:
    """Read entries newer than given IDs from one or more streams, optionally blocking."""
    args = parse_read_args(argv, False, getattr(c, "in_script", False))
    db = c.db
    after: list[int] = []
    for key, raw in zip(args.keys, args.ids, strict=True):
        s = get_stream(db, key)
        if raw == b"$":
            after.append(s.last_id if s is not None else 0)
        elif raw == b">":
            raise CommandError(
                "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
                "<consumer> option."
            )
        else:
            after.append(parse_strict_id(raw))
    served: list[tuple[bytes, Any]] = []
    for key, gt in zip(args.keys, after, strict=True):
        s = get_stream(db, key)
        if s is None or not s.length or s.last_valid_id() <= gt:
            continue
        served.append((key, range_reply(s, gt + 1, MAX_ID, args.count)))
    if served:
        return keyed_reply(c, served)
    if args.timeout < 0:
        return NULL_ARRAY
    count = args.count or XREAD_BLOCKED_DEFAULT_COUNT
    waits = dict(zip(args.keys, after, strict=False))

    def serve(client: Client, sdb: Database, key: bytes) -> Any:
        s = sdb.lookup(key)
        gt = waits[key]
        if s.last_id <= gt:
            return None
        return keyed_reply(client, [(key, range_reply(s, gt + 1, MAX_ID, count))])

    return _block(c, args.keys, Stream, read_deadline(c, args.timeout), serve, NULL_ARRAY)
