"""Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET, CLIENT."""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING, Any

from sentrykv_server import REDIS_COMPAT_VERSION
from sentrykv_server.commands import client_tracking
from sentrykv_server.commands.errors import (
    WRONGPASS,
    CommandError,
    parse_int,
    syntax_error,
    unknown_subcommand,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import NO_REPLY, ErrorReply, Verbatim

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client


@command("ping", -1, "fast stale", group="connection")
def ping_cmd(c: Client, argv: list[bytes]) -> Any:
    """Ping the server."""
    if len(argv) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if (c.channels or c.patterns or c.shard_channels) and not c.resp3:
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else "PONG"


@command("echo", 2, "fast", group="connection")
def echo_cmd(c: Client, argv: list[bytes]) -> Any:
    """Echo the given string."""
    return argv[1]


@command("quit", -1, "no_auth fast allow_busy", group="connection")
def quit_cmd(c: Client, argv: list[bytes]) -> Any:
    """Close the connection after replying; requests pipelined after QUIT are not run."""
    c.close_after_reply = True
    c.closing = True  # stops the parse loop, as Redis's CLIENT_CLOSE_AFTER_REPLY does
    return "OK"


def _check_password(c: Client, user: bytes | None, password: bytes) -> bool:
    required = c.server.config.requirepass
    if user is not None and user != b"default":
        return False
    if not required:
        # With no password set, "default" accepts anything (like Redis's nopass user)...
        return user is not None or False
    return hmac.compare_digest(password, required.encode())


@command("auth", -2, "no_auth fast allow_busy", group="connection")
def auth_cmd(c: Client, argv: list[bytes]) -> Any:
    """Authenticate the connection."""
    if len(argv) > 3:
        raise syntax_error()
    required = c.server.config.requirepass
    if len(argv) == 2 and not required:
        raise CommandError(
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
    user = argv[1] if len(argv) == 3 else None
    password = argv[-1]
    ok = (user in (None, b"default")) and (not required or hmac.compare_digest(password, required.encode()))
    if not ok:
        raise CommandError(WRONGPASS)
    c.authenticated = True
    c.refresh()
    return "OK"


def server_info_map(c: Client) -> dict[bytes, Any]:
    return {
        b"server": b"redis",
        b"version": REDIS_COMPAT_VERSION.encode(),
        b"proto": 3 if c.resp3 else 2,
        b"id": c.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command("hello", -1, "no_auth fast allow_busy", group="connection", since="6.0.0")
def hello_cmd(c: Client, argv: list[bytes]) -> Any:
    """Handshake: switch protocol, authenticate and name the connection."""
    proto = None
    i = 1
    if len(argv) > 1:
        try:
            proto = parse_int(argv[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        i = 2
        if proto not in (2, 3):
            raise CommandError("NOPROTO unsupported protocol version")
    name: bytes | None = None
    auth: tuple[bytes, bytes] | None = None
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"auth" and i + 2 < len(argv):
            auth = (argv[i + 1], argv[i + 2])
            i += 3
        elif opt == b"setname" and i + 1 < len(argv):
            name = argv[i + 1]
            i += 2
        else:
            raise CommandError(f"ERR Syntax error in HELLO option '{argv[i].decode('utf-8', 'replace')}'")
    if auth is not None:
        user, password = auth
        required = c.server.config.requirepass
        if user != b"default" or (required and not hmac.compare_digest(password, required.encode())):
            raise CommandError(WRONGPASS)
        c.authenticated = True
        c.refresh()
    if not c.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time"
        )
    if name is not None:
        _validate_name(name)
        c.name = name
    if proto is not None:
        c.resp3 = proto == 3
    return server_info_map(c)


@command("select", 2, "loading stale fast", group="connection")
def select_cmd(c: Client, argv: list[bytes]) -> Any:
    """Change the selected database."""
    from sentrykv_server.commands.keys import db_index

    c.select(db_index(c, argv[1]))
    return "OK"


@command("reset", 1, "no_auth fast stale allow_busy", group="connection", since="6.2.0")
def reset_cmd(c: Client, argv: list[bytes]) -> Any:
    """Reset the connection's state (MULTI, WATCH, pub/sub, db, protocol, name)."""
    from sentrykv_server.commands.transactions import unwatch_all

    c.multi = None
    c.multi_error = False
    unwatch_all(c)
    c.server.pubsub.forget(c)
    c.server.tracking.disable(c)
    if c.monitor:
        c.monitor = False
        if c in c.server.monitors:
            c.server.monitors.remove(c)
    c.select(0)
    c.resp3 = False
    c.name = b""
    c.reply_mode = "on"
    c.no_evict = False
    c.authenticated = not c.server.config.requirepass
    c.refresh()
    return "RESET"


# -- CLIENT ----------------------------------------------------------------------------------
_CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]


def _validate_name(name: bytes) -> None:
    if any(b < 33 or b > 126 for b in name):
        raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


def client_line(c: Client, now: float, running: str | None = None) -> str:
    """One line of CLIENT LIST in Redis's field order.

    ``running`` is the command the caller is executing right now (``client|list``): Redis
    shows it for the caller, whose ``last_cmd`` is still the previous command here.
    """
    multi = len(c.multi) if c.multi is not None else -1
    cmd = running or (c.last_cmd.full_name if c.last_cmd is not None else "NULL")
    redir = c.tracking.redirect if c.tracking is not None else -1
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd=0 name={c.name.decode('utf-8', 'replace')} "
        f"age={int(now - c.created)} idle={max(0, c.server.unixtime - c.last_seen)} flags={c.flags_text} "
        f"db={c.db.id} sub={len(c.channels)} psub={len(c.patterns)} ssub={len(c.shard_channels)} multi={multi} "
        f"qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl={len(c.out)} oll={len(c.held)} "
        f"omem={c.held_bytes} tot-mem=0 events=r cmd={cmd} user=default redir={redir} resp={3 if c.resp3 else 2} "
        f"lib-name={c.lib_name.decode('utf-8', 'replace')} lib-ver={c.lib_ver.decode('utf-8', 'replace')}"
    )


@command("client", -2, "", group="connection")
def client_cmd(c: Client, argv: list[bytes]) -> Any:
    """Manage client connections."""
    sub = argv[1].lower()
    n = len(argv)
    server = c.server
    if sub == b"help" and n == 2:
        return _CLIENT_HELP
    if sub == b"id" and n == 2:
        return c.id
    if sub == b"getname" and n == 2:
        return c.name or None
    if sub == b"setname" and n == 3:
        _validate_name(argv[2])
        c.name = argv[2]
        return "OK"
    if sub == b"info" and n == 2:
        return Verbatim((client_line(c, time.time(), "client|info") + "\n").encode())
    if sub == b"list":
        return _client_list(c, argv)
    if sub == b"kill" and n >= 3:
        return _client_kill(c, argv)
    if sub == b"setinfo" and n == 4:
        attr = argv[2].lower()
        if attr not in (b"lib-name", b"lib-ver"):
            raise CommandError(f"ERR Unrecognized option '{argv[2].decode('utf-8', 'replace')}'")
        if any(b < 33 or b > 126 for b in argv[3]):
            raise CommandError(f"ERR {attr.decode()} cannot contain spaces, newlines or special characters.")
        if attr == b"lib-name":
            c.lib_name = argv[3]
        else:
            c.lib_ver = argv[3]
        return "OK"
    if sub == b"no-evict" and n == 3:
        mode = argv[2].lower()
        if mode not in (b"on", b"off"):
            raise syntax_error()
        c.no_evict = mode == b"on"
        return "OK"
    if sub == b"no-touch" and n == 3:
        if argv[2].lower() not in (b"on", b"off"):
            raise syntax_error()
        return "OK"
    if sub == b"reply" and n == 3:
        mode = argv[2].lower()
        if mode not in (b"on", b"off", b"skip"):
            raise syntax_error()
        c.reply_mode = mode.decode()
        c.refresh()
        if mode == b"on":
            return "OK"
        return NO_REPLY
    if sub == b"unblock" and n in (3, 4):
        target_id = parse_int(argv[2])
        how = argv[3].lower() if n == 4 else b"timeout"
        if how not in (b"timeout", b"error"):
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        target = server.clients.get(target_id)
        if target is None or target.blocked is None:
            return 0
        server.blocking.unblock(target, error=how == b"error")
        return 1
    if sub == b"pause" and n in (3, 4):
        # Validated like Redis; pausing itself is not implemented (commands keep running).
        timeout = parse_int(argv[2], "ERR timeout is not an integer or out of range")
        if timeout < 0:
            raise CommandError("ERR timeout is negative")
        if n == 4 and argv[3].lower() not in (b"write", b"all"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
        return "OK"
    if sub == b"unpause" and n == 2:
        return "OK"
    handler = _TRACKING_SUBCOMMANDS.get(sub)
    if handler is not None and _TRACKING_ARITY[sub](n):
        return handler(c, argv)
    if sub in (b"id", b"getname", b"setname", b"info", b"setinfo", b"no-evict", b"reply", b"unblock", b"kill",
               b"help", b"pause", b"unpause", b"getredir", b"trackinginfo", b"caching", b"no-touch",
               b"tracking"):
        raise CommandError(f"ERR wrong number of arguments for 'client|{sub.decode()}' command")
    raise unknown_subcommand(argv[1], "CLIENT")


_TRACKING_SUBCOMMANDS = {
    b"tracking": client_tracking.tracking_cmd,
    b"caching": client_tracking.caching_cmd,
    b"getredir": client_tracking.getredir_cmd,
    b"trackinginfo": client_tracking.trackinginfo_cmd,
}
_TRACKING_ARITY = {
    b"tracking": lambda n: n >= 3,
    b"caching": lambda n: n == 3,
    b"getredir": lambda n: n == 2,
    b"trackinginfo": lambda n: n == 2,
}


def _client_list(c: Client, argv: list[bytes]) -> Any:
    clients = list(c.server.clients.values())
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"type" and i + 1 < len(argv):
            kind = argv[i + 1].lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise CommandError(f"ERR Unknown client type '{argv[i + 1].decode('utf-8', 'replace')}'")
            if kind == b"pubsub":
                clients = [x for x in clients if x.channels or x.patterns]
            elif kind == b"normal":
                clients = [x for x in clients if not (x.channels or x.patterns)]
            else:
                clients = []
            i += 2
        elif opt == b"id" and i + 1 < len(argv):
            ids = set()
            for raw in argv[i + 1:]:
                try:
                    ids.add(parse_int(raw))
                except CommandError:
                    raise CommandError("ERR Invalid client ID") from None
            clients = [x for x in clients if x.id in ids]
            i = len(argv)
        else:
            raise syntax_error()
    now = time.time()
    text = "".join(client_line(x, now, "client|list" if x is c else None) + "\n"
                   for x in sorted(clients, key=lambda x: x.id))
    return Verbatim(text.encode())


def _client_kill(c: Client, argv: list[bytes]) -> Any:
    server = c.server
    if len(argv) == 3:
        addr = argv[2].decode("utf-8", "replace")
        for other in list(server.clients.values()):
            if other.addr == addr:
                other.close()
                return "OK"
        raise CommandError("ERR No such client")
    if len(argv) % 2:
        raise syntax_error()
    filters: list[tuple[bytes, bytes]] = [(argv[i].lower(), argv[i + 1]) for i in range(2, len(argv), 2)]
    skipme = True
    chosen = list(server.clients.values())
    for opt, val in filters:
        if opt == b"id":
            try:
                wanted = parse_int(val)
            except CommandError:
                raise CommandError("ERR client-id should be greater than 0") from None
            chosen = [x for x in chosen if x.id == wanted]
        elif opt == b"addr":
            chosen = [x for x in chosen if x.addr == val.decode("utf-8", "replace")]
        elif opt == b"laddr":
            chosen = [x for x in chosen if x.laddr == val.decode("utf-8", "replace")]
        elif opt == b"type":
            kind = val.lower()
            if kind == b"pubsub":
                chosen = [x for x in chosen if x.channels or x.patterns]
            elif kind == b"normal":
                chosen = [x for x in chosen if not (x.channels or x.patterns)]
            elif kind in (b"master", b"replica", b"slave"):
                chosen = []
            else:
                raise CommandError(f"ERR Unknown client type '{val.decode('utf-8', 'replace')}'")
        elif opt == b"user":
            chosen = [x for x in chosen if val == b"default"]
        elif opt == b"skipme":
            low = val.lower()
            if low not in (b"yes", b"no"):
                raise syntax_error()
            skipme = low == b"yes"
        elif opt == b"maxage":
            age = parse_int(val)
            now = time.time()
            chosen = [x for x in chosen if now - x.created >= age]
        else:
            raise syntax_error()
    killed = 0
    for other in chosen:
        if other is c and skipme:
            continue
        if other is c:
            c.close_after_reply = True
            c.closing = True
        else:
            other.close()
        killed += 1
    return killed


def error_reply(message: str) -> ErrorReply:
    return ErrorReply(message)
