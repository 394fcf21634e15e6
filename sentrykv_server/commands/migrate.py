"""MIGRATE (Redis's cluster.c migrateCommand): move keys to another SentryKV or Redis.

The keys are serialized as DUMP payloads and sent to the target as
``[AUTH ...] SELECT db RESTORE key ttl payload [REPLACE] ...`` in one write;
then one reply line is read per command.  Without COPY a key is deleted here
once the target acknowledged its RESTORE, and the deletions are logged as one
``DEL`` of exactly those keys (what Redis propagates).  Replies and errors are
Redis's: ``OK``, ``NOKEY``, ``IOERR error or timeout ...``, ``ERR Target
instance replied with error: ...``.

Like Redis, the command is synchronous: the socket I/O runs on the event loop
with ``timeout`` milliseconds for the connection and for each send and
receive, and no other client is served meanwhile.  That is what keeps MIGRATE
atomic (no command can observe or change a key between its serialization and
its deletion); the cost is a stall of up to a few times ``timeout`` against
an unreachable or hung target, exactly as with Redis.  Redis also keeps the
connection to a target cached for 10 seconds; SentryKV opens one per call
(and so always sends SELECT).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from sentrykv_server.commands.dump_restore import limits_of
from sentrykv_server.commands.errors import CommandError, parse_int, syntax_error
from sentrykv_server.commands.registry import command
from sentrykv_server.notify import GENERIC, notify
from sentrykv_server.persistence.rdb import payload as rdb_payload

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

CONNECT_ERROR = "IOERR error or timeout connecting to the client"
WRITE_ERROR = "IOERR error or timeout writing to target instance"
# The target may answer with a long error line; Redis reads up to 1 KiB of it.
MAX_LINE = 1024


def _bulk(parts: list[bytes], *args: bytes) -> None:
    parts.append(b"*%d\r\n" % len(args))
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))


def _parse(argv: list[bytes]) -> tuple[bool, bool, bytes | None, bytes | None, list[bytes]]:
    copy = replace = False
    user: bytes | None = None
    password: bytes | None = None
    keys = [argv[3]]
    j = 6
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = n - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise syntax_error()
            j += 1
            password = argv[j]
        elif opt == b"auth2":
            if more < 2:
                raise syntax_error()
            user, password = argv[j + 1], argv[j + 2]
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise CommandError(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
                )
            keys = argv[j + 1:]
            break
        else:
            raise syntax_error()
        j += 1
    return copy, replace, user, password, keys


class _Lines:
    """Reply lines from the target, each read within the socket's timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                return self.buf[:MAX_LINE]
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("target closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line


@command("migrate", -6, "write movablekeys", 3, 3, 1, group="generic", since="2.6.0")
def migrate_cmd(c: Client, argv: list[bytes]) -> Any:
    """Atomically transfer keys to another server."""
    copy, replace, user, password, names = _parse(argv)
    timeout = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout <= 0:
        timeout = 1000
    db = c.db
    found = [(key, value) for key in names if (value := db.lookup_read(key)) is not None]
    if not found:
        return "NOKEY"
    try:
        host = argv[1].decode()
        port = int(argv[2])
        sock = socket.create_connection((host, port), timeout=timeout / 1000)
    except (TimeoutError, socket.gaierror, ValueError, UnicodeDecodeError, OverflowError):
        raise CommandError(CONNECT_ERROR) from None
    except OSError:
        # Redis connects without blocking and only waits for writability, which a
        # refused connection also signals: the refusal shows up as a write error.
        raise CommandError(WRITE_ERROR) from None
    try:
        return _transfer(c, sock, dbid, found, copy, replace, user, password)
    finally:
        sock.close()


def _transfer(
    c: Client, sock: socket.socket, dbid: int, found: list[tuple[bytes, Any]],
    copy: bool, replace: bool, user: bytes | None, password: bytes | None,
) -> Any:
    db = c.db
    limits = limits_of(c)
    parts: list[bytes] = []
    if password is not None:
        if user is not None:
            _bulk(parts, b"AUTH", user, password)
        else:
            _bulk(parts, b"AUTH", password)
    _bulk(parts, b"SELECT", b"%d" % dbid)
    now = db.keyspace.now()
    sent: list[bytes] = []
    for key, value in found:
        ttl = 0
        when = db.expires.get(key)
        if when is not None:
            ttl = when - now
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        args = [b"RESTORE", key, b"%d" % ttl, rdb_payload.dump(value, limits)]
        if replace:
            args.append(b"REPLACE")
        _bulk(parts, *args)
        sent.append(key)
    try:
        sock.sendall(b"".join(parts))
    except OSError:
        raise CommandError(WRITE_ERROR) from None
    lines = _Lines(sock)
    moved: list[bytes] = []
    error: bytes | None = None
    socket_error = False
    try:
        auth_reply = lines.line() if password is not None else b"+OK"
        select_reply = lines.line()
        for key in sent:
            reply = lines.line()
            if auth_reply[:1] == b"-" or select_reply[:1] == b"-" or reply[:1] == b"-":
                if error is None:
                    error = auth_reply if auth_reply[:1] == b"-" else (
                        select_reply if select_reply[:1] == b"-" else reply)
            elif not copy:
                db.delete(key)
                moved.append(key)
                notify(c.server, GENERIC, b"del", db, key)
    except (OSError, ConnectionError):
        socket_error = True
    if moved:
        c.server.propagate(db.id, [b"DEL", *moved])
    if error is not None:
        text = error[1:].decode("utf-8", "replace")
        raise CommandError(f"ERR Target instance replied with error: {text}")
    if socket_error:
        raise CommandError("IOERR error or timeout reading to target instance")
    return "OK"
