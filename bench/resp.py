"""A minimal blocking RESP client for the harness's own admin traffic (PING, DBSIZE, INFO).

Why not redis-py: the harness needs exact control over what "ready" means
(a refused connection, a LOADING error and a wrong DBSIZE are all distinct
states while a server restarts) and a bulk loader that writes pre-encoded
pipelines straight to the socket.  hiredis (already a SentryKV dependency)
does the reply parsing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

import hiredis


class RespError(Exception):
    """The server answered with an error reply (e.g. ``LOADING ...``)."""


def encode(*args: str | bytes | int) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Connection:
    """One TCP connection to 127.0.0.1:port with a hiredis reply reader."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def read_reply(self) -> object:
        while True:
            reply = self.reader.gets()
            if reply is not False:
                if isinstance(reply, hiredis.ReplyError):
                    raise RespError(str(reply))
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def call(self, *args: str | bytes | int) -> object:
        self.sock.sendall(encode(*args))
        return self.read_reply()

    def pipeline(self, payloads: Iterable[bytes], replies: int) -> int:
        """Send pre-encoded commands, then read ``replies`` replies; returns the error count."""
        self.sock.sendall(b"".join(payloads))
        errors = 0
        for _ in range(replies):
            try:
                self.read_reply()
            except RespError:
                errors += 1
        return errors


def command(port: int, *args: str | bytes | int, timeout: float = 10.0) -> object:
    """One command on a fresh connection (the harness's admin calls are rare)."""
    with Connection(port, timeout) as conn:
        return conn.call(*args)


def info(port: int, section: str = "") -> dict[str, str]:
    """INFO parsed into ``field -> value`` (section headers and blanks dropped)."""
    raw = command(port, "INFO", section) if section else command(port, "INFO")
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields
