"""Streams in the RDB format: type 19 (Redis 7.0) written and read, type 15 (5.0 - 6.2) read.

The object is the stream's radix tree flattened, then its counters and groups::

    <nodes>  per node: <16-byte big-endian master ID as a string> <listpack as a string>
    <length> <last ms> <last seq>
    (19 only) <first ms> <first seq> <max-deleted ms> <max-deleted seq> <entries-added>
    <groups> per group: <name> <last ms> <last seq> (19 only) <entries-read>
             <global PEL n> n x (<16-byte BE ID> <delivery time, i64 LE ms> <delivery count>)
             <consumers n>  n x (<name> <seen time, i64 LE ms> <PEL n> n x <16-byte BE ID>)

A node's listpack starts with the *master entry* (live count, deleted count,
number of master fields, the field names, 0) and then holds every entry
appended to it, deleted ones flagged: ``flags ms-delta seq-delta`` (deltas
from the master ID), then either the values alone (flag SAMEFIELDS: the
entry has exactly the master fields) or ``n field value ...``, and last the
number of listpack elements the entry used (so Redis can walk backwards).

Why the deleted-entry trick in :func:`_node_listpack`: the in-memory model
(store/stream.py) keeps only each node's deleted *count*, its last ID and its
listpack byte size, not the deleted entries themselves.  Redis needs those
three to place its next node boundary and to trim by MINID, so the encoder
writes placeholder deleted entries (empty values, padded to the recorded
size where the listpack element sizes allow it) that reproduce them; Redis
never shows deleted entries in any reply or digest.

Decoding validates deeply (Redis's sanitize-dump-payload): every listpack
is walked entry by entry, live IDs must increase, nodes must not overlap,
the length must match the live entries, a consumer's pending entry must be in
its group's PEL and every PEL entry must have a consumer.  Every count is
checked against the bytes left before anything is allocated for it.
"""

from __future__ import annotations

import struct
from typing import Any

from sortedcontainers import SortedList

from sentrykv_server.persistence.rdb import constants as C
from sentrykv_server.persistence.rdb import listpack
from sentrykv_server.persistence.rdb.constants import RdbError
from sentrykv_server.persistence.rdb.decode import (
    Limits,
    Source,
    read_len,
    read_string,
    register_reader,
)
from sentrykv_server.persistence.rdb.encode import encode_len, encode_string, register_encoder
from sentrykv_server.store.stream import (
    INVALID_ENTRIES_READ,
    MASK64,
    Group,
    Node,
    Stream,
    _int_elem,
    blob_pairs,
    encode_fields,
)

FLAG_DELETED = 1
FLAG_SAMEFIELDS = 2
_ID = struct.Struct(">QQ")
_I64 = struct.Struct("<q")
_U64_LIMIT = 1 << 64
_PEL_MIN = 16 + 8 + 1  # bytes a global PEL entry takes at the least
_CONSUMER_MIN = 1 + 8 + 1  # name length, seen time, PEL count


# -- small helpers ---------------------------------------------------------------------------
def _signed(v: int) -> int:
    return v - _U64_LIMIT if v >= 1 << 63 else v


def _delta(a: int, b: int) -> int:
    """a - b as the int64 Redis stores (uint64 arithmetic)."""
    return _signed((a - b) & MASK64)


def _pack_id(packed: int) -> bytes:
    return _ID.pack(packed >> 64, packed & MASK64)


def _unpack_id(raw: bytes) -> int:
    ms, seq = _ID.unpack(raw)
    return int(ms) << 64 | int(seq)


def _count(src: Source, per_item: int, what: str) -> int:
    """A count that cannot claim more items than the remaining bytes could hold."""
    n = read_len(src)
    if n * per_item > src.left():
        raise RdbError(f"{n} {what} declared, {src.left()} bytes left")
    return n


# -- encoding --------------------------------------------------------------------------------
def _node_listpack(node: Node) -> bytes:
    """The listpack Redis would hold for ``node`` (deleted entries as placeholders)."""
    fields = node.fields
    nf = len(fields)
    master_ms, master_seq = node.master >> 64, node.master & MASK64
    live = len(node.blobs)
    head: list[bytes | int] = [live, node.deleted, nf, *fields, 0]
    body: list[bytes | int] = []
    ms, seq = node.ms, node.seq
    for i, blob in enumerate(node.blobs):
        pairs = blob_pairs(blob)
        names = pairs[0::2]
        body += [FLAG_SAMEFIELDS if tuple(names) == fields else 0,
                 _delta(ms[i], master_ms), _delta(seq[i], master_seq)]
        if tuple(names) == fields:
            body += pairs[1::2]
            body.append(nf + 3)
        else:
            body.append(len(names))
            body += pairs
            body.append(2 * len(names) + 4)
    last_live = node.id_at(live - 1) if live else -1
    tail = 1 if node.deleted and node.last > last_live else 0
    front = node.deleted - tail

    def placeholder(packed: int, pad: int) -> list[bytes | int]:
        values: list[bytes | int] = [b""] * nf
        if pad and nf:
            values[0] = b"x" * pad
        return [FLAG_DELETED | FLAG_SAMEFIELDS, _delta(packed >> 64, master_ms),
                _delta(packed & MASK64, master_seq), *values, nf + 3]

    def build(pad: int) -> bytes:
        out = list(head)
        for k in range(front):
            out += placeholder(node.master, pad if k == 0 else 0)
        out += body
        if tail:
            out += placeholder(node.last, pad if not front else 0)
        return listpack.encode(out)

    blob = build(0)
    missing = node.size + _int_elem(live) + _int_elem(node.deleted) - len(blob)
    if missing > 0 and node.deleted and nf:
        # Grow one placeholder value so the listpack has the byte size Redis's had (or
        # the closest below it: element headers make a few sizes unreachable).
        best = 0
        for pad in range(max(1, missing - 6), missing + 1):
            if listpack.encoded_size(b"x" * pad) - 2 <= missing:
                best = pad
        if best:
            blob = build(best)
    return blob


