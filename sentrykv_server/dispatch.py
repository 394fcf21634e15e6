"""Command dispatch: Redis's server.c ``processCommand()`` and ``call()``.

Every command runs through this module, whoever sends it:

* a client's request: :func:`process_command` (lookup, arity, the refusals
  of :func:`check_command` in Redis's order, MULTI queuing, then
  :func:`call`, :func:`after_call` and the reply);
* the commands queued by MULTI, run by EXEC: :func:`call` for each, one
  :func:`after_call` for the whole EXEC (one WAL frame);
* a script's ``redis.call``: the scripting engine applies the script-specific
  refusals and then :func:`call`; the EVAL/FCALL itself is a client command,
  so its effects are one frame too.

The only other copy of this logic is the hot path in
``Client.process_input``, which inlines :func:`call` and :func:`after_call`
for the common case (a known command with the right arity, a plain client,
no gate active) and sends everything else here.  The condition it uses to
leave the fast path is ``Client.special`` plus :attr:`Server.gated`; a new
refusal must make one of those true whenever it may apply.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from sentrykv_server.acl_table import AclCommand, table
from sentrykv_server.commands.errors import (
    NOAUTH,
    CommandError,
    unknown_command,
    unknown_subcommand,
)
from sentrykv_server.commands.registry import ALLOW_BUSY, NO_MULTI, SKIP_MONITOR, Command
from sentrykv_server.protection import protected_command_error
from sentrykv_server.protocol.reply import NO_REPLY, QUEUED_BYTES, encode, encode_error
from sentrykv_server.replication.failover import PAUSED
from sentrykv_server.scripting.command_flags import SCRIPT_COMMANDS, effective_flags

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

log = logging.getLogger("sentrykv.dispatch")

_perf_ns = time.perf_counter_ns

# Commands a client may send while inside MULTI without being queued.
MULTI_IMMEDIATE = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
# Commands allowed in RESP2 subscribed mode.
SUBSCRIBED_OK = frozenset(
    {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset",
     "ssubscribe", "sunsubscribe"}
)
NOT_IN_MULTI = "ERR Command not allowed inside a transaction"


def process_command(c: Client, argv: list[bytes]) -> None:
    """Look up, check and run one client command, appending its reply to ``c.out``."""
    server = c.server
    cmd = server.lookup_table.get(argv[0])
    if cmd is None:
        cmd = server.find_command(argv[0])
        if cmd is None:
            c.last_cmd = None
            reject(c, argv, unknown_command(argv))
            return
    c.last_cmd = cmd  # Redis names the command in CLIENT LIST even if it is queued or refused
    n = len(argv)
    arity = cmd.arity
    if (arity > 0 and n != arity) or n < -arity:
        reject(c, argv, f"ERR wrong number of arguments for '{cmd.name}' command")
        return
    special = c.special or c.multi is not None or c.channels or c.patterns
    if special or server.gated:
        error = check_command(c, cmd, argv)
        if error is not None:
            failover = c.server.repl.failover
            if error is PAUSED and failover is not None:  # a write during FAILOVER waits for its end
                failover.postpone(c, argv)
                return
            reject(c, argv, error)
            return
        pause = c.server.pause
        if pause.kind and pause.covers(c, cmd, argv):  # CLIENT PAUSE: wait for the end
            pause.postpone(c, argv)
            return
        if c.multi is not None and cmd.name not in MULTI_IMMEDIATE:
            c.multi.append((cmd, argv))
            if c.reply_mode == "on":
                c.out += QUEUED_BYTES
            return
        if server.busy_script is not None:
            # Served from inside a slow script: the script's own ops are still open, so
            # no frame is committed and nobody blocked is served until it ends.
            reply(c, call(c, cmd, argv))
            return
        if server.write_error is not None and server.fsync_always and not cmd.is_write \
                and (not special or (c.tracking is not None and _plain_besides_tracking(c))):
            if c.tracking is not None:
                server.tracking.run(c, cmd, argv, _read_during_disk_trouble)
            else:
                _read_during_disk_trouble(c, cmd, argv)
            return
    if c.tracking is not None:  # client-side caching: reads recorded, own invalidations after the reply
        c.server.tracking.run(c, cmd, argv, execute)
        return
    result = call(c, cmd, argv)
    after_call(c)
    reply(c, result)


def execute(c: Client, cmd: Command, argv: list[bytes]) -> None:
    """call, after_call and the reply: one checked command, start to end."""
    result = call(c, cmd, argv)
    after_call(c)
    reply(c, result)


def _plain_besides_tracking(c: Client) -> bool:
    """Nothing but CLIENT TRACKING makes this client ``special`` (see Client.refresh)."""
    return (c.authenticated and c.reply_mode == "on" and not c.shard_channels and c.multi is None
            and not c.channels and not c.patterns)


def check_command(c: Client, cmd: Command, argv: list[bytes]) -> str | None:
    """processCommand's refusals, in Redis's order; the error text, or None to go on.

    Redis's order: a container's subcommand must exist and get its arity, the
    protected commands (enable-debug-command ...), authentication,
    MULTI-forbidden commands, ACL, maxmemory (eviction first, then OOM), the
    disk-error gate (MISCONF), min-replicas (NOREPLICAS) and read-only replica
    (READONLY), RESP2 subscribed context, stale replica (MASTERDOWN), (loading),
    busy script.  Parenthesised gates belong to features that add themselves
    here.  A CLIENT PAUSE is applied after all of them (see :func:`process_command`).
    """
    server = c.server
    entry = table().top[cmd.name]
    if entry.subcommands and len(argv) > 1:
        error = _subcommand_error(entry, argv)
        if error is not None:
            return error
        entry = entry.subcommands[argv[1].decode("latin-1").lower()]
    if entry.protected is not None:
        error = protected_command_error(c, entry.protected)
        if error is not None:
            return error
    if not c.authenticated and not cmd.no_auth and server.acl.auth_required:
        return NOAUTH
    if c.multi is not None and NO_MULTI in cmd.flags:
        return NOT_IN_MULTI
    if c.user.restricted:
        error = server.acl.check_client(c, entry, argv)
        if error is not None:
            return error
    if server.evictor.near:
        oom = server.evictor.check(c, cmd, entry.flags, argv)
        if oom is not None:
            return oom
    if server.write_error is not None and _writes(c, cmd, entry.flags, argv):
        return server.write_error
    repl = server.repl
    if repl.gated:  # NOREPLICAS, READONLY (replication/state.py)
        error = repl.check_write(c, cmd, _writes(c, cmd, entry.flags, argv))
        if error is not None:
            return error
    if (c.channels or c.patterns or c.shard_channels) and not c.resp3 and cmd.name not in SUBSCRIBED_OK:
        return (
            f"ERR Can't execute '{entry.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
            "PING / QUIT / RESET are allowed in this context"
        )
    if repl.gated:  # MASTERDOWN
        flags = entry.flags
        if cmd.name in SCRIPT_COMMANDS:
            flags = effective_flags(server, cmd.name, flags, argv)
        error = repl.check_stale(c, flags)
        if error is not None:
            return error
    if server.busy_script is not None and not allowed_while_busy(cmd, argv):
        return busy_error(server.busy_script.eval_mode)
    return None


def _writes(c: Client, cmd: Command, flags: frozenset[str], argv: list[bytes]) -> bool:
    """Is this a write for the gates (MISCONF, READONLY, NOREPLICAS)?  EXEC writes when a
    queued command does; a script as it declares (scripting/command_flags.py)."""
    if cmd.is_write:
        return True
    name = cmd.name
    if name == "exec":
        return queued_write(c)
    if name in SCRIPT_COMMANDS:
        return "write" in effective_flags(c.server, name, flags, argv)
    return False


def _subcommand_error(entry: AclCommand, argv: list[bytes]) -> str | None:
    """commandCheckExistence / commandCheckArity for a container's subcommand."""
    sub = entry.subcommands.get(argv[1].decode("latin-1").lower())
    if sub is None:
        return unknown_subcommand(argv[1], argv[0]).message
    arity = sub.arity
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        return f"ERR wrong number of arguments for '{sub.name}' command"
    return None


