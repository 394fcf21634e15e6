"""The command table as ACL rules see it (Redis's ``server.orig_commands``).

ACL rules name commands, subcommands and categories.  Redis resolves them
against its *original* command table (``rename-command`` does not change a
command's ACL name) and gives every command and every subcommand one bit in
each selector's bitmap.  This module builds that table once, from Redis 7.0's
published metadata (``command_info.json``: categories, subcommands, key
specs) plus SentryKV's own commands, so an ACL file written for Redis loads
unchanged, rules for commands SentryKV does not implement included, and
``+@all -@dangerous`` is described back exactly as Redis describes it (the
description counts commands per category).

It also finds a command's keys the way the ACL check does (db.c
``getKeysFromCommandWithSpecs``): key specs first, and the command's own
"getkeys" procedure when a spec is incomplete, cannot be followed, or its
flags depend on the arguments (``SET ... GET``, ``BITFIELD``, ``SORT`` ...).
Keys come back as ``(argv index, permission)`` where the permission is what
the key spec's flags require of an ACL key pattern: :data:`READ` for
``access``, :data:`WRITE` for ``insert``/``delete``/``update``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentrykv_server.commands.registry import Command

READ = 1
WRITE = 2

# Redis's category list, in its order: ACL CAT prints it and the description of a
# selector tries categories in this order.
CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
)
CATEGORY_INDEX = {name: i for i, name in enumerate(CATEGORIES)}

# Subcommands SentryKV accepts that Redis 7.0's table lacks (Redis 7.2 added them): they
# need an ACL bit too, or no rule could allow or deny them.  (arity, categories)
_EXTRA_SUBCOMMANDS = {
    "client": {"setinfo": (4, ("@slow", "@connection")), "no-touch": (3, ("@slow", "@connection"))},
}

# Commands whose use of the configuration gate Redis calls CMD_PROTECTED.
_PROTECTED = {
    "debug": "enable-debug-command",
    "module|load": "enable-module-command",
    "module|loadex": "enable-module-command",
    "module|unload": "enable-module-command",
}

# Commands that name Pub/Sub channels, and which of their arguments are channels.
_CHANNELS = {"publish": "first", "spublish": "first", "subscribe": "all", "ssubscribe": "all",
             "psubscribe": "patterns"}

KeyList = list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One key spec of COMMAND INFO, reduced to what key extraction needs."""

    perm: int
    incomplete: bool
    known: bool  # begin_search and find_keys of a type Redis can follow
    index: int = 0
    keyword: bytes = b""
    startfrom: int = 0
    keynum: bool = False
    lastkey: int = 0
    keystep: int = 1
    limit: int = 0
    keynumidx: int = 0
    firstkey: int = 0


@dataclass(eq=False, slots=True)
class AclCommand:
    """A command or subcommand as ACL rules see it."""

    name: str  # full name: "get", "config|get"
    id: int
    categories: int  # bit i set = member of CATEGORIES[i]
    arity: int
    flags: frozenset[str]
    parent: AclCommand | None = None
    subcommands: dict[str, AclCommand] = field(default_factory=dict)
    specs: tuple[KeySpec, ...] = ()
    getkeys: Callable[[list[bytes]], KeyList] | None = None
    has_keys: bool = False
    channels: str | None = None
    protected: str | None = None

    @property
    def no_auth(self) -> bool:
        return "no_auth" in self.flags

    def tree(self) -> Iterable[AclCommand]:
        """This command, then its subcommands."""
        yield self
        yield from self.subcommands.values()


