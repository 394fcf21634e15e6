"""Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET, CLIENT."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentrykv_server import REDIS_COMPAT_VERSION
from sentrykv_server.commands.errors import (
    WRONGPASS,
    CommandError,
    c_text,
    parse_int,
    syntax_error,
)
from sentrykv_server.commands.registry import command
from sentrykv_server.protocol.reply import ErrorReply

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


_NO_DEFAULT_PASSWORD = ("ERR AUTH <password> called without any password configured for the default user. "
                        "Are you sure your configuration is correct?")
REDACTED = b"(redacted)"


@command("auth", -2, "no_auth fast allow_busy", group="connection")
def auth_cmd(c: Client, argv: list[bytes]) -> Any:
    """Authenticate the connection (as ``default``, or as the named ACL user)."""
    if len(argv) > 3:
        raise syntax_error()
    acl = c.server.acl
    request = list(argv)
    # SLOWLOG and MONITOR show the arguments as "(redacted)", as in Redis.
    for i in range(1, len(argv)):
        argv[i] = REDACTED
    if len(request) == 2:
        if acl.default.nopass:
            raise CommandError(_NO_DEFAULT_PASSWORD)
        user, password = b"default", request[1]
    else:
        user, password = request[1], request[2]
    if not acl.authenticate(c, user, password, request[0]):
        raise CommandError(WRONGPASS)
    return "OK"


def server_info_map(c: Client) -> dict[bytes, Any]:
    return {
        b"server": b"redis",
        b"version": REDIS_COMPAT_VERSION.encode(),
        b"proto": 3 if c.resp3 else 2,
        b"id": c.id,
        b"mode": b"standalone",
        b"role": b"replica" if c.server.repl.is_replica else b"master",
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
    # Options take effect in order, as in Redis: AUTH switches the user at once (even if
    # a later option is refused), SETNAME names the connection even before NOAUTH.
    n = len(argv)
    request = list(argv)
    while i < n:
        opt = request[i].lower()
        more = n - 1 - i
        if opt == b"auth" and more >= 2:
            argv[i + 1] = argv[i + 2] = REDACTED
            if not c.server.acl.authenticate(c, request[i + 1], request[i + 2], request[0]):
                raise CommandError(WRONGPASS)
            i += 3
        elif opt == b"setname" and more >= 1:
            _validate_name(request[i + 1])
            c.name = request[i + 1]
            i += 2
        else:
            raise CommandError(f"ERR Syntax error in HELLO option '{c_text(request[i])}'")
    if not c.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time"
        )
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
    default = c.user = c.server.acl.default
    c.authenticated = default.nopass and default.enabled
    c.refresh()
    return "RESET"


def _validate_name(name: bytes) -> None:
    if any(b < 33 or b > 126 for b in name):
        raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


def error_reply(message: str) -> ErrorReply:
    return ErrorReply(message)
