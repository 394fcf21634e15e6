"""A minimal blocking RESP2/RESP3 connection for the CLI.

Why not redis-py here: redis-cli's output depends on the *wire type* of a reply
(``+OK`` prints as ``OK`` but the bulk string ``"OK"`` prints quoted, a RESP3
double prints as ``(double) 1.5``), and redis-py erases those distinctions. This
module keeps each reply's type, which :mod:`sentrykv_cli.format` needs.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import BinaryIO, TypeAlias


class ConnectionLost(Exception):
    """The server closed the connection or a socket error happened mid-command."""


class ProtocolError(Exception):
    """The server sent bytes that are not valid RESP."""


class Status(bytes):
    """A simple string reply (``+OK``): printed without quotes."""


@dataclass(frozen=True)
class ErrorReply:
    """An error reply (``-ERR ...`` or RESP3 blob error)."""

    message: str


@dataclass(frozen=True)
class Double:
    """A RESP3 double; the server's own text is kept so it prints unchanged."""

    text: str


@dataclass(frozen=True)
class BigNumber:
    """A RESP3 big number (``(``), kept as text."""

    text: str


@dataclass(frozen=True)
class Verbatim:
    """A RESP3 verbatim string: redis-cli prints its text raw, without quotes."""

    fmt: str
    text: bytes


class RespSet(list["Reply"]):
    """A RESP3 set (``~``): printed like an array with ``~`` markers."""


class RespPush(list["Reply"]):
    """A RESP3 push message (``>``)."""


@dataclass(frozen=True)
class RespMap:
    """A RESP3 map (``%``) as an ordered list of key/value pairs."""

    pairs: list[tuple[Reply, Reply]]


Reply: TypeAlias = (
    "None | bool | int | bytes | Status | ErrorReply | Double | BigNumber | Verbatim"
    " | list[Reply] | RespSet | RespPush | RespMap"
)


def encode_command(args: list[bytes]) -> bytes:
    """Encode one command as a RESP array of bulk strings (what every server accepts)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RespReader:
    """Reads one reply at a time from a buffered binary stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def _line(self) -> bytes:
        try:
            line = self._stream.readline()
        except OSError as exc:
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc
        if not line:
            raise ConnectionLost("Server closed the connection")
        if not line.endswith(b"\r\n"):
            # readline() only stops early at EOF: the reply was cut short.
            raise ConnectionLost("Server closed the connection")
        return line[:-2]

    def _exact(self, n: int) -> bytes:
        try:
            data = self._stream.read(n + 2)
        except OSError as exc:
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc
        if len(data) != n + 2:
            raise ConnectionLost("Server closed the connection")
        return data[:n]

    @staticmethod
    def _int(raw: bytes) -> int:
        try:
            return int(raw)
        except ValueError:
            raise ProtocolError(f"bad length or integer {raw!r}") from None

    def read(self) -> Reply:
        """Return the next reply; attribute frames (``|``) are read and dropped."""
        line = self._line()
        if not line:
            raise ProtocolError("empty line where a reply type was expected")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Status(rest)
        if kind == b"-":
            return ErrorReply(rest.decode("utf-8", "replace"))
        if kind == b":":
            return self._int(rest)
        if kind in (b"$", b"!", b"="):
            n = self._int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            if kind == b"!":
                return ErrorReply(data.decode("utf-8", "replace"))
            if kind == b"=":
                return Verbatim(data[:3].decode("ascii", "replace"), data[4:])
            return data
        if kind in (b"*", b"~", b">"):
            n = self._int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            if kind == b"~":
                return RespSet(items)
            if kind == b">":
                return RespPush(items)
            return items
        if kind == b"%":
            n = self._int(rest)
            return RespMap([(self.read(), self.read()) for _ in range(n)])
        if kind == b"|":
            n = self._int(rest)
            for _ in range(2 * n):
                self.read()
            return self.read()
        if kind == b"_":
            return None
        if kind == b"#":
            return rest == b"t"
        if kind == b",":
            return Double(rest.decode("ascii", "replace"))
        if kind == b"(":
            return BigNumber(rest.decode("ascii", "replace"))
        raise ProtocolError(f"unknown reply type byte {kind!r}")


@dataclass(frozen=True)
class TlsOptions:
    """What ``--tls`` needs; kept separate so the socket code stays one path."""

    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    sni: str | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cacert)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx


class Connection:
    """One TCP (optionally TLS) connection speaking RESP, used synchronously."""

    def __init__(
        self, host: str, port: int, *, timeout: float = 5.0, tls: TlsOptions | None = None
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            sock = tls.context().wrap_socket(sock, server_hostname=tls.sni or host)
        # Connect with a timeout, but wait for replies without one: WAITAOF 1 0 0
        # and blocking commands legitimately take as long as they take.
        sock.settimeout(None)
        self._sock = sock
        self._reader = RespReader(sock.makefile("rb"))

    def call(self, args: list[bytes]) -> Reply:
        """Send one command and return its reply (an :class:`ErrorReply` is returned, not raised)."""
        try:
            self._sock.sendall(encode_command(args))
        except OSError as exc:
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc
        return self._reader.read()

    def read_reply(self) -> Reply:
        """Read one more reply (MONITOR / SUBSCRIBE streams)."""
        return self._reader.read()

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