class AclTable:
    """Every command ACL rules can name, with bit ids and per-category masks."""

    def __init__(self, published: dict[str, Any], own: Iterable[Command]) -> None:
        self.top: dict[str, AclCommand] = {}
        self.by_id: list[AclCommand] = []
        for name, entry in published.items():
            self._add(name, entry["arity"], entry["flags"], entry["acl_categories"], entry["key_specifications"],
                      entry["subcommands"], None)
        for cmd in own:
            if cmd.name not in self.top:
                self._add_own(cmd)
        for parent, subs in _EXTRA_SUBCOMMANDS.items():
            owner = self.top.get(parent)
            if owner is not None:
                for sub, (arity, cats) in subs.items():
                    if sub not in owner.subcommands:
                        self._add(sub, arity, [], list(cats), [], {}, owner)
        self.all_mask = (1 << len(self.by_id)) - 1
        # members[c]: commands whose own categories include c (what the description counts);
        # change[c]: bits that +@c / -@c set or clear (a member container takes all its
        # subcommands with it, as ACLChangeSelectorPerm does).
        self.members = [0] * len(CATEGORIES)
        self.change = [0] * len(CATEGORIES)
        for entry in self.by_id:
            for c in range(len(CATEGORIES)):
                if entry.categories >> c & 1:
                    self.members[c] |= 1 << entry.id
                    self.change[c] |= self.tree_mask(entry)

    def _add(self, name: str, arity: int, flags: list[str], categories: list[str], specs: list[dict[str, Any]],
             subs: dict[str, Any], parent: AclCommand | None) -> AclCommand:
        full = f"{parent.name}|{name}" if parent is not None else name
        cats = 0
        for cat in categories:
            index = CATEGORY_INDEX.get(cat.lstrip("@"))
            if index is not None:
                cats |= 1 << index
        entry = AclCommand(full, len(self.by_id), cats, arity, frozenset(flags), parent)
        self.by_id.append(entry)
        entry.specs = tuple(_parse_spec(s) for s in specs if "not_key" not in s["flags"])
        varflags = any("variable_flags" in s["flags"] for s in specs)
        entry.getkeys = _GETKEYS.get(full)
        entry.has_keys = bool(entry.specs) or entry.getkeys is not None
        if varflags or not entry.specs:
            entry.specs = ()  # flags vary with the arguments: the getkeys procedure decides
        entry.channels = _CHANNELS.get(full)
        entry.protected = _PROTECTED.get(full)
        if parent is None:
            self.top[name] = entry
        else:
            parent.subcommands[name] = entry
        for sub_name, sub in subs.items():
            self._add(sub_name, sub["arity"], sub["flags"], sub["acl_categories"], sub["key_specifications"], {},
                      entry)
        return entry

    def _add_own(self, cmd: Command) -> None:
        """A SentryKV command Redis 7.0 lacks: categories and key range from its table entry."""
        from sentrykv_server.commands.introspection import command_info

        info = command_info(cmd)
        specs: list[dict[str, Any]] = []
        if cmd.first_key > 0:
            specs.append({"flags": ["RW", "access", "update"] if cmd.is_write else ["RO", "access"],
                          "begin_search": {"type": "index", "spec": {"index": cmd.first_key}},
                          "find_keys": {"type": "range", "spec": {
                              "lastkey": cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key,
                              "keystep": cmd.step or 1, "limit": 0}}})
        self._add(cmd.name, cmd.arity, sorted(cmd.flags), [str(c) for c in info[6]], specs, {}, None)

    # -- lookups -------------------------------------------------------------------------
    def find(self, name: str) -> AclCommand | None:
        """Redis's ACLLookupCommand: ``cmd`` or ``container|sub``, any letter case."""
        parts = name.lower().split("|")
        if len(parts) > 2:
            return None
        entry = self.top.get(parts[0])
        if entry is None or len(parts) == 1:
            return entry
        return entry.subcommands.get(parts[1])

    def resolve(self, name: str, argv: list[bytes]) -> AclCommand | None:
        """The entry a request runs as: a container with arguments runs its subcommand.

        None for an unknown subcommand of a container (and for commands absent from
        the table, which cannot happen for registered commands).
        """
        entry = self.top.get(name)
        if entry is None or not entry.subcommands or len(argv) < 2:
            return entry
        return entry.subcommands.get(argv[1].decode("latin-1").lower())

    def tree_mask(self, entry: AclCommand) -> int:
        mask = 0
        for e in entry.tree():
            mask |= 1 << e.id
        return mask


