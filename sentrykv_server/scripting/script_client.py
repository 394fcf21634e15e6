"""The client scripts run commands as, and Redis's scriptCall() (script.c).

``redis.call`` goes through the same command table and the same
:func:`sentrykv_server.dispatch.call` as a client's command, after the
refusals that only apply to scripts, in Redis's order: unknown command,
wrong arity, ``noscript`` commands, ACL, writes from read-only scripts
(``EVAL_RO``/``FCALL_RO``/``no-writes``) and, for the first write of a
script, the disk-error gate (MISCONF).  Once a script has written, later
writes are never refused on server state: it cannot be stopped half-way.

The :class:`ScriptClient` is the fake client of Redis: its own database
selection (``SELECT`` inside a script does not leak to the caller), its own
protocol (``redis.setresp``), and ``deny_blocking`` so that a blocking
command answers at once instead of waiting.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sentrykv_server.acl import check as acl_check
from sentrykv_server.commands.registry import LOOKUP, Command, lookup
from sentrykv_server.dispatch import call
from sentrykv_server.protocol.connection import Client

if TYPE_CHECKING:
    from sentrykv_server.scripting.runtime import LuaEngine, RunCtx
    from sentrykv_server.server import Server


class Refused(Exception):
    """A script-specific refusal; ``text`` is in luaPushError form (``-CODE msg`` or ``msg``)."""

    def __init__(self, text: bytes) -> None:
        self.text = text


UNKNOWN = b"Unknown Redis command called from script"
ARITY = b"Wrong number of args calling Redis command from script"
NOT_ALLOWED = b"This Redis command is not allowed from script"
READ_ONLY = b"Write commands are not allowed from read-only scripts."
OOM = b"-OOM command not allowed when used memory > 'maxmemory'."
# Redis 7.0's CMD_MAY_REPLICATE commands a script can call (COMMAND INFO does not show
# the flag): read-only scripts may not run them either.
MAY_REPLICATE = frozenset({"publish", "spublish", "pfcount"})


class ScriptClient(Client):
    """Redis's script client: never connected, never blocks, selects its own db."""

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.authenticated = True
        self.special = False
        self.deny_blocking = True
        self.addr = "lua"
        self.laddr = "lua"
        self.in_multi = False
        # Read by commands whose behaviour differs when a script calls them (Redis's
        # CLIENT_SCRIPT flag): SORT ... BY nosort on a set sorts anyway, for determinism.
        self.in_script = True

    def push(self, data: bytes) -> None:
        return None


@lru_cache(maxsize=1)
def _published_flags() -> tuple[dict[str, frozenset[str]], dict[str, dict[bytes, tuple[int, frozenset[str]]]]]:
    """Redis 7.0's own flags per command (COMMAND INFO as captured), and per subcommand of
    the containers (CONFIG, CLIENT, OBJECT, FUNCTION ...) with its arity: what Redis's
    scriptCall looks at (``noscript``, ``write``, ``may_replicate``)."""
    from sentrykv_server.commands.introspection import _published_info

    flags: dict[str, frozenset[str]] = {}
    table: dict[str, dict[bytes, tuple[int, frozenset[str]]]] = {}
    for name, entry in _published_info().items():
        flags[name] = frozenset(entry.get("flags", ()))
        subs = entry.get("subcommands") or {}
        if subs:
            table[name] = {
                sub.encode(): (int(info["arity"]), frozenset(info.get("flags", ())))
                for sub, info in subs.items()
            }
    return flags, table


def resolve(argv: list[bytes]) -> tuple[Command, int, frozenset[str]] | None:
    """Redis's lookupCommand(argv, argc): the command, and the arity and flags that apply
    (a container's subcommand has its own); None for an unknown command or subcommand."""
    cmd = LOOKUP.get(argv[0]) or lookup(argv[0])
    if cmd is None:
        return None
    flags, table = _published_flags()
    subs = table.get(cmd.name)
    if subs and len(argv) >= 2:
        entry = subs.get(argv[1].lower())
        if entry is None:
            return None
        return cmd, entry[0], entry[1]
    return cmd, cmd.arity, flags.get(cmd.name, cmd.flags)


