"""Server commands: TIME, SHUTDOWN, SLOWLOG, LATENCY, MONITOR, DEBUG, FUNCTION/SCRIPT."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.errors import (
    CommandError,
    c_text,
    parse_int,
    syntax_error,
    unknown_subcommand,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.protection import protected_command_error
from sentrykv_server.protocol.reply import NO_REPLY
from sentrykv_server.shutdown import interruptible_sleep
from sentrykv_server.store.redis_digest import dataset_digest_hex, value_digest_hex

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client


@command("time", 1, "loading stale fast", group="server", since="2.6.0")
def time_cmd(c: Client, argv: list[bytes]) -> Any:
    """Server time: seconds and microseconds."""
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


@command("lastsave", 1, "loading stale fast", group="server")
def lastsave_cmd(c: Client, argv: list[bytes]) -> Any:
    """Unix time of the last successful checkpoint."""
    return c.server.lastsave


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", group="server")
def shutdown_cmd(c: Client, argv: list[bytes]) -> Any:
    """Stop the server: flush and fsync the log (and checkpoint with SAVE), then exit."""
    c.server.shutdown_ctl.command(c, argv)
    return NO_REPLY


@command("slowlog", -2, "admin loading stale", group="server", since="2.2.12")
def slowlog_cmd(c: Client, argv: list[bytes]) -> Any:
    """Inspect the slow log."""
    sub = argv[1].lower()
    log = c.server.slowlog
    if sub == b"get" and len(argv) <= 3:
        count = 10
        if len(argv) == 3:
            count = parse_int(argv[2], "ERR count should be greater than or equal to -1")
            if count < -1:
                raise CommandError("ERR count should be greater than or equal to -1")
            if count == -1:
                count = len(log.entries)
        return [
            [e.id, e.timestamp, e.duration_us, list(e.argv), e.addr.encode(), e.name]
            for e in list(log.entries)[:count]
        ]
    if sub == b"len" and len(argv) == 2:
        return len(log.entries)
    if sub == b"reset" and len(argv) == 2:
        log.reset()
        return "OK"
    if sub == b"help" and len(argv) == 2:
        return [
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:", "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name", "LEN", "    Return the length of the slowlog.",
            "RESET", "    Reset the slowlog.", "HELP", "    Prints this help.",
        ]
    if sub == b"get":  # Redis 7.0 words this one the old way
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for '{c_text(argv[1])}'. "
            "Try SLOWLOG HELP."
        )
    if sub in (b"len", b"reset", b"help"):
        raise CommandError(f"ERR wrong number of arguments for 'slowlog|{sub.decode()}' command")
    raise unknown_subcommand(argv[1], "SLOWLOG")


_LATENCY_ARITY = {b"latest": 2, b"doctor": 2, b"history": 3, b"graph": 3, b"reset": -2, b"histogram": -2,
                  b"help": 2}


@command("latency", -2, "admin loading stale", group="server", since="2.8.13")
def latency_cmd(c: Client, argv: list[bytes]) -> Any:
    """Latency monitor (no events are sampled unless latency-monitor-threshold is set)."""
    sub = argv[1].lower()
    arity = _LATENCY_ARITY.get(sub)
    if arity is not None and ((arity > 0 and len(argv) != arity) or len(argv) < -arity):
        raise CommandError(f"ERR wrong number of arguments for 'latency|{sub.decode()}' command")
    if sub == b"latest":
        return []
    if sub == b"history":
        return []
    if sub == b"reset":
        return 0
    if sub == b"doctor":
        return b"Dave, no latency spike was observed during the lifetime of this instance, nice job."
    if sub == b"histogram":
        return {}
    if sub == b"graph":
        raise CommandError("ERR No samples available for event '%s'" % (argv[2].decode() if len(argv) > 2 else ""))
    if sub == b"help":
        return [
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR", "    Return a human readable latency analysis report.",
            "GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>", "    Return time-latency samples for the <event> class.",
            "LATEST", "    Return the latest latency samples for all events.",
            "RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]", "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP", "    Prints this help.",
        ]
    raise unknown_subcommand(argv[1], "LATENCY")


@command("monitor", 1, "admin noscript loading stale", group="server")
def monitor_cmd(c: Client, argv: list[bytes]) -> Any:
    """Stream every command the server receives."""
    if c.multi is not None:
        raise CommandError("ERR MONITOR inside MULTI is not allowed")
    if not c.monitor:
        c.monitor = True
        c.server.monitors.append(c)
    return "OK"


@command("debug", -2, "admin noscript loading stale", group="server")
def debug_cmd(c: Client, argv: list[bytes]) -> Any:
    """Debugging helpers: DIGEST, DIGEST-VALUE, SLEEP, JMAP-free subset."""
    # The dispatcher refuses DEBUG first for clients on the checked path; this covers the
    # others (protection.py: enable-debug-command).
    refusal = protected_command_error(c, "enable-debug-command")
    if refusal is not None:
        raise CommandError(refusal)
    sub = argv[1].lower()
    ks = c.server.keyspace
    if sub == b"digest" and len(argv) == 2:
        return dataset_digest_hex(ks)  # a status reply, Redis's own algorithm (store/redis_digest.py)
    if sub == b"digest-value":
        out = []
        db = c.db
        for key in argv[2:]:
            value = db.data.get(key)  # as Redis: no lookup, a logically expired key still counts
            out.append(value_digest_hex(value, key in db.expires) if value is not None else "0" * 40)
        return out
    if sub == b"sleep" and len(argv) == 3:
        # Redis reads the number with strtod (garbage is 0) and nanosleeps; a shutdown
        # signal ends the sleep and the server exits without replying, as Redis does.
        if interruptible_sleep(c.server, _strtod_prefix(argv[2])):
            return NO_REPLY
        return "OK"
    if sub == b"set-active-expire" and len(argv) == 3:
        digits = re.match(rb"\s*[-+]?\d+", argv[2])  # Redis reads it with atoi
        ks.active_expire = digits is not None and int(digits.group()) != 0
        return "OK"
    if sub == b"object" and len(argv) == 3:
        from sentrykv_server.commands.memory_cmds import debug_object

        return debug_object(c, argv[2]).decode()
    if sub == b"help":
        return [
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST", "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]", "    Output a hex signature of the values of all the specified keys.",
            "OBJECT <key>", "    Show low level info about the `key` and associated value.",
            "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
            "HELP", "    Print this help.",
        ]
    raise CommandError(
        f"ERR DEBUG subcommand '{argv[1].decode('utf-8', 'replace')}' is not supported by SentryKV. Try DEBUG HELP."
    )


_STRTOD = re.compile(rb"\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf(?:inity)?)", re.I)


def _strtod_prefix(raw: bytes) -> float:
    """C's strtod: the longest numeric prefix, 0 when there is none."""
    m = _STRTOD.match(raw)
    try:
        return float(m.group()) if m else 0.0
    except ValueError:
        return 0.0