@lru_cache(maxsize=1)
def _built() -> AclTable:
    from sentrykv_server.commands import load_all
    from sentrykv_server.commands.introspection import _published_info
    from sentrykv_server.commands.registry import COMMANDS

    load_all()
    return AclTable(_published_info(), list(COMMANDS.values()))


def table() -> AclTable:
    """The ACL command table (built on first use, after every command module registered)."""
    return _built()


# -- keys ----------------------------------------------------------------------------------
def _perm(flags: list[str]) -> int:
    perm = 0
    if "access" in flags:
        perm |= READ
    if "insert" in flags or "delete" in flags or "update" in flags:
        perm |= WRITE
    return perm


def _parse_spec(raw: dict[str, Any]) -> KeySpec:
    flags = raw["flags"]
    bs, fk = raw["begin_search"], raw["find_keys"]
    perm, incomplete = _perm(flags), "incomplete" in flags
    if bs["type"] not in ("index", "keyword") or fk["type"] not in ("range", "keynum"):
        return KeySpec(perm, incomplete, False)
    b, f = bs["spec"], fk["spec"]
    return KeySpec(
        perm, incomplete, True,
        index=b.get("index", 0), keyword=b.get("keyword", "").lower().encode(), startfrom=b.get("startfrom", 0),
        keynum=fk["type"] == "keynum", lastkey=f.get("lastkey", 0), keystep=f.get("keystep", 1),
        limit=f.get("limit", 0), keynumidx=f.get("keynumidx", 0), firstkey=f.get("firstkey", 0),
    )


_STRICT_INT = re.compile(rb"-?[1-9][0-9]{0,18}|0")