SLOW_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
SLOW_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
_BUSY_SUBCOMMANDS = {"script": (b"kill",), "function": (b"kill", b"stats")}


def busy_error(eval_mode: bool) -> str:
    """Redis's slowevalerr / slowscripterr."""
    return SLOW_EVAL if eval_mode else SLOW_FUNCTION


def allowed_while_busy(cmd: Command, argv: list[bytes]) -> bool:
    """CMD_ALLOW_BUSY (SCRIPT KILL, FUNCTION KILL|STATS, AUTH, HELLO, MULTI ...); SHUTDOWN
    only with NOSAVE, as Redis's shutdownCommand answers BUSY otherwise."""
    if ALLOW_BUSY in cmd.flags:
        if cmd.name == "shutdown":
            return any(a.lower() == b"nosave" for a in argv[1:])
        return True
    subs = _BUSY_SUBCOMMANDS.get(cmd.name)
    return subs is not None and len(argv) > 1 and argv[1].lower() in subs


def call(c: Client, cmd: Command, argv: list[bytes]) -> Any:
    """Run a handler with stats, slowlog and MONITOR; errors come back as CommandError.

    Neither commits the log frame nor serves blocked clients: the caller does
    that once for the whole unit (a command, an EXEC, a script) with
    :func:`after_call`.
    """
    server = c.server
    if server.cow_guard is not None and cmd.is_write:
        server.cow_guard(c, argv)
    start = _perf_ns()
    try:
        result = cmd.handler(c, argv)
    except CommandError as exc:
        cmd.failed_calls += 1
        result = exc
    except Exception as exc:  # a bug must not kill the connection or the server
        result = internal_error(cmd, argv, exc)
    elapsed = (_perf_ns() - start) // 1000
    if c.tracking is not None and cmd.is_readonly:
        server.tracking.remember(c, cmd, argv)
    cmd.calls += 1
    cmd.usec += elapsed
    if elapsed >= server.slowlog_threshold_us >= 0:
        server.slowlog.record(c, argv, elapsed)
    if server.monitors and SKIP_MONITOR not in cmd.flags:
        server.feed_monitors(c, argv, cmd)
    c.last_cmd = cmd
    return result


