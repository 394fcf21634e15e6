"""Protocol fuzzer: mutated RESP2/RESP3/inline traffic against a real server process.

Each case opens a connection, sends a seed stream (pipelined requests in multibulk and
inline form, RESP3 via HELLO 3) after byte-level mutation (flips, insertions, deletions,
duplicated ranges, header counts replaced by huge, negative or malformed values, nested
aggregates, RESP3 type bytes, binary junk), cut at random boundaries (every boundary
for short cases), and ends it the way clients do: a half-close (then everything must
be answered and the connection closed within ``eof_timeout``), an abrupt close (RST),
or a plain close after a short read.

Checked for every case: the bytes received are a sequence of well-formed RESP replies;
a ``-ERR Protocol error`` is the last of them and is followed by the server closing the
connection; a half-closed connection is closed by the server in time.  Across cases
(tests/fuzz/run.py): the process stays alive, a PING on another connection answers
within a second throughout (:class:`Watchdog`), and RSS stays bounded.

With a reference port, the same bytes also go to redis-server and the received bytes
are compared; differences are reported (not failed on): several are known (see
docs/fuzzing.md), e.g. what Redis drops when it frees a client on EOF.
"""

from __future__ import annotations

import random
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from tests.fuzz.resp import BadReply, reply_end

# Fast commands only: nothing that blocks, sleeps, pauses or kills clients, or changes
# the server's configuration (the watchdog and the other cases must be unaffected).
_SEEDS: list[tuple[bytes, ...]] = [
    (b"PING",), (b"PING", b"hello"), (b"ECHO", b"x\r\ny"), (b"SET", b"k", b"v"), (b"GET", b"k"),
    (b"INCR", b"n"), (b"DEL", b"k", b"n"), (b"EXISTS", b"k"), (b"MGET", b"k", b"n", b"x"),
    (b"MSET", b"a", b"1", b"b", b"2"), (b"LPUSH", b"l", b"a", b"b"), (b"LRANGE", b"l", b"0", b"-1"),
    (b"HSET", b"h", b"f", b"v"), (b"HGETALL", b"h"), (b"SADD", b"s", b"m"), (b"SMEMBERS", b"s"),
    (b"ZADD", b"z", b"1", b"m"), (b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"), (b"TYPE", b"z"),
    (b"APPEND", b"k", b"\x00\xff"), (b"STRLEN", b"k"), (b"SELECT", b"1"), (b"SELECT", b"0"),
    (b"HELLO", b"3"), (b"HELLO", b"2"), (b"MULTI",), (b"EXEC",), (b"DISCARD",), (b"DBSIZE",),
    (b"INCRBYFLOAT", b"f", b"1.5"), (b"GETRANGE", b"k", b"0", b"-1"), (b"OBJECT", b"ENCODING", b"l"),
    (b"RESET",), (b"QUIT",), (b"EXPIRE", b"k", b"1000"), (b"TTL", b"k"), (b"FLUSHDB",),
]
_HUGE_COUNTS = [b"0", b"-1", b"-5", b"1", b"2147483647", b"2147483648", b"600000000", b"1048577",
                b"99999999999999999999", b"", b"x", b"+1", b"01", b"-0", b"1 ", b"4294967296"]
_JUNK = [b"*", b"$", b"\r\n", b"\n", b"\r", b"%", b"~", b">", b"+", b":", b",", b"_", b"#", b"=", b"(",
         b"|", b"!", b"\x00", b"\"", b"'", b"\\x", b"*1\r\n*1\r\n*1\r\n", b"*2\r\n$1\r\na\r\n%1\r\n",
         b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n:1\r\n", b"~2\r\n", b">3\r\n", b"$-1\r\n", b"*-1\r\n"]
_HEADER = re.compile(rb"[*$](-?\d+)\r\n")
_CLIENT_ID = re.compile(rb"\$2\r\nid\r\n:\d+\r\n")  # HELLO's client id differs by server
PROTOCOL_ERROR = b"-ERR Protocol error"


def encode(argv: tuple[bytes, ...]) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


def inline(argv: tuple[bytes, ...]) -> bytes:
    def quote(a: bytes) -> bytes:
        if a and all(33 <= c < 127 and c not in b"\"'\\" for c in a):
            return a
        return b'"' + b"".join(bytes([c]) if 32 <= c < 127 and c not in b"\"\\" else b"\\x%02x" % c
                               for c in a) + b'"'
    return b" ".join(quote(a) for a in argv) + b"\r\n"


@dataclass
class ProtoStats:
    cases: int = 0
    requests: int = 0
    bad_replies: int = 0
    unclosed: int = 0  # half-closed, but the server did not close in time
    after_error: int = 0  # bytes after a protocol error, or no close after it
    differences: int = 0  # received bytes differ from redis-server's (informational)
    examples: list[str] = field(default_factory=list)
    difference_examples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.bad_replies + self.unclosed + self.after_error

    def note(self, text: str, difference: bool = False) -> None:
        target = self.difference_examples if difference else self.examples
        if len(target) < 20:
            target.append(text)


class Watchdog(threading.Thread):
    """PINGs the server on its own connection every ``interval``; keeps the worst latency."""

    def __init__(self, port: int, interval: float = 0.05, limit: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.port, self.interval, self.limit = port, interval, limit
        self.worst = 0.0
        self.late = 0  # PINGs that took longer than ``limit``
        self.failed = 0
        self.pings = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        sock: socket.socket | None = None
        while not self._stop_event.is_set():
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                start = time.monotonic()
                sock.sendall(b"PING\r\n")
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = sock.recv(64)
                    if not chunk:
                        raise ConnectionError("closed")
                    data += chunk
                took = time.monotonic() - start
                self.pings += 1
                self.worst = max(self.worst, took)
                if took > self.limit:
                    self.late += 1
            except OSError:
                self.failed += 1
                if sock is not None:
                    sock.close()
                sock = None
            self._stop_event.wait(self.interval)
        if sock is not None:
            sock.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(15)


class ProtoFuzzer:
    def __init__(self, port: int, seed: int, ref_port: int | None = None, eof_timeout: float = 2.0) -> None:
        self.port = port
        self.ref_port = ref_port
        self.rnd = random.Random(seed)
        self.eof_timeout = eof_timeout
        self.stats = ProtoStats()

    # -- traffic ---------------------------------------------------------------------------
    def seed_stream(self) -> tuple[bytes, int]:
        r = self.rnd
        parts = []
        n = r.randint(1, 12)
        for _ in range(n):
            argv = _SEEDS[r.randrange(len(_SEEDS))]
            parts.append(inline(argv) if r.random() < 0.25 else encode(argv))
        return b"".join(parts), n

    def mutate(self, data: bytes) -> bytes:
        r = self.rnd
        buf = bytearray(data)
        for _ in range(r.choice([0, 1, 1, 2, 3, 5])):
            roll = r.random()
            pos = r.randrange(len(buf) + 1)
            if roll < 0.15 and buf:
                buf[min(pos, len(buf) - 1)] = r.randrange(256)
            elif roll < 0.3:
                buf[pos:pos] = r.choice(_JUNK)
            elif roll < 0.4 and buf:
                end = min(len(buf), pos + r.randint(1, 16))
                del buf[pos:end]
            elif roll < 0.5 and buf:
                end = min(len(buf), pos + r.randint(1, 32))
                buf[pos:pos] = buf[pos:end]
            elif roll < 0.75:
                headers = list(_HEADER.finditer(bytes(buf)))
                if headers:
                    m = r.choice(headers)
                    buf[m.start(1):m.end(1)] = r.choice(_HUGE_COUNTS)
            elif roll < 0.85:
                buf[pos:pos] = bytes(r.randrange(256) for _ in range(r.randint(1, 64)))
            else:
                buf[pos:pos] = r.choice([b"*1\r\n" * r.randint(2, 2000), b"x" * r.randint(1000, 70000),
                                         b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"v" * r.randint(0, 1000),
                                         b"*2\r\n$4\r\nECHO\r\n*600000000\r\n", b"*2147483647\r\n"])
        return bytes(buf)

    def cuts(self, n: int) -> list[int]:
        if n <= 1:
            return []
        if n < 48 and self.rnd.random() < 0.3:
            return list(range(1, n))  # every boundary
        return sorted(self.rnd.sample(range(1, n), min(n - 1, self.rnd.randint(0, 6))))

    # -- one case --------------------------------------------------------------------------
    def _deliver(self, port: int, data: bytes, cuts: list[int], ending: str, pause: bool) -> tuple[bytes, bool]:
        sock = socket.create_connection(("127.0.0.1", port), timeout=self.eof_timeout)
        received = bytearray()
        closed = False
        try:
            last = 0
            try:
                for cut in [*cuts, len(data)]:
                    if cut > last:
                        sock.sendall(data[last:cut])
                        last = cut
                        if pause:
                            time.sleep(0.001)
            except OSError:
                pass  # the server may have closed already (protocol error)
            if ending == "rst":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return b"", True
            if ending == "half":
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            deadline = time.monotonic() + (self.eof_timeout if ending == "half" else 0.05)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(1 << 20)
                except TimeoutError:
                    break
                except OSError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                received += chunk
        finally:
            sock.close()
        return bytes(received), closed

    def case(self) -> None:
        r = self.rnd
        stream, n = self.seed_stream()
        data = self.mutate(stream) if r.random() < 0.8 else stream
        cuts = self.cuts(len(data))
        ending = r.choice(["half", "half", "half", "rst", "close"])
        pause = r.random() < 0.1
        stats = self.stats
        stats.cases += 1
        stats.requests += n
        got, closed = self._deliver(self.port, data, cuts, ending, pause)
        if ending == "rst":
            return
        self._check(data, got, closed, ending)
        if self.ref_port is not None and ending == "half" and closed and stats.cases % 3 == 0:
            # Same bytes, same starting state (both flushed first), to redis-server.
            self._flush_both()
            got, _ = self._deliver(self.port, data, cuts, ending, pause)
            want, ref_closed = self._deliver(self.ref_port, data, cuts, ending, pause)
            got, want = _CLIENT_ID.sub(b"", got), _CLIENT_ID.sub(b"", want)
            if ref_closed and got != want and not want.startswith(got) and not got.startswith(want):
                stats.differences += 1
                stats.note(f"DIFF {data[:200]!r}\n  redis:    {want[:200]!r}\n  sentrykv: {got[:200]!r}", True)

    def _flush_both(self) -> None:
        for port in (self.port, self.ref_port):
            assert port is not None
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"FLUSHALL\r\n")
                reply = b""
                while not reply.endswith(b"\r\n"):
                    chunk = sock.recv(64)
                    if not chunk:
                        break
                    reply += chunk

    def _check(self, data: bytes, got: bytes, closed: bool, ending: str) -> None:
        stats = self.stats
        pos = 0
        replies = []
        try:
            while pos < len(got):
                end = reply_end(got, pos)
                if end is None:
                    break
                replies.append(got[pos:end])
                pos = end
        except BadReply as exc:
            stats.bad_replies += 1
            stats.note(f"BAD REPLY ({exc}) to {data[:200]!r}: {got[:200]!r}")
            return
        if pos != len(got) and (ending == "half" or closed):
            stats.bad_replies += 1
            stats.note(f"TRUNCATED REPLY to {data[:200]!r}: {got[pos:pos + 200]!r}")
            return
        errors = [i for i, rep in enumerate(replies) if rep.startswith(PROTOCOL_ERROR)]
        if errors and (errors[0] != len(replies) - 1 or (ending == "half" and not closed)):
            stats.after_error += 1
            stats.note(f"AFTER PROTOCOL ERROR to {data[:200]!r}: {got[:300]!r} closed={closed}")
        if ending == "half" and not closed:
            stats.unclosed += 1
            stats.note(f"NOT CLOSED after half-close: {data[:200]!r} got {got[:200]!r}")

    def run(self, requests: int, alive: object = None) -> ProtoStats:
        while self.stats.requests < requests:
            self.case()
            if alive is not None and callable(alive) and self.stats.cases % 200 == 0 and not alive():
                break
        return self.stats
