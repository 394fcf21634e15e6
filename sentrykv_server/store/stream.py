"""The stream value (Redis's t_stream.c data structure): entries, consumer groups, PELs.

**IDs** are ``<ms>-<seq>`` pairs of unsigned 64-bit numbers; here one Python
int ``ms << 64 | seq`` (the order of those ints is the order of the IDs).

**Entries** live in *nodes* that mirror Redis's listpacks one for one: a
node starts with the first entry appended to it (its *master* ID and master
field names), takes entries until Redis would open a new listpack
(``stream-node-max-entries`` entries counting deleted ones, or
``stream-node-max-bytes`` of listpack), and is dropped when its last live
entry goes.  Keeping Redis's node boundaries is not an implementation
detail: ``MAXLEN ~`` / ``MINID ~`` trimming removes whole nodes only, so the
number of entries an approximate trim removes (XTRIM's reply, XLEN after
it) depends on exactly where the boundaries fall.  The listpack byte size is
therefore tracked arithmetically (listpack element sizes, see ``_str_elem``)
without building any listpack.

A node stores its live entries in two ``array('Q')`` (ms and seq halves of
the IDs: 16 bytes per entry, and bisectable) and a list of *field blobs*:
each entry's field/value pairs as the RESP array Redis would reply with
(``*4\\r\\n$1\\r\\nf\\r\\n...``).  Replies are then built by concatenation,
never by re-encoding, and the blob doubles as the snapshot and digest form.
Nodes are in a list with a parallel list of master IDs: ``bisect`` finds the
node of any ID in O(log n); streams only grow at the tail and shrink by
deletions, so node insertions are appends.

**Consumer groups** keep their pending entries (PEL) in a ``SortedDict``
ID -> :data:`Pending` (owner, delivery time, delivery count), and every
consumer a ``SortedList`` of the IDs it owns, so XACK, XCLAIM, XAUTOCLAIM and
XPENDING cost O(log n) per entry.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import chain, repeat

from sortedcontainers import SortedDict, SortedList

from sentrykv_server.store.memory import alloc, bytes_cost, getsizeof, scaled
from sentrykv_server.store.types import register

MASK64 = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
INVALID_ENTRIES_READ = -1  # SCG_INVALID_ENTRIES_READ


def id_bytes(packed: int) -> bytes:
    """``<ms>-<seq>`` of a packed ID."""
    return b"%d-%d" % (packed >> 64, packed & MASK64)


_T2 = b"*2\r\n" + b"$%d\r\n%s\r\n" * 2
_T4 = b"*4\r\n" + b"$%d\r\n%s\r\n" * 4
_T6 = b"*6\r\n" + b"$%d\r\n%s\r\n" * 6


def encode_fields(pairs: list[bytes]) -> bytes:
    """Field/value arguments as the RESP array Redis replies with (the stored blob).

    Entries of one to three fields (the common case) are one format call with the
    arguments unpacked: four times cheaper than a generic join.
    """
    n = len(pairs)
    if n == 6:
        a, b, c, d, e, f = pairs
        return _T6 % (len(a), a, len(b), b, len(c), c, len(d), d, len(e), e, len(f), f)
    if n == 4:
        a, b, c, d = pairs
        return _T4 % (len(a), a, len(b), b, len(c), c, len(d), d)
    if n == 2:
        a, b = pairs
        return _T2 % (len(a), a, len(b), b)
    return b"*%d\r\n" % n + b"".join([b"$%d\r\n%s\r\n" % (len(x), x) for x in pairs])


def blob_pairs(blob: bytes) -> list[bytes]:
    """The field/value list of a stored entry blob: the inverse of :func:`encode_fields`
    (the RDB codec writes listpacks from it, the Redis digest mixes its items)."""
    parts = blob.split(b"\r\n")
    if len(parts) == 2 * int(parts[0][1:]) + 2:  # no CRLF inside a field or value
        return parts[2:-1:2]
    end = blob.index(b"\r\n")
    n = int(blob[1:end])
    pos = end + 2
    out = []
    for _ in range(n):
        eol = blob.index(b"\r\n", pos)
        start = eol + 2
        stop = start + int(blob[pos + 1:eol])
        out.append(blob[start:stop])
        pos = stop + 2
    return out


# ``*2\r\n$<len>\r\n``: the head of one ``[id, fields]`` entry, by ID text length (<= 41).
_ENTRY_HEAD = [b"*2\r\n$%d\r\n" % n for n in range(42)]
_ID_TEXT = b"%d-%d".__mod__
_CRLF = b"\r\n"


def _encode_slice(parts: list[bytes], ms: array, seq: array, blobs: list[bytes]) -> None:
    """Append ``[id, fields]`` entries for parallel slices, every step a C-level map."""
    ids = list(map(_ID_TEXT, zip(ms, seq, strict=True)))
    parts += chain.from_iterable(zip(map(_ENTRY_HEAD.__getitem__, map(len, ids)), ids, repeat(_CRLF), blobs))


# -- listpack sizes (listpack.c), to place node boundaries where Redis does ----------------
def _int_elem(value: int) -> int:
    """Bytes of a listpack element holding an integer: encoding + data + backlen (1)."""
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
        return 3
    if -32768 <= value <= 32767:
        return 4
    if -8388608 <= value <= 8388607:
        return 5
    if -2147483648 <= value <= 2147483647:
        return 6
    return 10


def _int64(value: int) -> int:
    """A uint64 difference as the int64 C passes to lpAppendInteger."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


