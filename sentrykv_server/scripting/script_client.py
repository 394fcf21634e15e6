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

    The ACL system (``sentrykv_server/acl.py``) plugs in here; without ACL rules
    every command is permitted for the default user, as in Redis.
    """
    return acl_error(caller, argv) is None


def acl_error(caller: Client, argv: list[bytes]) -> bytes | None:
    """scriptVerifyACL: the refusal text for the caller's user, or None.

    THE place where the ACL check of ``redis.call`` goes (Redis words it "The
    user executing the script <reason>"); until ACL rules exist every command
    is permitted, which is Redis's behaviour for the default user.
    """
    return None


def script_call(engine: LuaEngine, ctx: RunCtx, argv: list[bytes]) -> Any:
    """scriptCall(): the script-specific refusals, then dispatch.call; the handler's result."""
    found = resolve(argv)
    if found is None:
        raise Refused(UNKNOWN)
    cmd, arity, flags = found
    n = len(argv)
    if (arity > 0 and n != arity) or n < -arity:
        raise Refused(ARITY)
    if "noscript" in flags:
        raise Refused(NOT_ALLOWED)
    denied = acl_error(ctx.caller, argv)
    if denied is not None:
        raise Refused(denied)
    is_write = "write" in flags
    if ctx.read_only and (is_write or cmd.name in MAY_REPLICATE):
        raise Refused(READ_ONLY)
    if is_write:
        if not ctx.write_dirty:
            gate = engine.server.write_error
            if gate is not None:
                raise Refused(b"-" + gate.encode())
        ctx.write_dirty = True
    return call(ctx.client, cmd, argv)
