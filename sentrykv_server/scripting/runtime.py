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

HOOK_INSTRUCTIONS = 100_000
KILLED = b"ERR Script killed by user with SCRIPT KILL..."
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)
NO_ARGS = b"ERR Please specify at least one argument for this redis lib call"
BAD_ARGS = b"ERR Lua redis lib command arguments must be strings or integers"


def _refuse_attribute(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python attributes is not allowed from scripts")


class RunCtx:
    """One script or function invocation (Redis's scriptRunCtx)."""

    __slots__ = (
        "caller", "client", "name", "eval_mode", "read_only", "allow_oom", "write_dirty",
        "killed", "timed_out", "started", "started_ms", "repl_flags", "command",
    )

    def __init__(self, caller: Client, client: ScriptClient, name: str, eval_mode: bool,
                 read_only: bool, allow_oom: bool, command: list[bytes]) -> None:
        self.caller = caller
        self.client = client
        self.name = name
        self.eval_mode = eval_mode
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.write_dirty = False
        self.killed = False
        self.timed_out = False
        self.started = time.monotonic()
        self.started_ms = 0
        self.repl_flags = 3
        self.command = command

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

    # -- compiling -------------------------------------------------------------------------
    def compile_eval(self, body: bytes) -> tuple[Any, str | None]:
        """A script body as a Lua function (chunk ``@user_script``), or the compile error."""
        fn, err = self._compile_eval(body, b"@user_script")
        if fn is None:
            return None, err.decode("utf-8", "surrogateescape") if isinstance(err, bytes) else str(err)
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
        return err.decode("utf-8", "surrogateescape") if isinstance(err, bytes) else str(err)

    def memory(self) -> int:
        """Bytes the Lua heap holds (used_memory_lua / used_memory_vm_eval)."""
        return int(float(self._memory()) * 1024)

    # -- running ---------------------------------------------------------------------------
    def run(self, ctx: RunCtx, fn: Any, nkeys: int, args: list[bytes]) -> Any:
        """Run a compiled script or function; its reply (errors raise CommandError)."""
        server = self.server
        keyspace = server.keyspace
        client = ctx.client
        client.db = ctx.caller.db
        client.resp3 = False
        client.in_multi = ctx.caller.multi is not None or ctx.caller.in_exec
        frozen = keyspace.now()
        ctx.started_ms = frozen
        clock = keyspace.now
        keyspace.now = lambda: frozen
        threshold = server.config.value("busy-reply-threshold")
        hook = HOOK_INSTRUCTIONS if threshold > 0 else 0
        runner = self._run_eval if ctx.eval_mode else self._run_function
        self.ctx = ctx
        try:
            ok, result = runner(fn, hook, nkeys, *args)
        except lua51.LuaError as exc:  # an error inside the error handler, out of memory...
            ok, result = False, None
            message = str(exc).replace("\r", " ").replace("\n", " ")
            raise CommandError(f"ERR Error running script {ctx.name}, {message[:100]}") from None
        finally:
            self.ctx = None
            keyspace.now = clock
            if ctx.timed_out and self.busy is not None:
                self.busy.leave()
        if ok:
            try:
                return lua_to_reply(result, ctx.caller.resp3, client.resp3)
            except lua51.LuaError as exc:
                raise CommandError(f"ERR Error converting the script's reply: {exc}") from None
        msg, source, line = self._error_info(result)
        if msg is None:
            text = "ERR unknown error"
        else:
            text = msg.decode("utf-8", "surrogateescape")
        if source is not None and line is not None:
            text += f" script: {ctx.name}, on {source.decode('utf-8', 'surrogateescape')}:{line.decode()}."
        raise CommandError(text)

    # -- callbacks (called from Lua; they must never raise) --------------------------------
    def _call(self, *args: Any) -> tuple[int, Any]:
        """redis.call / redis.pcall: (kind, value) for the Lua side (see sandbox.PRELUDE).

        The common case (a script running, string arguments, a bulk/integer/status
        reply) is kept to a few type tests: this runs once per redis.call.
        """
        ctx = self.ctx
        if ctx is None or not args:
            return self._call_refused(ctx)
        for arg in args:
            if type(arg) is not bytes:
                return self._call_converting(ctx, args)
        return self._run_command(ctx, list(args))

    def _call_converting(self, ctx: RunCtx, args: tuple[Any, ...]) -> tuple[int, Any]:
        argv = _converted(args)
        if type(argv) is tuple:
            return argv
        return self._run_command(ctx, argv)

    def _call_refused(self, ctx: RunCtx | None) -> tuple[int, Any]:
        if ctx is None:
            return LIB_ERROR, b"ERR redis.call/pcall can only be called inside a script invocation"
        return LIB_ERROR, NO_ARGS

    def _run_command(self, ctx: RunCtx, argv: list[bytes]) -> tuple[int, Any]:
        try:
            result = script_call(self, ctx, argv)
        except Refused as exc:
            return COMMAND_ERROR, error_text(exc.text)
        t = type(result)
        if t is bytes or t is int:
            return VALUE, result
        if t is str:
            return STATUS, result.encode("utf-8", "surrogateescape")
        try:
            return reply_to_lua(self.lua, result, ctx.client.resp3)
        except Exception as exc:  # noqa: BLE001 - a conversion bug must not cross into Lua
            log.error("converting the reply of %r for a script", argv[:2], exc_info=exc)
            return COMMAND_ERROR, b"ERR internal error converting the reply"

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