_INT_START = frozenset(b"-123456789")


def _lp_int(s: bytes) -> int | None:
    """lpStringToInt64: the int64 a string is stored as, or None (no spaces, '+', leading 0)."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    if s == b"0":
        return 0
    if s[0] not in _INT_START or not s[1 if s[0] == 45 else 0:].isdigit():
        return None
    if s[0] == 45 and (n == 1 or s[1] == 48):
        return None
    value = int(s)
    return value if -(1 << 63) <= value < (1 << 63) else None


def _str_elem(s: bytes) -> int:
    """Bytes of a listpack element holding ``s`` (an integer-looking string is an int)."""
    if s and s[0] in _INT_START:
        value = _lp_int(s)
        if value is not None:
            return _int_elem(value)
    n = len(s)
    enc = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    if enc <= 127:
        return enc + 1
    if enc < 16383:
        return enc + 2
    if enc < 2097151:
        return enc + 3
    if enc < 268435455:
        return enc + 4
    return enc + 5


def _strs_size(items: list[bytes]) -> int:
    """Sum of :func:`_str_elem` (the common short non-numeric string computed inline)."""
    total = 0
    for item in items:
        n = len(item)
        if n < 64 and (not n or item[0] not in _INT_START):
            total += n + 2
        else:
            total += _str_elem(item)
    return total


LP_EMPTY = 7  # listpack header (6) + end byte
LISTPACK_MAX = 1 << 30  # STREAM_LISTPACK_MAX_SIZE


class Node:
    """One listpack's worth of entries (see the module doc)."""

    __slots__ = ("master", "fields", "ms", "seq", "blobs", "deleted", "size", "last")

    def __init__(self, master: int, fields: tuple[bytes, ...], size: int) -> None:
        self.master = master
        self.fields = fields
        self.ms = array("Q")
        self.seq = array("Q")
        self.blobs: list[bytes] = []
        self.deleted = 0  # entries flagged deleted (still in Redis's listpack)
        # Listpack bytes, not counting the live/deleted counters (their size varies).
        self.size = size
        self.last = master  # last ID appended, deleted or not (lpGetEdgeStreamID)

    def lp_bytes(self) -> int:
        return self.size + _int_elem(len(self.blobs)) + _int_elem(self.deleted)

    def pos_ge(self, packed: int) -> int:
        """Index of the first live entry with an ID >= ``packed``."""
        ms = packed >> 64
        arr = self.ms
        lo = bisect_left(arr, ms)
        hi = bisect_right(arr, ms, lo)
        if lo == hi:
            return lo
        return bisect_left(self.seq, packed & MASK64, lo, hi)

    def id_at(self, i: int) -> int:
        return self.ms[i] << 64 | self.seq[i]

    def remove_at(self, i: int) -> None:
        del self.ms[i]
        del self.seq[i]
        del self.blobs[i]
        self.deleted += 1

    def copy(self) -> Node:
        node = Node(self.master, self.fields, self.size)
        node.ms = array("Q", self.ms)
        node.seq = array("Q", self.seq)
        node.blobs = list(self.blobs)
        node.deleted = self.deleted
        node.last = self.last
        return node


