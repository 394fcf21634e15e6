"""Key names of a command call from Redis 7.0's key specs (getKeysUsingKeySpecs).

The registry's (first, last, step) triple cannot describe commands whose keys
move (ZUNION's numkeys, XREAD's STREAMS keyword); Redis 7 describes every
command with *key specs* instead, which ``commands/command_info.json``
captured from redis-server.  Client-side caching uses this to learn which
keys a read touched, as Redis's trackingRememberKeys does.

A spec is a begin-search step (an argument index, or a keyword searched from
a position) followed by a find-keys step (a range, or a count read from the
arguments).  Specs Redis cannot evaluate ("unknown": SORT_RO's BY/GET
patterns) are skipped; commands without published specs fall back to the
registry's triple.
"""

from __future__ import annotations

from typing import Any

from sentrykv_server.commands.errors import CommandError, parse_int
from sentrykv_server.commands.registry import Command

# (begin kind, begin arg, begin startfrom, find kind, a, b, c)
#   begin: ("index", pos, 0) | ("keyword", KEYWORD, startfrom)
#   find:  ("range", lastkey, keystep, limit) | ("keynum", keynumidx, firstkey, keystep)
Spec = tuple[str, Any, int, str, int, int, int]

_CACHE: dict[str, tuple[Spec, ...] | None] = {}
_SINGLE: dict[str, int] = {}  # commands whose only key is argv[i]


def _compile(cmd: Command) -> tuple[Spec, ...] | None:
    from sentrykv_server.commands.introspection import _published_entry

    entry = _published_entry(cmd)
    raw = entry.get("key_specifications") if entry else None
    if not raw:
        return None
    specs: list[Spec] = []
    for spec in raw:
        begin, find = spec["begin_search"], spec["find_keys"]
        if begin["type"] == "index":
            start: tuple[str, Any, int] = ("index", begin["spec"]["index"], 0)
        elif begin["type"] == "keyword":
            start = ("keyword", begin["spec"]["keyword"].encode().lower(), begin["spec"]["startfrom"])
        else:
            continue
        fs = find["spec"]
        if find["type"] == "range":
            specs.append((*start, "range", fs["lastkey"], fs["keystep"], fs["limit"]))
        elif find["type"] == "keynum":
            specs.append((*start, "keynum", fs["keynumidx"], fs["firstkey"], fs["keystep"]))
    return tuple(specs)


def _begin(spec: Spec, argv: list[bytes]) -> int:
    """The index where a spec's keys start; 0 when its keyword is absent."""
    kind, arg, startfrom = spec[0], spec[1], spec[2]
    if kind == "index":
        return int(arg)
    argc = len(argv)
    if startfrom >= 0:
        indexes = range(startfrom, argc - 1)
    else:
        indexes = range(argc + startfrom, 0, -1)
    for i in indexes:
        if 0 < i < argc and argv[i].lower() == arg:
            return i + 1
    return 0


def _find(spec: Spec, first: int, argv: list[bytes]) -> list[int]:
    argc = len(argv)
    if spec[3] == "range":
        lastkey, step, limit = spec[4], spec[5], spec[6]
        if lastkey >= 0:
            last = first + lastkey
        elif not limit:
            last = argc + lastkey
        else:
            last = first + ((argc - first) // limit + lastkey)
    else:
        keynumidx, firstkey, step = spec[4], spec[5], spec[6]
        if first + keynumidx >= argc:
            return []
        try:
            numkeys = parse_int(argv[first + keynumidx])
        except CommandError:
            return []
        if numkeys < 0:
            return []
        first += firstkey
        last = first + (numkeys - 1) * step
        if numkeys == 0:
            return []
    if last >= argc or last < first:
        return []
    return list(range(first, last + 1, step or 1))


def command_keys(cmd: Command, argv: list[bytes]) -> list[bytes]:
    """The key arguments of ``argv`` for ``cmd`` (in spec order, duplicates kept)."""
    name = cmd.full_name
    single = _SINGLE.get(name)
    if single is not None:  # the common case: one key at a fixed index (GET, HGET ...)
        return [argv[single]] if single < len(argv) else []
    if name not in _CACHE:
        specs = _CACHE[name] = _compile(cmd)
        if specs is not None and len(specs) == 1 and specs[0][0] == "index" and specs[0][3:6] == ("range", 0, 1):
            _SINGLE[name] = int(specs[0][1])
            return command_keys(cmd, argv)
    specs = _CACHE[name]
    if specs is None:
        return [argv[i] for i in cmd.key_positions(argv)]
    out: list[bytes] = []
    for spec in specs:
        first = _begin(spec, argv)
        if first and first < len(argv):
            out.extend(argv[i] for i in _find(spec, first, argv))
    return out