def _keys_from_specs(specs: tuple[KeySpec, ...], argv: list[bytes]) -> KeyList | None:
    """getKeysUsingKeySpecs; None when a spec cannot be followed (the caller falls back)."""
    argc = len(argv)
    keys: KeyList = []
    for spec in specs:
        if not spec.known:
            return None
        if spec.keyword:
            first = 0
            start = spec.startfrom if spec.startfrom > 0 else argc + spec.startfrom
            end = argc - 1 if spec.startfrom > 0 else 1
            i = start
            while i != end:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == spec.keyword:
                    first = i + 1
                    break
                i = i + 1 if start <= end else i - 1
            if not first:
                continue  # keyword absent: this spec names no key
        else:
            first = spec.index
        if spec.keynum:
            step = spec.keystep
            at = first + spec.keynumidx
            if at >= argc or not _STRICT_INT.fullmatch(argv[at]):
                return None
            numkeys = int(argv[at])
            if numkeys < 0:
                return None
            first += spec.firstkey
            last = first + numkeys - 1
        else:
            step = spec.keystep
            if spec.lastkey >= 0:
                last = first + spec.lastkey
            elif not spec.limit:
                last = argc + spec.lastkey
            else:
                last = first + ((argc - first) // spec.limit + spec.lastkey)
        if last >= argc or last < first or first >= argc:
            return None
        keys.extend((i, spec.perm) for i in range(first, last + 1, step))
        if spec.incomplete:
            return None
    return keys


def keys_of(entry: AclCommand, argv: list[bytes]) -> KeyList:
    """The key arguments of a request and the permission each needs (ACL's view)."""
    if entry.specs:
        found = _keys_from_specs(entry.specs, argv)
        if found is not None:
            return found
    if entry.getkeys is not None:
        return entry.getkeys(argv)
    return []


def _atoi(raw: bytes) -> int:
    """C's atoi: optional blanks and sign, then digits up to the first non-digit."""
    m = re.match(rb"[ \t\n\r\v\f]*([+-]?[0-9]+)", raw)
    return int(m.group(1)) if m else 0


def _generic(store: int, count_at: int, first: int, step: int) -> Callable[[list[bytes]], KeyList]:
    """genericGetKeys: a key count at ``count_at``, keys from ``first``, optional store key."""

    def getkeys(argv: list[bytes]) -> KeyList:
        num = _atoi(argv[count_at]) if count_at < len(argv) else 0
        if num < 1 or num > (len(argv) - first) // step:
            return []
        keys = [(first + i * step, 0) for i in range(num)]
        if store:
            keys.append((store, 0))
        return keys

    return getkeys


def _set_keys(argv: list[bytes]) -> KeyList:
    for arg in argv[3:]:
        if arg.lower() == b"get":
            return [(1, READ | WRITE)]
    return [(1, WRITE)]


def _bitfield_keys(argv: list[bytes]) -> KeyList:
    i, argc, readonly = 2, len(argv), True
    while i < argc:
        remaining = argc - i - 1
        arg = argv[i].lower()
        if arg == b"get" and remaining >= 2:
            i += 3
        elif arg in (b"set", b"incrby") and remaining >= 3:
            readonly = False
            break
        elif arg == b"overflow" and remaining >= 1:
            i += 2
        else:
            readonly = False
            break
    return [(1, READ if readonly else READ | WRITE)]


def _sort_keys(argv: list[bytes]) -> KeyList:
    """sortGetKeys: the sorted key is read, the last STORE destination written."""
    from sentrykv_server.commands.sort import sort_keys

    first, *store = sort_keys(argv)
    return [(first, READ)] + [(pos, WRITE) for pos in store]


def _migrate_keys(argv: list[bytes]) -> KeyList:
    first, num = 3, 1
    skips = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    if len(argv) > 6:
        i = 6
        while i < len(argv):
            arg = argv[i].lower()
            if arg == b"keys":
                if argv[3]:
                    return []
                first, num = i + 1, len(argv) - i - 1
                break
            i += skips.get(arg, 0) + 1
    return [(first + i, READ | WRITE) for i in range(num)]


def _xread_keys(argv: list[bytes]) -> KeyList:
    streams = -1
    i = 1
    while i < len(argv):
        arg = argv[i].lower()
        if arg in (b"block", b"count"):
            i += 2
        elif arg == b"group":
            i += 3
        elif arg == b"noack":
            i += 1
        elif arg == b"streams":
            streams = i
            break
        else:
            break
    num = len(argv) - streams - 1
    if streams == -1 or num == 0 or num % 2:
        return []
    return [(i, 0) for i in range(streams + 1, streams + 1 + num // 2)]


def _georadius_keys(argv: list[bytes]) -> KeyList:
    stored = -1
    i = 5
    while i < len(argv):
        if argv[i].lower() in (b"store", b"storedist") and i + 1 < len(argv):
            stored = i + 1
            i += 1
        i += 1
    return [(1, 0)] + ([(stored, 0)] if stored != -1 else [])


_GETKEYS: dict[str, Callable[[list[bytes]], KeyList]] = {
    "set": _set_keys,
    "bitfield": _bitfield_keys,
    "sort": _sort_keys,
    "sort_ro": lambda argv: [(1, READ)],
    "migrate": _migrate_keys,
    "xread": _xread_keys,
    "xreadgroup": _xread_keys,
    "georadius": _georadius_keys,
    "georadiusbymember": _georadius_keys,
    **{name: _generic(0, 1, 2, 1) for name in ("zunion", "zinter", "zdiff", "sintercard", "zintercard",
                                              "lmpop", "zmpop")},
    **{name: _generic(1, 2, 3, 1) for name in ("zunionstore", "zinterstore", "zdiffstore")},
    **{name: _generic(0, 2, 3, 1) for name in ("blmpop", "bzmpop", "eval", "evalsha", "eval_ro", "evalsha_ro",
                                              "fcall", "fcall_ro")},
}
