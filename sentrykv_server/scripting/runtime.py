"""The Lua engine: one lupa Lua 5.1 runtime per server (Redis's script_lua.c).

The runtime is created with everything lupa offers for reaching Python turned
off (``register_eval=False``, ``register_builtins=False``, an attribute filter
that refuses every attribute), the ``python`` global removed, and the
sandbox of :mod:`sentrykv_server.scripting.sandbox` built on top.  Python
callbacks are handed to the Lua prelude once, as upvalues of Lua wrappers;
they never raise (an exception crossing into Lua would carry a Python object
with it) and answer with plain strings, numbers, booleans or Lua tables.

A script runs inside :meth:`LuaEngine.run`: the run context (:class:`RunCtx`,
Redis's scriptRunCtx) says who called, which protocol the script speaks and
whether it may write; the keyspace clock is frozen at the script's start (a
key does not expire half-way through a script, as in Redis); and a Lua count
hook (every 100,000 instructions) measures the run time against
``busy-reply-threshold`` and, past it, keeps the server reachable (see
:mod:`sentrykv_server.scripting.busy`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any

from lupa import lua51

from sentrykv_server.commands.errors import CommandError
from sentrykv_server.dispatch import internal_error
from sentrykv_server.scripting import lua_convert
from sentrykv_server.scripting.bytecode import remove_tail_calls
from sentrykv_server.scripting.lua_convert import (
    COMMAND_ERROR,
    FORMAT_NUMBERS,
    LIB_ERROR,
    STATUS,
    VALUE,
    BadArgument,
    error_text,
    lua_args,
    lua_to_reply,
    reply_to_lua,
)
from sentrykv_server.scripting.sandbox import PRELUDE
from sentrykv_server.scripting.script_client import (
    _ENTRIES,
    Refused,
    ScriptClient,
    acl_permits,
    resolve,
    script_call,
)

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client
    from sentrykv_server.scripting.busy import BusyService
    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv.scripting")
_perf_ns = time.perf_counter_ns
_monotonic = time.monotonic

HOOK_INSTRUCTIONS = 100_000
KILLED = b"ERR Script killed by user with SCRIPT KILL..."
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)
_STATUS_OK = (b"OK", STATUS)
NO_ARGS = b"ERR Please specify at least one argument for this redis lib call"
BAD_ARGS = b"ERR Lua redis lib command arguments must be strings or integers"


def _refuse_attribute(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python attributes is not allowed from scripts")


class RunCtx:
    """One script or function invocation (Redis's scriptRunCtx)."""

    __slots__ = (
        "caller", "client", "name", "eval_mode", "read_only", "allow_oom", "write_dirty",
        "killed", "timed_out", "started", "started_ms", "repl_flags", "command", "plain",
    )

    def __init__(self, caller: Client, client: ScriptClient, name: str, eval_mode: bool,
                 read_only: bool, allow_oom: bool, command: list[bytes]) -> None:
        self.client = client
        self.reset(caller, name, eval_mode, read_only, allow_oom, command)

    def reset(self, caller: Client, name: str, eval_mode: bool, read_only: bool,
              allow_oom: bool, command: list[bytes]) -> RunCtx:
        """(Re)initialise for one invocation: the engine reuses the last finished context
        (scripts never nest) rather than building an object per call."""
        self.caller = caller
        self.name = name
        self.eval_mode = eval_mode
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.write_dirty = False
        self.killed = False
        self.timed_out = False
        self.started = _monotonic()
        self.started_ms = 0
        self.repl_flags = 3
        self.command = command
        # Set by LuaEngine.run: the caller has no ACL restrictions and no client-side
        # caching, so redis.call may take its fast path (LuaEngine._call).
        self.plain = False
        return self

    @property
    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


class LuaEngine:
    """The runtime, its sandbox and the callbacks scripts reach Python through."""

    def __init__(self, server: Server) -> None:
        from sentrykv_server.scripting import libs

        self.server = server
        self.lua = lua51.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_refuse_attribute,
        )
        libs.install(self.lua)
        callbacks = [
            self._call, self._hook, self._log, self._sha1, self._setresp, self._setrepl,
            self._acl, self._register, self._errtext, self._patch,
        ]
        api = self.lua.execute(PRELUDE, self.lua.table_from(callbacks), name="=sentrykv")
        self._compile_eval = api.compile_eval
        self._run_eval = api.run_eval
        self._run_function = api.run_function
        self._load_library = api.load_library
        self._error_info = api.error_info
        self._memory = api.memory
        self.client = ScriptClient(server)
        self.ctx: RunCtx | None = None
        # Set by FUNCTION LOAD while a library's code runs: receives each registration.
        self.registrar: Any = None
        self.busy: BusyService | None = None
        self.script_cache: Any = None  # scripting.eval.ScriptCache, created by the first EVAL
        self.spare: RunCtx | None = None  # the last finished run's context, reused by new_ctx

    def new_ctx(self, caller: Client, name: str, eval_mode: bool, read_only: bool,
                allow_oom: bool, command: list[bytes]) -> RunCtx:
        """The context of a new invocation (Redis's scriptRunCtx), reusing the last one."""
        spare = self.spare
        if spare is None:
            return RunCtx(caller, self.client, name, eval_mode, read_only, allow_oom, command)
        self.spare = None
        return spare.reset(caller, name, eval_mode, read_only, allow_oom, command)

    # -- compiling -------------------------------------------------------------------------
    def compile_eval(self, body: bytes) -> tuple[Any, str | None]:
        """A script body as a Lua function (chunk ``@user_script``), or the compile error."""
        fn, err = self._compile_eval(body, b"@user_script")
        if fn is None:
            return None, err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
        return fn, None

    def load_library(self, code: bytes, registrar: Any) -> str | None:
        """Run a library's code with the load-time API; the error text, or None."""
        self.registrar = registrar
        try:
            ok, err = self._load_library(code, HOOK_INSTRUCTIONS)
        except lua51.LuaError as exc:
            return f"Error registering functions: {exc}"
        finally:
            self.registrar = None
        if ok:
            return None
        return err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)

    def memory(self) -> int:
        """Bytes the Lua heap holds (used_memory_lua / used_memory_vm_eval)."""
        return int(float(self._memory()) * 1024)

    # -- running ---------------------------------------------------------------------------
    def run(self, ctx: RunCtx, fn: Any, nkeys: int, args: list[bytes]) -> Any:
        """Run a compiled script or function; its reply (errors raise CommandError)."""
        server = self.server
        keyspace = server.keyspace
        client = ctx.client
        caller = ctx.caller
        client.db = caller.db
        client.resp3 = False
        client.in_multi = caller.multi is not None or caller.in_exec
        user = client.user = caller.user  # commands run as the caller's user (SORT BY ...)
        ctx.plain = not user.restricted and caller.tracking is None
        clock = keyspace.now
        frozen = clock()
        ctx.started_ms = frozen
        # The frozen clock as a C callable (no Python frame per expiry check).
        keyspace.now = frozen.__int__ if type(frozen) is int else (lambda: frozen)
        hook = HOOK_INSTRUCTIONS if server.config.value("busy-reply-threshold") > 0 else 0
        self.ctx = ctx
        try:
            if ctx.eval_mode:
                result = self._run_eval(fn, hook, nkeys, *args)
            else:
                result = self._run_function(fn, hook, nkeys, *args)
        except lua51.LuaError as exc:  # an error inside the error handler, out of memory...
            message = str(exc).replace("\r", " ").replace("\n", " ")
            raise CommandError(f"ERR Error running script {ctx.name}, {message[:100]}") from None
        finally:
            self.ctx = None
            keyspace.now = clock
            if ctx.timed_out and self.busy is not None:
                self.busy.leave()
            self.spare = ctx
        t = type(result)
        if t is bytes or result is None:
            return result
        if t is not tuple:  # run_eval / run_function answer (false, error) on failure only
            try:
                return lua_to_reply(result, caller.resp3, client.resp3)
            except lua51.LuaError as exc:
                raise CommandError(f"ERR Error converting the script's reply: {exc}") from None
        result = result[1]
        msg, source, line = self._error_info(result)
        if msg is None:
            text = "ERR unknown error"
        else:
            text = msg.decode("utf-8", "replace")
        if source is not None and line is not None:
            text += f" script: {ctx.name}, on {source.decode('utf-8', 'replace')}:{line.decode()}."
        raise CommandError(text)

    # -- callbacks (called from Lua; they must never raise) --------------------------------
    def _call(self, *args: Any) -> Any:
        """redis.call / redis.pcall: the reply alone, or (value, kind) (see sandbox.PRELUDE).

        This runs once per redis.call, so the common case is handled right here in
        one frame: a script running, string (or plain integer) arguments, a command
        resolved before (``script_client._ENTRIES``) with the right arity, a caller
        without ACL restrictions or client-side caching, no MONITOR, no checkpoint's
        copy-on-write guard, and for a write, a script that may write (not read-only, and
        no server-wide gate, ``Server.gated``, when it first writes).  It then does what
        :func:`sentrykv_server.dispatch.call` does for a script's client (handler,
        commandstats, slowlog) without the checks that cannot apply.  Everything else
        takes :meth:`_run_command`, i.e. scriptCall's refusals and ``dispatch.call``.
        """
        ctx = self.ctx
        if ctx is None or not args:
            return self._call_refused(ctx)
        for arg in args:
            if type(arg) is not bytes:
                converted = _converted(args)
                if type(converted) is tuple:
                    return converted[1], converted[0]
                argv: list[bytes] = converted
                break
        else:
            argv = list(args)
        entry = _ENTRIES.get(argv[0])
        if entry is None or not ctx.plain or entry.noscript:
            return self._run_command(ctx, argv)
        n = len(argv)
        arity = entry.arity
        if (arity > 0 and n != arity) or n < -arity:
            return self._run_command(ctx, argv)
        server = self.server
        if entry.write:
            if ctx.read_only or server.cow_guard is not None:
                return self._run_command(ctx, argv)
            if not ctx.write_dirty:  # the first write: scriptCall's gates (disk error,
                if server.gated:     # replication, maxmemory), when none can be shut
                    return self._run_command(ctx, argv)
                ctx.write_dirty = True
        elif ctx.read_only and entry.refused_read_only:
            return self._run_command(ctx, argv)
        if server.monitors:
            return self._run_command(ctx, argv)
        cmd = entry.cmd
        client = ctx.client
        start = _perf_ns()
        try:
            result = cmd.handler(client, argv)
        except CommandError as exc:
            cmd.failed_calls += 1
            result = exc
        except Exception as exc:  # noqa: BLE001 - a bug must not cross into Lua
            result = internal_error(cmd, argv, exc)
        elapsed = (_perf_ns() - start) // 1000
        cmd.calls += 1
        cmd.usec += elapsed
        if elapsed >= server.slowlog_threshold_us >= 0:
            server.slowlog.record(client, argv, elapsed)
        client.last_cmd = cmd
        t = type(result)
        if t is bytes or t is int:
            return result
        return self._reply(ctx, argv, result)

    def _call_refused(self, ctx: RunCtx | None) -> tuple[bytes, int]:
        if ctx is None:
            return b"ERR redis.call/pcall can only be called inside a script invocation", LIB_ERROR
        return NO_ARGS, LIB_ERROR

    def _run_command(self, ctx: RunCtx, argv: list[bytes]) -> Any:
        """scriptCall's refusals and dispatch.call: every case the fast path leaves."""
        try:
            result = script_call(self, ctx, argv)
        except Refused as exc:
            return error_text(exc.text), COMMAND_ERROR
        return self._reply(ctx, argv, result)

    def _reply(self, ctx: RunCtx, argv: list[bytes], result: Any) -> Any:
        """A handler's result in the answer format of :meth:`_call`."""
        t = type(result)
        if t is bytes or t is int:
            return result
        if t is str:
            return _STATUS_OK if result == "OK" else (result.encode("utf-8", "surrogateescape"), STATUS)
        try:
            kind, value = reply_to_lua(self.lua, result, ctx.client.resp3)
        except Exception as exc:  # noqa: BLE001 - a conversion bug must not cross into Lua
            log.error("converting the reply of %r for a script", argv[:2], exc_info=exc)
            return b"ERR internal error converting the reply", COMMAND_ERROR
        if kind == VALUE:
            return value
        return value, kind

    def _acl(self, *args: Any) -> tuple[int, Any]:
        if self.ctx is None:
            return LIB_ERROR, b"ERR redis.acl_check_cmd can only be called inside a script invocation"
        if not args:
            return LIB_ERROR, NO_ARGS
        argv = _converted(args)
        if type(argv) is tuple:
            return argv
        if resolve(argv) is None:
            return LIB_ERROR, b"ERR Invalid command passed to redis.acl_check_cmd()"
        return VALUE, acl_permits(self.ctx.caller, argv)

    def _hook(self) -> bytes | None:
        ctx = self.ctx
        if ctx is None:
            return None
        try:
            if not ctx.timed_out:
                elapsed = ctx.elapsed_ms
                if elapsed < self.server.config.value("busy-reply-threshold"):
                    return None
                log.warning(
                    "Slow script detected: still in execution after %d milliseconds. "
                    "You can try killing the script using the %s command. Script name is: %s.",
                    elapsed, "SCRIPT KILL" if ctx.eval_mode else "FUNCTION KILL", ctx.name,
                )
                from sentrykv_server.scripting.busy import BusyService

                ctx.timed_out = True
                if self.busy is None:
                    self.busy = BusyService(self.server, self)
                self.busy.enter(ctx)
            if self.busy is not None:
                self.busy.poll()
        except Exception as exc:  # noqa: BLE001 - serving other clients must not break the script
            log.error("serving clients during a slow script", exc_info=exc)
        if ctx.killed:
            return KILLED
        return None

    def _log(self, level: int, message: bytes) -> None:
        try:
            log.log(_LOG_LEVELS[int(level)], "%s", message.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001
            pass

    def _sha1(self, data: bytes) -> bytes:
        return hashlib.sha1(data).hexdigest().encode()

    def _setresp(self, resp: int) -> None:
        ctx = self.ctx
        if ctx is not None:
            ctx.client.resp3 = int(resp) == 3

    def _setrepl(self, flags: int) -> None:
        ctx = self.ctx
        if ctx is not None:
            ctx.repl_flags = int(flags)

    def _patch(self, chunk: bytes) -> bytes:
        try:
            return remove_tail_calls(chunk)
        except Exception as exc:  # noqa: BLE001 - keep the original chunk rather than fail
            log.error("patching a compiled script", exc_info=exc)
            return chunk

    def _errtext(self, text: bytes) -> bytes:
        return error_text(text if text[:1] == b"-" else b"-" + text)

    def _register(self, name: bytes, desc: bytes | None, callback: Any, *flags: bytes) -> bytes | None:
        registrar = self.registrar
        if registrar is None:
            return b"redis.register_function can only be called on FUNCTION LOAD command"
        try:
            problem: str | None = registrar(name, desc, callback, [f.decode() for f in flags])
        except Exception as exc:  # noqa: BLE001
            log.error("registering a function", exc_info=exc)
            return b"internal error registering the function"
        return problem.encode() if problem else None


def _converted(args: tuple[Any, ...]) -> Any:
    """redis.call's arguments as bytes, or the (kind, value) answer for Lua when they are not."""
    try:
        argv = lua_args(args)
    except BadArgument:
        return LIB_ERROR, BAD_ARGS
    if argv is None:
        return FORMAT_NUMBERS, None
    return argv


def get_engine(server: Server) -> LuaEngine:
    """The server's engine, created on first use (the first script or library)."""
    engine: LuaEngine | None = getattr(server, "lua_engine", None)
    if engine is None:
        engine = LuaEngine(server)
        server.lua_engine = engine
    return engine


__all__ = ["LuaEngine", "RunCtx", "get_engine", "lua_convert"]
