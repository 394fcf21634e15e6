"""Helpers for the server-core tests: raw sockets, RESP encoding, differential runs.

Raw-socket tests talk bytes to the server exactly as ``nc`` would, so that
inline parsing, pipelining and protocol errors are exercised without a client
library smoothing anything over.  Differential helpers run the same argv on
SentryKV and on the reference redis-server and return replies *raw* (redis-py
response callbacks removed), so a difference in reply type (status vs bulk,
integer vs string) is a difference, not something a callback hides.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any, cast

import hiredis
import redis

Arg = bytes | str | int


def encode_command(*args: Arg) -> bytes:
    """One request in RESP multibulk form."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def encode_many(commands: Iterable[Sequence[Arg]]) -> bytes:
    return b"".join(encode_command(*cmd) for cmd in commands)


class RawConn:
    """A plain TCP connection that sends bytes and parses replies with hiredis."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader(replyError=cast(Any, ErrorText))
        self.timeout = timeout

    def __enter__(self) -> RawConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_slowly(self, data: bytes, pieces: Iterable[int], pause: float = 0.002) -> None:
        """Send ``data`` cut at the given offsets, pausing so each piece is its own read."""
        last = 0
        for cut in [*pieces, len(data)]:
            if cut > last:
                self.sock.sendall(data[last:cut])
                time.sleep(pause)
                last = cut

    def read_replies(self, count: int, timeout: float | None = None) -> list[Any]:
        """Exactly ``count`` replies; raises TimeoutError / ConnectionError otherwise."""
        replies: list[Any] = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while len(replies) < count:
                item = self.reader.gets()
                if item is False:
                    break
                replies.append(item)
            if len(replies) >= count:
                return replies
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"got {len(replies)} of {count} replies: {replies!r}")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"closed after {len(replies)} of {count} replies: {replies!r}")
            self.reader.feed(chunk)

    def read_until_closed(self, timeout: float = 3.0) -> tuple[bytes, bool]:
        """All bytes until the server closes (True) or ``timeout`` passes (False)."""
        data = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(data), False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                return bytes(data), False
            except ConnectionResetError:
                return bytes(data), True
            if not chunk:
                return bytes(data), True
            data += chunk

    def read_for(self, seconds: float) -> bytes:
        """Whatever arrives within ``seconds`` (the connection must stay open)."""
        data, closed = self.read_until_closed(seconds)
        assert not closed, f"connection closed unexpectedly after {data!r}"
        return data


class ErrorText(str):
    """An error reply as parsed by the raw reader (kept distinct from a status reply)."""

    def __new__(cls, message: str) -> ErrorText:  # hiredis calls replyError(message)
        return super().__new__(cls, message)

    def __repr__(self) -> str:
        return f"ErrorText({str(self)!r})"


def exchange(port: int, data: bytes, timeout: float = 1.0) -> tuple[bytes, bool]:
    """Send ``data`` on a fresh connection; return (everything received, closed by server)."""
    with RawConn(port) as conn:
        conn.send(data)
        return conn.read_until_closed(timeout)


_SENTINEL = b"*2\r\n$4\r\nECHO\r\n$10\r\n__end-of__\r\n"
_SENTINEL_REPLY = b"$10\r\n__end-of__\r\n"


def exchange_all(port: int, data: bytes, timeout: float = 3.0) -> tuple[bytes, bool]:
    """Like :func:`exchange` but fast: an ECHO sentinel follows ``data`` and marks the end.

    Returns (replies to ``data`` without the sentinel's, closed by server).
    """
    with RawConn(port) as conn:
        conn.send(data + _SENTINEL)
        received = bytearray()
        deadline = time.monotonic() + timeout
        while not received.endswith(_SENTINEL_REPLY):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(received), False
            conn.sock.settimeout(remaining)
            try:
                chunk = conn.sock.recv(1 << 20)
            except TimeoutError:
                return bytes(received), False
            except ConnectionResetError:
                return bytes(received), True
            if not chunk:
                return bytes(received), True
            received += chunk
        return bytes(received[: -len(_SENTINEL_REPLY)]), False


def exchange_counted(port: int, commands: Sequence[Sequence[Arg]], timeout: float = 3.0) -> tuple[bytes, bool]:
    """Send ``commands``; return the raw bytes of their replies (one each) and whether the
    server then closed the connection.  For connections where no ECHO sentinel can be
    answered (not authenticated yet)."""
    with RawConn(port) as conn:
        conn.send(encode_many(commands))
        received = bytearray()
        counter = hiredis.Reader(replyError=cast(Any, ErrorText))
        replies = 0
        deadline = time.monotonic() + timeout
        closed = False
        while replies < len(commands):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            conn.sock.settimeout(remaining)
            try:
                chunk = conn.sock.recv(1 << 20)
            except TimeoutError:
                break
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                break
            received += chunk
            counter.feed(chunk)
            while counter.gets() is not False:
                replies += 1
        if not closed:
            _, closed = conn.read_until_closed(0.02)
        return bytes(received), closed


def raw_client(port: int, protocol: int = 2, **kw: Any) -> redis.Redis:
    """A single-connection redis-py client that returns replies untouched."""
    client = redis.Redis(port=port, protocol=protocol, single_connection_client=True,
                         socket_timeout=30, **kw)
    client.response_callbacks.clear()
    return client


def call(client: redis.Redis, *args: Arg) -> Any:
    """Run one command; an error reply becomes ``("ERR", message)`` instead of an exception."""
    try:
        return client.execute_command(*args)
    except redis.ResponseError as exc:
        return ("ERR", str(exc))


def run_script(client: redis.Redis, script: Iterable[Sequence[Arg]]) -> list[Any]:
    return [call(client, *cmd) for cmd in script]


def server_alive(port: int) -> bool:
    with RawConn(port) as conn:
        conn.send(encode_command("PING"))
        return conn.read_replies(1) == [b"PONG"]


# -- differential runs ---------------------------------------------------------------------------

_TOLERANCE = {"TTL": 1, "PTTL": 1500, "EXPIRETIME": 1, "PEXPIRETIME": 1500}


def same_reply(cmd: Sequence[Arg], mine: Any, theirs: Any) -> bool:
    """Equal replies, allowing only for true nondeterminism (TTL drift, hash-table order of
    KEYS / SCAN / CONFIG GET, any key for RANDOMKEY)."""
    name = str(cmd[0]).upper()
    if mine == theirs:
        return True
    if name in _TOLERANCE and isinstance(mine, int) and isinstance(theirs, int) and mine >= 0 and theirs >= 0:
        return abs(mine - theirs) <= _TOLERANCE[name]
    if name == "KEYS" and isinstance(mine, list) and isinstance(theirs, list):
        return sorted(mine) == sorted(theirs)
    if name == "SCAN" and isinstance(mine, list) and isinstance(theirs, list) and len(mine) == 2 == len(theirs):
        return mine[0] == theirs[0] == b"0" and sorted(mine[1]) == sorted(theirs[1])
    if name == "CONFIG" and str(cmd[1]).upper() == "GET" and isinstance(mine, list) and isinstance(theirs, list):
        return dict(zip(mine[::2], mine[1::2], strict=True)) == dict(zip(theirs[::2], theirs[1::2], strict=True))
    if name == "RANDOMKEY":
        return (mine is None) == (theirs is None) and not isinstance(mine, tuple) and not isinstance(theirs, tuple)
    return False


def snapshot(client: redis.Redis) -> dict[int, dict[bytes, tuple[Any, ...]]]:
    """Databases 0-2 as {key: (type, string value or None, has a TTL)}."""
    state: dict[int, dict[bytes, tuple[Any, ...]]] = {}
    for db in range(3):
        call(client, "SELECT", db)
        keys = call(client, "KEYS", "*")
        entries = {}
        for k in keys:
            kind = call(client, "TYPE", k)
            val = call(client, "GET", k) if kind == b"string" else None
            ttl = call(client, "PTTL", k)
            entries[k] = (kind, val, ttl > 0 if isinstance(ttl, int) else ttl)
        state[db] = entries
    call(client, "SELECT", 0)
    return state


class Pair:
    """Raw clients to both servers plus the comparison loop."""

    def __init__(self, mine: redis.Redis, theirs: redis.Redis) -> None:
        self.mine, self.theirs = mine, theirs

    def reset(self) -> None:
        for client in (self.mine, self.theirs):
            call(client, "SELECT", 0)
            call(client, "FLUSHALL")

    def run(self, script: Sequence[Sequence[Arg]]) -> None:
        self.reset()
        for step, cmd in enumerate(script):
            mine, theirs = call(self.mine, *cmd), call(self.theirs, *cmd)
            if str(cmd[0]).upper() == "RANDOMKEY" and mine is not None and not isinstance(mine, tuple):
                assert call(self.mine, "EXISTS", mine) == 1
            assert same_reply(cmd, mine, theirs), (
                f"step {step}: {cmd}\n  sentrykv: {mine!r}\n  redis:    {theirs!r}\n  script: {list(script[:step + 1])}"
            )
        assert snapshot(self.mine) == snapshot(self.theirs), f"final state differs after {script}"