# A pending entry: (owner's name, last delivery time in ms, delivery count).  Immutable:
# an update replaces it, so a copy of a group can share every one of them (see Group.copy).
Pending = tuple[bytes, int, int]


def _copy_sorted(src: SortedList, dst: SortedList) -> None:
    """Give the empty ``dst`` the items of ``src`` sublist by sublist (C-level list copies)
    instead of re-sorting them one by one.  Relies on sortedcontainers' layout
    (``_lists``/``_maxes``/``_len``, the positional index rebuilt on demand), which
    tests/streams checks."""
    dst._lists = [part.copy() for part in src._lists]
    dst._maxes = src._maxes.copy()
    dst._len = src._len
    dst._index = []
    dst._offset = 0


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name: bytes, seen_time: int) -> None:
        self.name = name
        self.seen_time = seen_time
        self.pel: SortedList = SortedList()  # packed IDs it owns (the group's PEL has the rest)


class Group:
    """A consumer group: last-delivered ID, read counter, PEL (ID -> Pending), consumers."""

    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    def __init__(self, name: bytes, last_id: int, entries_read: int) -> None:
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: SortedDict = SortedDict()  # packed ID -> Pending
        self.consumers: dict[bytes, Consumer] = {}

    def create_consumer(self, name: bytes, now: int) -> Consumer:
        consumer = self.consumers[name] = Consumer(name, now)
        return consumer

    def assign(self, packed: int, consumer: Consumer, time: int, count: int) -> Pending:
        """Make ``consumer`` own the pending entry ``packed`` (creating or moving it)."""
        old = self.pel.get(packed)
        if old is None:
            consumer.pel.add(packed)
        elif old[0] != consumer.name:
            self.consumers[old[0]].pel.remove(packed)
            consumer.pel.add(packed)
        entry = self.pel[packed] = (consumer.name, time, count)
        return entry

    def ack(self, packed: int) -> bool:
        entry = self.pel.pop(packed, None)
        if entry is None:
            return False
        self.consumers[entry[0]].pel.remove(packed)
        return True

    def delete_consumer(self, name: bytes) -> int:
        """Remove a consumer and its pending entries; how many it had."""
        consumer = self.consumers.pop(name)
        pel = self.pel
        for packed in consumer.pel:
            del pel[packed]
        return len(consumer.pel)

    def copy(self) -> Group:
        """An independent copy in O(n) C-level work: the Pending tuples are shared (they
        are immutable), the sorted containers are copied sublist by sublist.  A
        checkpoint preserves a stream this way before a write changes it, on the event
        loop: re-inserting a million pending entries one by one took seconds."""
        group = Group(self.name, self.last_id, self.entries_read)
        dict.update(group.pel, dict.items(self.pel))
        _copy_sorted(self.pel._list, group.pel._list)
        for name, old in self.consumers.items():
            _copy_sorted(old.pel, group.create_consumer(name, old.seen_time).pel)
        return group