_MODULE_HELP = [
    "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LIST", "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]", "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>", "    Unload a module.",
    "HELP", "    Prints this help.",
]


@command("module", -2, "", group="server", since="4.0.0")
def module_cmd(c: Client, argv: list[bytes]) -> Any:
    """Modules: SentryKV has none and cannot load any (Redis's replies for that case)."""
    sub = argv[1].lower()
    arity = {b"help": 2, b"list": 2, b"load": -3, b"loadex": -3, b"unload": 3}.get(sub)
    if arity is None:
        raise unknown_subcommand(argv[1], argv[0])
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        raise CommandError(f"ERR wrong number of arguments for 'module|{sub.decode()}' command")
    if sub == b"help":
        return _MODULE_HELP
    if sub == b"list":
        return []
    refusal = protected_command_error(c, "enable-module-command")
    if refusal is not None:
        raise CommandError(refusal)
    if sub == b"unload":
        raise CommandError("ERR Error unloading module: no such module with that name")
    raise CommandError("ERR Error loading the extension. Please check the server logs.")


_FUNCTION_SUBS = frozenset({b"delete", b"dump", b"flush", b"help", b"kill", b"list", b"load", b"restore", b"stats"})
_SCRIPT_SUBS = frozenset({b"debug", b"exists", b"flush", b"help", b"kill", b"load"})


@command("function", -2, "noscript", group="scripting", since="7.0.0")
def function_cmd(c: Client, argv: list[bytes]) -> Any:
    """Functions are not implemented; FLUSH succeeds (there is nothing to flush)."""
    sub = argv[1].lower()
    if sub not in _FUNCTION_SUBS:
        raise unknown_subcommand(argv[1], "FUNCTION")
    if sub == b"flush":
        if len(argv) > 3:
            raise CommandError("ERR wrong number of arguments for 'function|flush' command")
        if len(argv) == 3 and argv[2].lower() not in (b"async", b"sync"):
            raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
        return "OK"
    if sub == b"list":
        return []
    if sub == b"stats":
        return {b"running_script": None, b"engines": {}}
    raise CommandError("ERR SentryKV does not support scripting (FUNCTION " + sub.decode("utf-8", "replace").upper() + ")")


@command("script", -2, "noscript", group="scripting", since="2.6.0")
def script_cmd(c: Client, argv: list[bytes]) -> Any:
    """Scripting is not implemented; FLUSH succeeds and EXISTS says no."""
    sub = argv[1].lower()
    if sub not in _SCRIPT_SUBS:
        raise unknown_subcommand(argv[1], "SCRIPT")
    if sub == b"flush":
        if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"async", b"sync")):
            raise syntax_error()
        return "OK"
    if sub == b"exists":
        return [0] * (len(argv) - 2)
    raise CommandError("ERR SentryKV does not support scripting (SCRIPT " + sub.decode("utf-8", "replace").upper() + ")")
