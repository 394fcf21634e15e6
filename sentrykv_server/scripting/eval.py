"""EVAL, EVALSHA, their _RO forms and SCRIPT (Redis's eval.c).

The script cache maps the SHA1 of a body to its compiled function; it lives
in memory only, as in Redis: after a restart EVALSHA answers NOSCRIPT and
clients load their scripts again.  What a script *does* is durable: every
write it makes is propagated as the command it ran, and all of them are
committed as the EVAL's one WAL frame by the dispatcher after the EVAL
returns (so a crash leaves all of a script's writes or none).

A body may start with a shebang (``#!lua flags=no-writes,allow-oom``): the
line is parsed as Redis does, skipped for compilation but kept as an empty
line so that line numbers in errors stay the user's.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import (
    CommandError,
    check_subcommand,
    parse_int,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import NO_REPLY
from sentrykv_server.scripting.runtime import get_engine

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.scripting.runtime import LuaEngine
    from sentrykv_server.server import Server

NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
NOTBUSY = "NOTBUSY No scripts in execution right now."
UNKILLABLE = (
    "UNKILLABLE Sorry the script already executed write commands against the dataset. "
    "You can either wait the script termination or kill the server in a hard way using "
    "the SHUTDOWN NOSAVE command."
)
SCRIPT_OOM = "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
SCRIPT_MASTERDOWN = ("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' "
                     "and 'allow-stale' flag is not set on the script.")
_NOT_STALE: frozenset[str] = frozenset()
_OOM_EXEMPT = frozenset({"allow-oom", "no-writes"})  # no-writes implies allow-oom
RO_WITH_WRITE_FLAG = "ERR Can not execute a script with write flag using *_ro command."
SCRIPT_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")
_SCRIPT_ARITY = {b"help": 2, b"flush": -2, b"exists": -3, b"load": 3, b"kill": 2, b"debug": 3}

SCRIPT_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


@dataclass(slots=True)
class Script:
    body: bytes
    function: Any
    flags: frozenset[str] | None  # None: no shebang (Redis's EVAL compatibility mode)
    name: str = ""  # the SHA1 as text (error messages, FUNCTION/SCRIPT KILL)
    allow_oom: bool = False


class ScriptCache:
    """SHA1 (lower-case hex) -> compiled script; memory as INFO reports it."""

    def __init__(self) -> None:
        self.scripts: dict[bytes, Script] = {}
        self.body_bytes = 0

    def get(self, sha: bytes) -> Script | None:
        found = self.scripts.get(sha)
        return found if found is not None else self.scripts.get(sha.lower())

    def add(self, engine: LuaEngine, body: bytes) -> tuple[bytes, Script]:
        """luaCreateFunction: compile and cache (errors raise CommandError)."""
        sha = hashlib.sha1(body).hexdigest().encode()
        found = self.scripts.get(sha)
        if found is not None:
            return sha, found
        flags, shebang_len = parse_shebang(body)
        fn, err = engine.compile_eval(body[shebang_len:])
        if fn is None:
            raise CommandError(f"ERR Error compiling script (new function): {err}")
        script = Script(body, fn, flags, sha.decode(), flags is not None and "allow-oom" in flags)
        self.scripts[sha] = script
        self.body_bytes += len(body) + 40
        return sha, script

    def flush(self) -> None:
        self.scripts = {}
        self.body_bytes = 0

    @property
    def memory(self) -> int:
        """used_memory_scripts_eval: bodies, SHA keys and per-entry overhead (as Redis counts)."""
        return self.body_bytes + len(self.scripts) * 72 + _dict_slots(len(self.scripts)) * 8


def _dict_slots(n: int) -> int:
    if n == 0:
        return 0
    size = 4
    while size < n:
        size *= 2
    return size


def parse_shebang(body: bytes) -> tuple[frozenset[str] | None, int]:
    """evalExtractShebangFlags: (flags or None without a shebang, length of the line)."""
    if not body.startswith(b"#!"):
        return None, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    line = body[:end].decode("utf-8", "surrogateescape")
    try:
        parts = shlex.split(line, posix=True)
    except ValueError:
        parts = []
    if not parts:
        raise CommandError("ERR Invalid engine in script shebang")
    if parts[0] != "#!lua":
        raise CommandError(f"ERR Unexpected engine in script shebang: {parts[0]}")
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith("flags="):
            raise CommandError(f"ERR Unknown lua shebang option: {part}")
        for flag in part[6:].split(","):
            if flag not in SCRIPT_FLAGS:
                raise CommandError(f"ERR Unexpected flag in script shebang: {flag}")
            flags.add(flag)
    return frozenset(flags), end


def scripting(server: Server) -> tuple[LuaEngine, ScriptCache]:
    engine = server.lua_engine or get_engine(server)
    cache: ScriptCache | None = engine.script_cache
    if cache is None:
        cache = engine.script_cache = ScriptCache()
    return engine, cache


def prepare_run(c: Client, flags: frozenset[str] | None, read_only: bool) -> bool:
    """scriptPrepareForRun's refusals; True when the run is read-only."""
    server = c.server
    stale = server.repl.gated and server.repl.check_stale(c, _NOT_STALE) is not None
    if flags is None:  # no shebang: every check happens per command, inside the script
        if stale:
            raise CommandError(MASTERDOWN)
        return read_only
    evictor = server.evictor
    if not flags & _OOM_EXEMPT and evictor.maxmemory and evictor.near and evictor.oom_at_start:
        raise CommandError(SCRIPT_OOM)
    if stale and "allow-stale" not in flags:
        raise CommandError(SCRIPT_MASTERDOWN)
    if "no-writes" not in flags:
        gate = server.write_error
        if gate is not None:
            raise CommandError(
                "MISCONF Redis is configured to persist data to AOF, but it's currently unable to "
                "persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only "
                f"scripts. AOF error: {gate.split(': ', 1)[-1]}"
            )
        if read_only:
            raise CommandError(RO_WITH_WRITE_FLAG)
    return read_only or "no-writes" in flags


