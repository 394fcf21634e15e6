"""The flags of EVAL / EVALSHA / FCALL as a script declares them (Redis's getCommandFlags).

A script with a shebang (``#!lua flags=...``) or a function registered with flags tells
the server up front whether it writes and whether it may run out of memory.  Redis
turns those declarations into the command's flags before its checks run
(``evalGetCommandFlags`` / ``fcallGetCommandFlags`` and ``scriptFlagsToCmdFlags``), so
that ``maxmemory`` refuses a writing script with the plain OOM error before it starts,
exactly as it refuses ``SET``.  A script without a shebang (EVAL compatibility mode)
keeps the command's static flags: its writes are checked one by one, inside the script.

Only the refusal paths call this (near ``maxmemory``); the hot path never does.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sentrykv_server.commands.errors import CommandError

if TYPE_CHECKING:
    from sentrykv_server.server import Server

_EVAL = frozenset({"eval", "eval_ro"})
_EVALSHA = frozenset({"evalsha", "evalsha_ro"})
_FCALL = frozenset({"fcall", "fcall_ro"})
SCRIPT_COMMANDS = _EVAL | _EVALSHA | _FCALL
_DECLARED_AWAY = frozenset({"stale", "denyoom", "write", "may_replicate"})


def declared_flags(server: Server, name: str, argv: list[bytes]) -> frozenset[str] | None:
    """The script's own flags, or None when it declares none (or is unknown: then the
    command runs into its own error later, with the static flags)."""
    if len(argv) < 2:
        return None
    if name in _FCALL:
        from sentrykv_server.scripting.functions import libraries

        found = libraries(server).find(argv[1])
        return found[1].flags if found is not None else None
    from sentrykv_server.scripting.eval import parse_shebang

    engine = server.lua_engine
    cache = engine.script_cache if engine is not None else None
    if name in _EVALSHA:
        if len(argv[1]) != 40 or cache is None:
            return None
        script = cache.get(argv[1])
        return script.flags if script is not None else None
    if cache is not None:
        script = cache.get(hashlib.sha1(argv[1]).hexdigest().encode())
        if script is not None:
            return script.flags
    try:
        return parse_shebang(argv[1])[0]
    except CommandError:
        return None


def effective_flags(server: Server, name: str, flags: frozenset[str], argv: list[bytes]) -> frozenset[str]:
    """scriptFlagsToCmdFlags: a script's declarations replace the command's write,
    deny-OOM and stale flags (``no-writes`` implies ``allow-oom``)."""
    if name not in SCRIPT_COMMANDS:
        return flags
    declared = declared_flags(server, name, argv)
    if declared is None:
        return flags
    out = set(flags - _DECLARED_AWAY)
    if "no-writes" not in declared:
        out.add("write")
        if "allow-oom" not in declared:
            out.add("denyoom")
    if "allow-stale" in declared:
        out.add("stale")
    return frozenset(out)
