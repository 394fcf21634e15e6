"""XINFO STREAM [FULL [COUNT n]] | GROUPS | CONSUMERS | HELP (Redis 7.0's fields and order).

``radix-tree-keys`` is the number of nodes (Redis's listpacks, see
store/stream.py).  ``radix-tree-nodes`` is the number of nodes of Redis's rax
holding them, keyed by the 16-byte big-endian master IDs: computed from the
keys as the compressed trie rax keeps (one node per shared-prefix run, one
per branching byte position, one per key end), so it matches Redis's count
without a rax.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import CommandError, check_subcommand, parse_int
from sentrykv_server.commands.registry import command
from sentrykv_server.commands.stream_groups import group_lag
from sentrykv_server.commands.stream_xgroup import subcommand_syntax
from sentrykv_server.commands.streams import entries_reply, stream_or_error
from sentrykv_server.protocol.reply import Raw
from sentrykv_server.store.stream import INVALID_ENTRIES_READ, MAX_ID, Stream, id_bytes

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

_HELP = [
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
]
_ARITY = {b"consumers": 4, b"groups": 3, b"stream": -3, b"help": 2}


def rax_nodes(keys: list[bytes]) -> int:
    """Nodes of a rax holding these sorted, distinct, equal-length keys (1 when empty)."""
    if not keys:
        return 1
    width = len(keys[0])
    # (lo, hi, depth): the keys[lo:hi] share their first ``depth`` bytes.
    stack = [(0, len(keys), 0)]
    nodes = 0
    while stack:
        lo, hi, depth = stack.pop()
        if hi - lo == 1:
            nodes += 2 if depth < width else 1  # compressed rest + key node
            continue
        first, last = keys[lo], keys[hi - 1]
        common = depth
        while first[common] == last[common]:
            common += 1
        if common > depth:
            nodes += 1  # a compressed node for the shared run
        nodes += 1  # the branching node
        start = lo
        for i in range(lo + 1, hi + 1):
            if i == hi or keys[i][common] != keys[start][common]:
                stack.append((start, i, common + 1))
                start = i
    return nodes


def _tree_counts(s: Stream) -> tuple[int, int]:
    keys = [m.to_bytes(16, "big") for m in s.masters]
    return len(keys), rax_nodes(keys)


def _entries_read(value: int) -> int | None:
    return None if value == INVALID_ENTRIES_READ else value


def _head(s: Stream) -> dict[bytes, Any]:
    keys, nodes = _tree_counts(s)
    return {
        b"length": s.length,
        b"radix-tree-keys": keys,
        b"radix-tree-nodes": nodes,
        b"last-generated-id": id_bytes(s.last_id),
        b"max-deleted-entry-id": id_bytes(s.max_deleted),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": id_bytes(s.first_id()),
    }


def _one_entry(s: Stream, rev: bool) -> Any:
    items = s.range(0, MAX_ID, 1, rev)
    if not items:
        return None
    return Raw(entries_reply(items)[4:])  # the entry itself, without the 1-element array header


def _stream_full(s: Stream, count: int) -> dict[bytes, Any]:
    info = _head(s)
    info[b"entries"] = entries_reply(s.range(0, MAX_ID, count))
    groups = []
    for name in sorted(s.groups):
        group = s.groups[name]
        pending = [[id_bytes(packed), owner, time, delivered]
                   for packed, (owner, time, delivered) in islice(group.pel.items(), count or None)]
        consumers = []
        for cname in sorted(group.consumers):
            consumer = group.consumers[cname]
            own = [[id_bytes(packed), *group.pel[packed][1:]] for packed in islice(consumer.pel, count or None)]
            consumers.append({
                b"name": cname, b"seen-time": consumer.seen_time,
                b"pel-count": len(consumer.pel), b"pending": own,
            })
        groups.append({
            b"name": name, b"last-delivered-id": id_bytes(group.last_id),
            b"entries-read": _entries_read(group.entries_read), b"lag": group_lag(s, group),
            b"pel-count": len(group.pel), b"pending": pending, b"consumers": consumers,
        })
    info[b"groups"] = groups
    return info


@command("xinfo", -2, "", group="stream", since="5.0.0")
def xinfo_cmd(c: Client, argv: list[bytes]) -> Any:
    """Information about a stream, its consumer groups or a group's consumers."""
    sub = check_subcommand(argv, _ARITY, "XINFO")
    if sub == b"help":
        return _HELP
    s = stream_or_error(c.db, argv[2], True)
    if sub == b"consumers":
        group = s.groups.get(argv[3])
        if group is None:
            g, k = argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")
            raise CommandError(f"NOGROUP No such consumer group '{g}' for key name '{k}'")
        now = c.db.keyspace.now()
        return [
            {b"name": name, b"pending": len(group.consumers[name].pel),
             b"idle": max(0, now - group.consumers[name].seen_time)}
            for name in sorted(group.consumers)
        ]
    if sub == b"groups":
        return [
            {b"name": name, b"consumers": len(g.consumers), b"pending": len(g.pel),
             b"last-delivered-id": id_bytes(g.last_id), b"entries-read": _entries_read(g.entries_read),
             b"lag": group_lag(s, g)}
            for name, g in sorted(s.groups.items())
        ]
    n = len(argv)
    if n == 3:
        info = _head(s)
        info[b"groups"] = len(s.groups)
        info[b"first-entry"] = _one_entry(s, False)
        info[b"last-entry"] = _one_entry(s, True)
        return info
    if argv[3].lower() != b"full":
        raise subcommand_syntax(argv)
    count = 10
    if n == 6:
        if argv[4].lower() != b"count":
            raise subcommand_syntax(argv)
        count = parse_int(argv[5])
        if count < 0:
            count = 10
    elif n != 4:
        raise subcommand_syntax(argv)
    return _stream_full(s, count)
