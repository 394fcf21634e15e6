"""A raw RESP2/RESP3 client that keeps every reply's wire type.

redis-py folds replies into Python values (a RESP3 set becomes a set, a double
a float, a map a dict), which hides exactly the differences a compatibility
test must see: a bulk string where Redis sends a double, an array where it
sends a set.  This client parses replies into tagged tuples instead, e.g.
``("bulk", b"x")``, ``("double", b"1.5")``, ``("array", [...])``, so two
servers can be compared byte-for-byte in meaning.
"""

from __future__ import annotations

import socket
from typing import Any

Reply = Any  # nested tuples: (tag, payload)


class RawConnection:
    """One socket speaking RESP; ``call`` returns the tagged reply."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.pos = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, *args: bytes | str | int | float) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            raw = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
        self.sock.sendall(b"".join(parts))

    def call(self, *args: bytes | str | int | float) -> Reply:
        self.send(*args)
        return self.read()

    # -- parsing ---------------------------------------------------------------------------
    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        self.pos += n + 2
        return data

    def read(self) -> Reply:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return ("status", rest)
        if kind == b"-":
            return ("error", rest)
        if kind == b":":
            return ("int", int(rest))
        if kind == b"$":
            n = int(rest)
            return ("null",) if n < 0 else ("bulk", self._exact(n))
        if kind == b"=":
            return ("verbatim", self._exact(int(rest)))
        if kind == b",":
            return ("double", rest)
        if kind == b"#":
            return ("bool", rest == b"t")
        if kind == b"_":
            return ("null",)
        if kind == b"(":
            return ("bigint", rest)
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return ("nullarray",)
            tag = {b"*": "array", b"~": "set", b">": "push"}[kind]
            return (tag, [self.read() for _ in range(n)])
        if kind == b"%":
            n = int(rest)
            return ("map", [(self.read(), self.read()) for _ in range(n)])
        raise ValueError(f"bad reply line {line!r}")


def plain(reply: Reply) -> Any:
    """Strip tags for readable assertions (doubles stay bytes)."""
    tag = reply[0]
    if tag in ("array", "set", "push"):
        return [plain(x) for x in reply[1]]
    if tag == "map":
        return {plain(k): plain(v) for k, v in reply[1]}
    if tag == "null" or tag == "nullarray":
        return None
    return reply[1]