class Stream:
    """A Redis stream: nodes of entries plus the stream's counters and groups."""

    __slots__ = ("nodes", "masters", "length", "last_id", "entries_added", "max_deleted", "groups")

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.masters: list[int] = []  # nodes[i].master, for bisect
        self.length = 0
        self.last_id = 0
        self.entries_added = 0
        self.max_deleted = 0
        self.groups: dict[bytes, Group] = {}

    def __len__(self) -> int:
        return self.length

    # -- appending -------------------------------------------------------------------------
    def append(self, packed: int, pairs: list[bytes], max_bytes: int, max_entries: int) -> None:
        """Add an entry whose ID is known to be greater than ``last_id``."""
        nfields = len(pairs) // 2
        names = pairs[0::2]
        nodes = self.nodes
        node = nodes[-1] if nodes else None
        if node is not None:
            limit = max_bytes if 0 < max_bytes <= LISTPACK_MAX else LISTPACK_MAX
            if node.lp_bytes() + sum(map(len, pairs)) >= limit:
                node = None
            elif max_entries and len(node.blobs) + node.deleted >= max_entries:
                node = None
        if node is None:
            fields = tuple(names)
            size = LP_EMPTY + _int_elem(nfields) + _strs_size(names) + 2
            node = Node(packed, fields, size)
            nodes.append(node)
            self.masters.append(packed)
            same = True
        else:
            fields = node.fields
            same = nfields == len(fields) and all(map(bytes.__eq__, names, fields))
        master = node.master
        size = 2 + _int_elem(_int64((packed >> 64) - (master >> 64)))
        size += _int_elem(_int64((packed & MASK64) - (master & MASK64)))
        if same:
            size += _strs_size(pairs[1::2]) + _int_elem(nfields + 3)
        else:
            size += _int_elem(nfields) + _strs_size(pairs) + _int_elem(2 * nfields + 4)
        node.size += size
        node.ms.append(packed >> 64)
        node.seq.append(packed & MASK64)
        node.blobs.append(encode_fields(pairs))
        node.last = packed
        self.length += 1
        self.entries_added += 1
        self.last_id = packed

    # -- lookups ---------------------------------------------------------------------------
    def _node_index(self, packed: int) -> int:
        return max(0, bisect_right(self.masters, packed) - 1)

    def find(self, packed: int) -> tuple[int, int] | None:
        """(node index, position) of a live entry, or None."""
        if not self.nodes:
            return None
        i = self._node_index(packed)
        node = self.nodes[i]
        p = node.pos_ge(packed)
        if p < len(node.blobs) and node.id_at(p) == packed:
            return i, p
        return None

    def get(self, packed: int) -> bytes | None:
        """The field blob of a live entry."""
        where = self.find(packed)
        if where is None:
            return None
        return self.nodes[where[0]].blobs[where[1]]

    def range(self, start: int, end: int, count: int = 0, rev: bool = False) -> list[tuple[int, bytes]]:
        """Live entries with start <= ID <= end, ascending (or descending), at most ``count`` (0 = all)."""
        out: list[tuple[int, bytes]] = []
        if start > end or not self.nodes:
            return out
        nodes = self.nodes
        if not rev:
            i = self._node_index(start)
            p = nodes[i].pos_ge(start)
            while i < len(nodes):
                node = nodes[i]
                ms, seq, blobs = node.ms, node.seq, node.blobs
                n = len(blobs)
                while p < n:
                    packed = ms[p] << 64 | seq[p]
                    if packed > end:
                        return out
                    out.append((packed, blobs[p]))
                    if len(out) == count:
                        return out
                    p += 1
                i += 1
                p = 0
            return out
        i = bisect_right(self.masters, end) - 1
        if i < 0:
            return out
        p = nodes[i].pos_ge(end + 1) - 1 if end < MAX_ID else len(nodes[i].blobs) - 1
        while i >= 0:
            node = nodes[i]
            ms, seq, blobs = node.ms, node.seq, node.blobs
            while p >= 0:
                packed = ms[p] << 64 | seq[p]
                if packed < start:
                    return out
                out.append((packed, blobs[p]))
                if len(out) == count:
                    return out
                p -= 1
            i -= 1
            if i >= 0:
                p = len(nodes[i].blobs) - 1
        return out

    def range_encoded(self, start: int, end: int, count: int = 0, rev: bool = False) -> tuple[int, list[bytes]]:
        """Like :meth:`range`, but the entries come encoded as reply parts (XRANGE, XREAD):
        whole node slices at a time instead of one tuple per entry."""
        parts: list[bytes] = []
        total = 0
        nodes = self.nodes
        if start > end or not nodes:
            return 0, parts
        if not rev:
            i = self._node_index(start)
            p = nodes[i].pos_ge(start)
            while i < len(nodes):
                node = nodes[i]
                if node.master > end:
                    break
                n = len(node.blobs)
                q = n if end == MAX_ID or (n and node.id_at(n - 1) <= end) else node.pos_ge(end + 1)
                if count:
                    q = min(q, p + count - total)
                if q > p:
                    _encode_slice(parts, node.ms[p:q], node.seq[p:q], node.blobs[p:q])
                    total += q - p
                if q < n or (count and total >= count):
                    break
                i += 1
                p = 0
            return total, parts
        i = bisect_right(self.masters, end) - 1
        if i < 0:
            return 0, parts
        hi = len(nodes[i].blobs) if end == MAX_ID else nodes[i].pos_ge(end + 1)
        while True:
            node = nodes[i]
            lo = node.pos_ge(start)
            if count:
                lo = max(lo, hi - (count - total))
            if hi > lo:
                _encode_slice(parts, node.ms[lo:hi][::-1], node.seq[lo:hi][::-1], node.blobs[lo:hi][::-1])
                total += hi - lo
            if lo > 0 or i == 0 or (count and total >= count):
                break
            i -= 1
            hi = len(nodes[i].blobs)
        return total, parts

    def first_id(self) -> int:
        """ID of the first live entry (0 when empty)."""
        for node in self.nodes:
            if node.blobs:
                return node.id_at(0)
        return 0

    def last_valid_id(self) -> int:
        """ID of the last live entry (0 when empty): streamLastValidID."""
        for node in reversed(self.nodes):
            if node.blobs:
                return node.id_at(len(node.blobs) - 1)
        return 0

    def entries(self) -> Iterator[tuple[int, bytes]]:
        for node in self.nodes:
            ms, seq = node.ms, node.seq
            for p, blob in enumerate(node.blobs):
                yield ms[p] << 64 | seq[p], blob

    # -- deleting --------------------------------------------------------------------------
    def delete(self, packed: int) -> bool:
        """XDEL one entry (the node goes when its last live entry does)."""
        where = self.find(packed)
        if where is None:
            return False
        i, p = where
        node = self.nodes[i]
        if len(node.blobs) == 1:
            del self.nodes[i]
            del self.masters[i]
        else:
            node.remove_at(p)
        self.length -= 1
        return True

    def trim(self, maxlen: int | None, minid: int | None, approx: bool, limit: int) -> tuple[int, bool]:
        """streamTrim: drop the oldest entries by MAXLEN or MINID.

        Returns how many entries went and whether a node without live entries was
        removed (the caller's log record depends on it, see commands/streams.py).
        """
        deleted = 0
        removed_nodes = 0
        removed_empty = False
        nodes = self.nodes
        for node in nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            entries = len(node.blobs)
            if limit and deleted + entries > limit:
                break
            if maxlen is not None:
                whole = self.length - entries >= maxlen
            else:
                assert minid is not None
                whole = node.last < minid
            if whole:
                removed_nodes += 1
                removed_empty = removed_empty or not entries
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            # Mark entries deleted from the front of this node, then stop.
            k = 0
            if maxlen is not None:
                k = min(entries, self.length - maxlen)
            else:
                k = node.pos_ge(minid) if minid is not None else 0
            if k:
                del node.ms[:k]
                del node.seq[:k]
                del node.blobs[:k]
                node.deleted += k
                self.length -= k
                deleted += k
            break
        if removed_nodes:
            del nodes[:removed_nodes]
            del self.masters[:removed_nodes]
        return deleted, removed_empty

    # -- copies and digests ----------------------------------------------------------------
    def copy(self) -> Stream:
        s = Stream()
        s.nodes = [node.copy() for node in self.nodes]
        s.masters = list(self.masters)
        s.length = self.length
        s.last_id = self.last_id
        s.entries_added = self.entries_added
        s.max_deleted = self.max_deleted
        s.groups = {name: group.copy() for name, group in self.groups.items()}
        return s