def acl_permits(caller: Client, argv: list[bytes]) -> bool:
    """redis.acl_check_cmd: may the calling user run this command with these arguments?
    (Nothing is logged: Redis's acl_check_cmd only asks.)"""
    found = resolve(argv)
    return found is not None and acl_check(caller, found[0], argv) is None


def acl_error(ctx: RunCtx, cmd: Command, argv: list[bytes]) -> bytes | None:
    """scriptVerifyACL: the caller's user must be allowed the command, its keys and
    channels; a refusal is logged (context "lua") and worded "The user executing the
    script ..."."""
    caller = ctx.caller
    denial = acl_check(caller, cmd, argv)
    if denial is None:
        return None
    running = ctx.command[0].decode("latin-1").lower() if ctx.command else None
    caller.server.acl.log_denial(caller, denial, argv, "lua", running)
    return denial.script_message().encode()


class _Entry:
    """What scriptCall needs to know about one command, resolved once per name."""

    __slots__ = ("cmd", "arity", "noscript", "write", "denyoom", "refused_read_only")

    def __init__(self, cmd: Command, arity: int, flags: frozenset[str]) -> None:
        self.cmd = cmd
        self.arity = arity
        self.noscript = "noscript" in flags
        self.write = "write" in flags
        self.denyoom = "denyoom" in flags
        self.refused_read_only = self.write or cmd.name in MAY_REPLICATE


# Plain (non-container) commands by the bytes scripts spell them with: most calls are
# a dict probe instead of a lookup, a flags table and three set tests.
_ENTRIES: dict[bytes, _Entry] = {}


def _entry(argv: list[bytes]) -> _Entry | None:
    entry = _ENTRIES.get(argv[0])
    if entry is not None:
        return entry
    found = resolve(argv)
    if found is None:
        return None
    cmd, arity, flags = found
    entry = _Entry(cmd, arity, flags)
    if cmd.name not in _published_flags()[1] and len(_ENTRIES) < 4096:
        _ENTRIES[argv[0]] = entry
    return entry


def _over_maxmemory(server: Server) -> bool:
    """scriptVerifyOOM: memory was over ``maxmemory`` when the script's command started
    (judged then, so the script's own stack and arguments do not count)."""
    evictor = server.evictor
    return bool(evictor.maxmemory) and evictor.near and evictor.oom_at_start


def script_call(engine: LuaEngine, ctx: RunCtx, argv: list[bytes]) -> Any:
    """scriptCall(): the script-specific refusals, then dispatch.call; the handler's result."""
    entry = _entry(argv)
    if entry is None:
        raise Refused(UNKNOWN)
    n = len(argv)
    arity = entry.arity
    if (arity > 0 and n != arity) or n < -arity:
        raise Refused(ARITY)
    if entry.noscript:
        raise Refused(NOT_ALLOWED)
    client = ctx.client
    user = client.user = ctx.caller.user  # commands run as the caller's user (SORT BY ...)
    if user.restricted:
        denied = acl_error(ctx, entry.cmd, argv)
        if denied is not None:
            raise Refused(denied)
    if entry.write:
        if ctx.read_only:
            raise Refused(READ_ONLY)
        if not ctx.write_dirty:
            gate = engine.server.write_error
            if gate is None and engine.server.repl.gated:  # READONLY / NOREPLICAS (replication)
                gate = engine.server.repl.check_write(ctx.caller, entry.cmd, True, paused_ok=False)
            if gate is not None:
                raise Refused(b"-" + gate.encode())
            if entry.denyoom and not ctx.allow_oom and _over_maxmemory(engine.server):
                raise Refused(OOM)
            ctx.write_dirty = True
    elif ctx.read_only and entry.refused_read_only:
        raise Refused(READ_ONLY)
    result = call(client, entry.cmd, argv)
    if entry.cmd.is_readonly and ctx.caller.tracking is not None:
        # Client-side caching: Redis 7.0 remembers the keys the EVAL / FCALL *declares*
        # (not those the script reads) for the caller, once the script reads anything.
        caller_cmd = lookup(ctx.command[0])
        if caller_cmd is not None:
            engine.server.tracking.remember(ctx.caller, caller_cmd, ctx.command, from_script=True)
    return result