def numkeys_of(argv: list[bytes]) -> int:
    numkeys = parse_int(argv[2])
    if numkeys > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return numkeys


# numkeys as scripts usually give it: a dict probe instead of parse_int's checks.
SMALL_NUMKEYS = {str(i).encode(): i for i in range(16)}


def _eval(c: Client, argv: list[bytes], evalsha: bool, read_only: bool) -> Any:
    server = c.server
    if server.monitors:  # EVAL is shown before the commands it runs (skip_monitor flag)
        server.feed_monitors(c, argv)
    engine, cache = scripting(server)
    numkeys = SMALL_NUMKEYS.get(argv[2])
    if evalsha:
        # A cached SHA as clients send it (lower case) is one probe; the rest as Redis does.
        script = cache.scripts.get(argv[1])
        if script is None:
            if len(argv[1]) != 40:
                raise CommandError(NOSCRIPT)
            if numkeys is None or numkeys > len(argv) - 3:
                numkeys = numkeys_of(argv)
            script = cache.get(argv[1].lower())
            if script is None:
                raise CommandError(NOSCRIPT)
    else:
        if numkeys is None or numkeys > len(argv) - 3:
            numkeys = numkeys_of(argv)
        _sha, script = cache.add(engine, argv[1])
    if numkeys is None or numkeys > len(argv) - 3:
        numkeys = numkeys_of(argv)
    ro = prepare_run(c, script.flags, read_only)
    ctx = engine.new_ctx(c, script.name, True, ro, script.allow_oom, argv)
    return engine.run(ctx, script.function, numkeys, argv[3:])


_EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"


def _register(name: str, evalsha: bool, read_only: bool, since: str, summary: str) -> None:
    def handler(c: Client, argv: list[bytes]) -> Any:
        return _eval(c, argv, evalsha, read_only)

    handler.__name__ = f"{name}_cmd"
    command(name, -3, _EVAL_FLAGS, group="scripting", since=since, summary=summary)(handler)


_register("eval", False, False, "2.6.0", "Run a Lua script.")


@command("evalsha", -3, _EVAL_FLAGS, group="scripting", since="2.6.0",
         summary="Run a cached Lua script by its SHA1.")
def evalsha_cmd(c: Client, argv: list[bytes]) -> Any:
    """EVALSHA, the common case in one frame: a cached script without a shebang, its
    SHA1 as sent, a small numkeys, no MONITOR and no server-wide gate (``Server.gated``:
    then prepare_run has nothing to refuse); anything else takes :func:`_eval`."""
    server = c.server
    engine = server.lua_engine
    cache = engine.script_cache if engine is not None else None
    script = cache.scripts.get(argv[1]) if cache is not None else None
    numkeys = SMALL_NUMKEYS.get(argv[2])
    if (script is None or script.flags is not None or numkeys is None or numkeys > len(argv) - 3
            or server.monitors or server.gated):
        return _eval(c, argv, True, False)
    ctx = engine.spare
    if ctx is None:
        ctx = engine.new_ctx(c, script.name, True, False, False, argv)
    else:
        engine.spare = None
        ctx.reset(c, script.name, True, False, False, argv)
    return engine.run(ctx, script.function, numkeys, argv[3:])


_register("eval_ro", False, True, "7.0.0", "Run a read-only Lua script.")
_register("evalsha_ro", True, True, "7.0.0", "Run a cached read-only Lua script by its SHA1.")


def kill_running(c: Client, eval_mode: bool) -> str:
    """scriptKill: SCRIPT KILL (eval_mode) / FUNCTION KILL."""
    from sentrykv_server.dispatch import busy_error

    engine = c.server.lua_engine
    ctx = engine.ctx if engine is not None else None
    if ctx is None:
        raise CommandError(NOTBUSY)
    if ctx.write_dirty:
        raise CommandError(UNKILLABLE)
    if eval_mode and not ctx.eval_mode:
        raise CommandError(busy_error(False))
    if not eval_mode and ctx.eval_mode:
        raise CommandError(busy_error(True))
    ctx.killed = True
    return "OK"


@command("script", -2, "", group="scripting", since="2.6.0")
def script_cmd(c: Client, argv: list[bytes]) -> Any:
    """Manage the Lua script cache."""
    sub = check_subcommand(argv, _SCRIPT_ARITY, "script")
    if sub == b"help":
        return SCRIPT_HELP
    if sub == b"kill":
        return kill_running(c, True)
    if sub == b"debug":
        mode = argv[2].lower()
        if mode == b"no":
            return "OK"
        if mode in (b"yes", b"sync"):
            raise CommandError("ERR SCRIPT DEBUG is not supported by SentryKV (no Lua debugger)")
        raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")
    engine, cache = scripting(c.server)
    if sub == b"flush":
        if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
            raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        if len(argv) > 3:
            raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        cache.flush()
        engine.lua.execute("collectgarbage()")
        return "OK"
    if sub == b"exists":
        return [1 if cache.get(sha) is not None else 0 for sha in argv[2:]]
    if sub == b"load":
        sha, _script = cache.add(engine, argv[2])
        return sha
    return NO_REPLY  # pragma: no cover - every subcommand is handled above


def cached_scripts(server: Server) -> tuple[int, int]:
    """(number_of_cached_scripts, used_memory_scripts_eval) for INFO."""
    engine = server.lua_engine
    cache: ScriptCache | None = engine.script_cache if engine is not None else None
    if cache is None:
        return 0, 0
    return len(cache.scripts), cache.memory
