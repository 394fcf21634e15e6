"""Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET, CLIENT."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from sentrykv_server import REDIS_COMPAT_VERSION
from sentrykv_server.commands.errors import (
    WRONGPASS,
    CommandError,
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


def _validate_name(name: bytes) -> None:
    if any(b < 33 or b > 126 for b in name):
        raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


def error_reply(message: str) -> ErrorReply:
    return ErrorReply(message)