def after_call(c: Client) -> None:
    """Commit the unit's log frame, note the LSN its reply waits for, serve blocked clients."""
    server = c.server
    if server.ops:
        server.commit_ops(c)
    if server.fsync_always:
        c.wait_lsn = server.last_lsn
    if server.blocking.ready:
        server.blocking.serve_ready()


def reply(c: Client, result: Any) -> None:
    """Encode a command's result into the client's output, honouring CLIENT REPLY."""
    if result is NO_REPLY:
        return
    if c.reply_mode != "on":
        if c.reply_mode == "skip":
            c.reply_mode = "on"
            c.refresh()
        return
    if type(result) is CommandError:
        c.out += encode_error(result.message)
    else:
        encode(c.out, result, c.resp3)


def reject(c: Client, argv: list[bytes], message: str) -> None:
    """An error detected before running the command (flags a MULTI as EXECABORT)."""
    if c.multi is not None:
        c.multi_error = True
    if len(argv[0]) == 4 and argv[0].lower() == b"exec":
        from sentrykv_server.commands.transactions import abort_exec

        message = abort_exec(c, message)
    c.server.stats.rejected_calls += 1
    if c.reply_mode == "on":
        c.out += encode_error(message)
    elif c.reply_mode == "skip":
        c.reply_mode = "on"
        c.refresh()


def _read_during_disk_trouble(c: Client, cmd: Command, argv: list[bytes]) -> None:
    """The log cannot be written: answer reads that observed nothing non-durable."""
    server = c.server
    result = call(c, cmd, argv)
    if server.ops:  # lazy expiry of a key: its DEL is logged like any write
        server.commit_ops(c)
    barrier = server.aof.read_barrier(c.db.id, argv) if server.aof is not None else 0
    c.wait_lsn = barrier if not c.out else max(c.wait_lsn, barrier)
    reply(c, result)


def queued_write(c: Client) -> bool:
    """EXEC counts as a write when its queue holds one (Redis's mstate.cmd_flags)."""
    return c.multi is not None and any(cmd.is_write for cmd, _argv in c.multi)


def internal_error(cmd: Command, argv: list[bytes], exc: Exception) -> CommandError:
    log.error("error executing %r", argv[:2], exc_info=exc)
    cmd.failed_calls += 1
    return CommandError(f"ERR internal error executing '{cmd.name}': {type(exc).__name__}")