def _canonical(s: Stream) -> bytes:
    """Everything replay must reproduce: entries, node layout, counters, groups and PELs.

    A consumer's seen-time is left out: like Redis's AOF, replaying the log sets
    it to the replay time (the snapshot keeps it exactly).
    """
    out = [b"%d %d %d %d\n" % (s.length, s.last_id, s.entries_added, s.max_deleted)]
    for node in s.nodes:
        out.append(b"N%d %d %d %d %d:" % (node.master, node.last, node.deleted, node.size, len(node.fields)))
        out += [b"%d:%s" % (len(f), f) for f in node.fields]
        for packed, blob in zip(map(node.id_at, range(len(node.blobs))), node.blobs, strict=True):
            out.append(b"E%d %d:%s" % (packed, len(blob), blob))
    for name in sorted(s.groups):
        group = s.groups[name]
        out.append(b"G%d:%s %d %d\n" % (len(name), name, group.last_id, group.entries_read))
        for packed, (cname, time, count) in group.pel.items():
            out.append(b"P%d %d:%s %d %d\n" % (packed, len(cname), cname, time, count))
        for cname in sorted(group.consumers):
            out.append(b"C%d:%s\n" % (len(cname), cname))
    return b"".join(out)


# A packed 128-bit ID as a Python int (44 bytes asked, 48 used); a pending entry: its
# ID in the PEL's dict and sorted index and in its consumer's list, and its
# (owner, time, count) tuple with the two ints.
_ID_INT = 48
_PENDING = _ID_INT + 64 + 2 * 32 + 3 * 8 + 48