@register_encoder(Stream)
def encode_stream(s: Stream, limits: Limits) -> tuple[int, list[bytes]]:
    """rdbSaveObject for a stream: type 19, as Redis 7.0 writes it."""
    compress = limits.compression
    parts = [encode_len(len(s.nodes))]
    for node in s.nodes:
        parts.append(encode_string(_pack_id(node.master), compress))
        parts.append(encode_string(_node_listpack(node), compress))
    first = s.first_id()
    for n in (s.length, s.last_id >> 64, s.last_id & MASK64, first >> 64, first & MASK64,
              s.max_deleted >> 64, s.max_deleted & MASK64, s.entries_added, len(s.groups)):
        parts.append(encode_len(n))
    for name in sorted(s.groups):  # Redis's rax order
        group = s.groups[name]
        parts += [encode_string(name, compress), encode_len(group.last_id >> 64),
                  encode_len(group.last_id & MASK64), encode_len(group.entries_read & MASK64),
                  encode_len(len(group.pel))]
        for packed, (_owner, time, count) in group.pel.items():
            parts += [_pack_id(packed), _I64.pack(time), encode_len(count)]
        parts.append(encode_len(len(group.consumers)))
        for cname in sorted(group.consumers):
            consumer = group.consumers[cname]
            parts += [encode_string(cname, compress), _I64.pack(consumer.seen_time),
                      encode_len(len(consumer.pel))]
            parts += map(_pack_id, consumer.pel)
    return C.TYPE_STREAM_LISTPACKS_2, parts


# -- decoding --------------------------------------------------------------------------------
def _read_node(master: int, blob: bytes) -> Node:
    """One node from its master ID and listpack (streamValidateListpackIntegrity, deep).

    Integers are read with ``int()`` and running off the end is an IndexError: both are
    turned into RdbError here, which keeps the per-entry loop free of checks (it is the
    whole cost of loading a big stream).  Counts are never trusted for allocation: each
    entry consumes at least four elements of a listpack already in memory.
    """
    items = listpack.decode(blob)
    try:
        return _parse_node(master, blob, items)
    except (ValueError, IndexError):
        raise RdbError("malformed stream listpack") from None


def _parse_node(master: int, blob: bytes, items: list[bytes]) -> Node:
    if not items:
        raise RdbError("empty listpack inside a stream")
    live_count, deleted_count, nf = int(items[0]), int(items[1]), int(items[2])
    if nf < 0 or nf > len(items):
        raise RdbError("stream master entry with an impossible field count")
    fields = tuple(items[3:3 + nf])
    if len(fields) != nf or int(items[3 + nf]) != 0:
        raise RdbError("stream master entry without its terminator")
    p = 4 + nf
    node = Node(master, fields, len(blob) - _int_elem(live_count) - _int_elem(deleted_count))
    master_ms, master_seq = master >> 64, master & MASK64
    blobs = node.blobs
    ms_arr, seq_arr = node.ms, node.seq
    last_live = -1
    last = master
    deleted = 0
    end = len(items)
    same_count = nf + 3
    for _ in range(max(0, live_count) + max(0, deleted_count)):
        if p >= end:
            raise RdbError("stream listpack shorter than its counters say")
        flags = int(items[p])
        ms = (master_ms + int(items[p + 1])) & MASK64
        seq = (master_seq + int(items[p + 2])) & MASK64
        p += 3
        if flags & FLAG_SAMEFIELDS:
            values = items[p:p + nf]
            p += nf
            pairs: list[bytes] = [b""] * (2 * nf)
            pairs[0::2] = fields
            pairs[1::2] = values
            if int(items[p]) != same_count:
                raise RdbError("stream entry with a wrong element count")
        else:
            n = int(items[p])
            if n < 0:
                raise RdbError("stream entry with a negative field count")
            pairs = items[p + 1:p + 1 + 2 * n]
            p += 1 + 2 * n
            if len(pairs) != 2 * n or int(items[p]) != 2 * n + 4:
                raise RdbError("stream entry with a wrong element count")
        p += 1
        packed = ms << 64 | seq
        if packed < master:
            raise RdbError("stream entry ID lower than its node's master ID")
        last = packed
        if flags & FLAG_DELETED:
            deleted += 1
            continue
        if packed <= last_live:
            raise RdbError("stream entry IDs out of order")
        last_live = packed
        ms_arr.append(ms)
        seq_arr.append(seq)
        blobs.append(encode_fields(pairs))
    if p != end:
        raise RdbError("stream listpack with elements after its last entry")
    if len(blobs) != live_count or deleted != deleted_count:
        raise RdbError("stream listpack counters do not match its entries")
    if last < last_live:
        raise RdbError("stream listpack whose last entry is not its highest")
    node.deleted = deleted
    node.last = last
    return node


