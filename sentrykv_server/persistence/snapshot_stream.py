"""The snapshot encoding of a stream value (type code 5, snapshot format version 2).

Everything a stream holds is kept, so that a stream loaded from a snapshot is
indistinguishable from the one saved -- including its node layout (later
``MAXLEN ~`` trims depend on it) and the consumers' seen-times, which the WAL
does not reproduce.  All integers little-endian::

    counters   u64 length, u64 last-ID ms, u64 last-ID seq, u64 entries-added,
               u64 max-deleted ms, u64 max-deleted seq
    nodes      u32 n, then per node 6 x u64: master ms, master seq, last ms,
               last seq, listpack size, entries; and 2 x u32: deleted, master fields
    fields     u32 per master field name (all nodes in order), then the names
    ids        entries x u64 ms, entries x u64 seq
    blobs      entries x u32 lengths, then the field blobs (the RESP arrays)
    groups     u32 n, per group: u32 name length, name, u64 last ms, u64 last seq,
               i64 entries-read, u32 consumers; per consumer: u32 name length,
               name, i64 seen-time, u32 pending, then pending x (u64 ms, u64 seq,
               i64 delivery time, u64 delivery count)

A group's PEL is the union of its consumers' PELs (every pending entry has
exactly one owner), so it is stored once, under its consumer.
"""

from __future__ import annotations

import struct
from array import array
from typing import Any

from sentrykv_server.persistence.snapshot_codec import Blob, from_le, le
from sentrykv_server.store.stream import MASK64, Group, Node, Stream

_COUNTERS = struct.Struct("<6Q")
_NODE = struct.Struct("<6Q2I")
_GROUP = struct.Struct("<QQqI")
_CONSUMER = struct.Struct("<qI")
_PENDING = struct.Struct("<QQqQ")
_U32 = struct.Struct("<I")


def _name(parts: list[bytes], name: bytes) -> None:
    parts.append(_U32.pack(len(name)))
    parts.append(name)


def encode_stream(s: Stream) -> bytes:
    parts = [_COUNTERS.pack(s.length, s.last_id >> 64, s.last_id & MASK64, s.entries_added,
                            s.max_deleted >> 64, s.max_deleted & MASK64), _U32.pack(len(s.nodes))]
    names: list[bytes] = []
    ms = array("Q")
    seq = array("Q")
    blobs: list[bytes] = []
    for node in s.nodes:
        parts.append(_NODE.pack(node.master >> 64, node.master & MASK64, node.last >> 64, node.last & MASK64,
                                node.size, len(node.blobs), node.deleted, len(node.fields)))
        names += node.fields
        ms += node.ms
        seq += node.seq
        blobs += node.blobs
    parts += [le(array("I", map(len, names))), *names, le(ms), le(seq), le(array("I", map(len, blobs))), *blobs]
    parts.append(_U32.pack(len(s.groups)))
    for gname, group in s.groups.items():
        _name(parts, gname)
        parts.append(_GROUP.pack(group.last_id >> 64, group.last_id & MASK64, group.entries_read,
                                 len(group.consumers)))
        for cname, consumer in group.consumers.items():
            _name(parts, cname)
            parts.append(_CONSUMER.pack(consumer.seen_time, len(consumer.pel)))
            pel = group.pel
            parts += [_PENDING.pack(packed >> 64, packed & MASK64, *pel[packed][1:]) for packed in consumer.pel]
    return b"".join(parts)


def _take_name(r: Blob) -> bytes:
    return bytes(r.take(r.u32()))


def decode_stream(cls: type, blob: bytes) -> Any:
    r = Blob(blob)
    length, last_ms, last_seq, added, del_ms, del_seq = _COUNTERS.unpack(r.take(_COUNTERS.size))
    s: Stream = cls()
    s.length, s.entries_added = length, added
    s.last_id = last_ms << 64 | last_seq
    s.max_deleted = del_ms << 64 | del_seq
    heads = [_NODE.unpack(r.take(_NODE.size)) for _ in range(r.u32())]
    nfields = sum(h[7] for h in heads)
    names = r.strs(nfields, to_end=False)
    total = sum(h[5] for h in heads)
    ms = from_le("Q", r.take(8 * total))
    seq = from_le("Q", r.take(8 * total))
    blobs = r.strs(total, to_end=False)
    at = fat = 0
    for m_ms, m_seq, l_ms, l_seq, size, entries, deleted, nf in heads:
        node = Node(m_ms << 64 | m_seq, tuple(names[fat:fat + nf]), size)
        node.last = l_ms << 64 | l_seq
        node.deleted = deleted
        node.ms = ms[at:at + entries]
        node.seq = seq[at:at + entries]
        node.blobs = blobs[at:at + entries]
        s.nodes.append(node)
        s.masters.append(node.master)
        at += entries
        fat += nf
    if total != length:
        raise ValueError(f"stream of length {length} holds {total} entries")
    for _ in range(r.u32()):
        gname = _take_name(r)
        g_ms, g_seq, entries_read, nconsumers = _GROUP.unpack(r.take(_GROUP.size))
        group = s.groups[gname] = Group(gname, g_ms << 64 | g_seq, entries_read)
        for _ in range(nconsumers):
            cname = _take_name(r)
            seen, npending = _CONSUMER.unpack(r.take(_CONSUMER.size))
            consumer = group.create_consumer(cname, seen)
            owned = []
            for p_ms, p_seq, when, count in _PENDING.iter_unpack(r.take(_PENDING.size * npending)):
                packed = p_ms << 64 | p_seq
                if packed in group.pel:
                    raise ValueError("a pending entry with two owners")
                group.pel[packed] = (cname, when, count)
                owned.append(packed)
            consumer.pel.update(owned)
    r.end()
    return s