def _node_cost(node: Node) -> int:
    return (alloc(getsizeof(node)) + alloc(getsizeof(node.fields)) + sum(map(bytes_cost, node.fields))
            + alloc(getsizeof(node.ms)) + alloc(getsizeof(node.seq)) + alloc(getsizeof(node.blobs))
            + sum(map(bytes_cost, node.blobs)) + 2 * _ID_INT)


def _consumer_cost(consumer: Consumer) -> int:
    return alloc(getsizeof(consumer)) + bytes_cost(consumer.name) + 64 + 8 * len(consumer.pel)


def stream_size(stream: Stream, samples: int) -> int:
    """Memory model of a stream (store/memory.py): its nodes (sampled like Redis samples
    listpacks: whole nodes), every group with its PEL, and every consumer (sampled)."""
    nodes = stream.nodes
    size = (alloc(getsizeof(stream)) + alloc(getsizeof(nodes)) + alloc(getsizeof(stream.masters))
            + scaled(len(nodes), iter(nodes), samples, _node_cost))
    for group in stream.groups.values():
        consumers = group.consumers
        size += (alloc(getsizeof(group)) + bytes_cost(group.name) + alloc(getsizeof(group.pel))
                 + _PENDING * len(group.pel) + alloc(getsizeof(consumers))
                 + scaled(len(consumers), iter(consumers.values()), samples, _consumer_cost))
    return size


register(Stream, "stream", lambda v: v.copy(), lambda v: "stream", _canonical, stream_size)