def _read_stream(src: Source, rdb_type: int) -> Stream:
    s = Stream()
    nodes = _count(src, 2, "stream nodes")
    prev_last = -1
    for _ in range(nodes):
        key = read_string(src)
        if len(key) != 16:
            raise RdbError("stream node key is not the size of a stream ID")
        master = _unpack_id(key)
        if master <= prev_last:
            raise RdbError("stream nodes out of order or overlapping")
        node = _read_node(master, read_string(src))
        prev_last = node.last
        s.nodes.append(node)
        s.masters.append(master)
    s.length = read_len(src)
    s.last_id = read_len(src) << 64 | read_len(src)
    if s.length != sum(len(node.blobs) for node in s.nodes):
        raise RdbError("stream length does not match its entries")
    if s.nodes and s.last_id < s.nodes[-1].last:
        raise RdbError("stream last ID lower than an entry's ID")
    if s.last_id > (1 << 128) - 1:
        raise RdbError("stream last ID out of range")
    if rdb_type == C.TYPE_STREAM_LISTPACKS_2:
        read_len(src)  # first ID: the model finds it from the entries
        read_len(src)
        s.max_deleted = read_len(src) << 64 | read_len(src)
        s.entries_added = read_len(src)
        if s.entries_added < s.length or s.entries_added >= 1 << 63:
            raise RdbError("stream entries-added inconsistent with its length")
    else:
        s.entries_added = s.length
    _read_groups(src, s, rdb_type)
    return s


def _read_groups(src: Source, s: Stream, rdb_type: int) -> None:
    for _ in range(_count(src, 3, "consumer groups")):
        name = read_string(src)
        last_id = read_len(src) << 64 | read_len(src)
        if rdb_type == C.TYPE_STREAM_LISTPACKS_2:
            entries_read = _signed(read_len(src))
            if entries_read != INVALID_ENTRIES_READ and not 0 <= entries_read <= s.entries_added:
                raise RdbError("consumer group entries-read inconsistent with entries-added")
        else:
            from sentrykv_server.commands.stream_groups import estimate_entries_read

            entries_read = estimate_entries_read(s, last_id)
        if name in s.groups:
            raise RdbError("duplicated consumer group name")
        group = s.groups[name] = Group(name, last_id, entries_read)
        pending: dict[int, tuple[int, int]] = {}
        for _ in range(_count(src, _PEL_MIN, "pending entries")):
            packed = _unpack_id(src.read(16))
            time = _I64.unpack(src.read(8))[0]
            count = read_len(src)
            if packed in pending:
                raise RdbError("duplicated global PEL entry")
            pending[packed] = (time, count)
        owned = 0
        for _ in range(_count(src, _CONSUMER_MIN, "consumers")):
            cname = read_string(src)
            if cname in group.consumers:
                raise RdbError("duplicate stream consumer")
            consumer = group.create_consumer(cname, _I64.unpack(src.read(8))[0])
            ids = []
            for _ in range(_count(src, 16, "consumer pending entries")):
                ids.append(_unpack_id(src.read(16)))
            for packed in ids:
                entry = pending.get(packed)
                if entry is None:
                    raise RdbError("consumer pending entry not found in the group's PEL")
                if packed in group.pel:
                    raise RdbError("pending entry owned by two consumers")
                group.pel[packed] = (cname, entry[0], entry[1])
            consumer.pel = SortedList(ids)
            owned += len(ids)
        if owned != len(pending):
            raise RdbError("stream PEL entry without a consumer")


def _reader(rdb_type: int) -> Any:
    """The reader of one stream type (the registry passes no type: one closure per type)."""

    def read(src: Source, limits: Limits) -> Stream:
        return _read_stream(src, rdb_type)

    return read


register_reader(C.TYPE_STREAM_LISTPACKS)(_reader(C.TYPE_STREAM_LISTPACKS))
register_reader(C.TYPE_STREAM_LISTPACKS_2)(_reader(C.TYPE_STREAM_LISTPACKS_2))
