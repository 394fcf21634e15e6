"""Command-level differential fuzzer: the same random commands on SentryKV and redis-server.

Commands come from tests/fuzz/generators.py (every family on main, valid and mutated),
are sent in pipelined batches over a RESP2 and a RESP3 connection to each server, and
the replies are compared byte for byte.  Only true nondeterminism is normalised, by
command name (:data:`RANDOM`, :data:`UNORDERED`, :data:`SCANS`, :data:`TTLS`, and for the
later families tests/fuzz/normalise.py, each with its reason), also inside EXEC replies.  SPOP is the one random *write*: it ends its batch and the popped
set is copied from SentryKV to Redis so both continue from the same state.

Every ``digest_every`` commands the whole state is compared with DEBUG DIGEST (Redis's
algorithm, store/redis_digest.py); on a difference DEBUG DIGEST-VALUE names the keys,
their contents are recorded, and both datasets are flushed so the run goes on cleanly.
A batch SentryKV takes more than ``hang_seconds`` to answer counts as a hang.
"""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fuzz import generators, normalise
from tests.fuzz.resp import parse, split_replies

Argv = tuple[bytes, ...]

RANDOM = {b"SRANDMEMBER", b"HRANDFIELD", b"ZRANDMEMBER", b"RANDOMKEY", b"SPOP"}
UNORDERED = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"HGETALL", b"HKEYS", b"HVALS", b"KEYS"}
SCANS = {b"SCAN", b"HSCAN", b"SSCAN", b"ZSCAN"}
TTLS = {b"TTL": 2, b"PTTL": 2000, b"EXPIRETIME": 2, b"PEXPIRETIME": 2000}
PAIRED = {b"HGETALL", b"HSCAN", b"ZSCAN"}
DBS = (0, 1, 2)
# Known differences (docs/fuzzing.md), counted apart from mismatches: OBJECT ENCODING of a
# string, (Redis's, SentryKV's).  A string changed in place by APPEND/SETRANGE is "raw" in
# Redis whatever its length, and INCRBYFLOAT stores an integral result as "embstr";
# SentryKV derives the encoding from the value alone.
KNOWN_ENCODINGS = {(b"raw", b"embstr"), (b"raw", b"int"), (b"embstr", b"int")}
KNOWN_COMMANDS = {b"OBJECT", b"SORT", b"SORT_RO"}


_SORT_ERRNO = ("error", b"ERR One or more scores can't be converted into double")


def known(argv: Argv, redis_value: Any, skv_value: Any) -> bool:
    if argv[0].upper() in (b"SORT", b"SORT_RO"):
        # Redis 7.0.15 reads errno after strtod without clearing it first: once any earlier
        # command left ERANGE behind (ZADD k 1e400 m, a weight of 1e400 ...), a numeric SORT
        # of valid numbers fails until some failing syscall overwrites errno. SentryKV sorts.
        return redis_value == _SORT_ERRNO and skv_value[0] in ("array", "int")
    if argv[0].upper() != b"OBJECT":
        return False
    if redis_value[0] == skv_value[0] == "bulk" and (redis_value[1], skv_value[1]) in KNOWN_ENCODINGS:
        return True
    # The same root: a small integer Redis keeps as embstr/raw (INCRBYFLOAT, APPEND...) is
    # not its shared object (refcount 1); SentryKV's is "int", reported as shared (INT_MAX).
    return (len(argv) > 1 and argv[1].upper() == b"REFCOUNT"
            and (redis_value, skv_value) == (("int", b"1"), ("int", b"2147483647")))


def encode(argv: Argv) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


class Conn:
    """A raw pipelining socket; ``exchange`` sends requests and returns their raw replies."""

    def __init__(self, port: int, proto: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        if proto == 3:
            hello = self.exchange([(b"HELLO", b"3")])[0]
            assert hello.startswith(b"%"), hello[:80]

    def exchange(self, commands: list[Argv]) -> list[bytes]:
        self.sock.sendall(b"".join(encode(a) for a in commands))
        while True:
            found = split_replies(self.buf, len(commands))
            if found is not None:
                replies, used = found
                self.buf = self.buf[used:]
                return replies
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def _elements(value: Any, pairs: bool) -> list[Any]:
    items = list(value[1]) if value[0] in ("array", "set", "map") else []
    if value[0] == "map":
        return sorted(items, key=repr)
    if pairs:
        return sorted(zip(items[0::2], items[1::2], strict=False), key=repr)
    return sorted(items, key=repr)


def same(argv: Argv, mine: bytes, theirs: bytes) -> bool:
    """Equal replies, allowing only for the command's true nondeterminism."""
    if mine == theirs:
        return True
    name = argv[0].upper()
    if not (name in RANDOM or name in UNORDERED or name in SCANS or name in TTLS or name in normalise.NAMES):
        return False
    a, b = parse(mine)[0], parse(theirs)[0]
    return same_value(argv, a, b)


def same_value(argv: Argv, a: Any, b: Any) -> bool:
    if a == b:
        return True
    name = argv[0].upper()
    if name in normalise.NAMES:
        return normalise.equivalent(argv, a, b)
    if a[0] != b[0] or a[0] in ("error", "status"):
        return False
    if name in TTLS and a[0] == "int":
        x, y = int(a[1]), int(b[1])
        return x >= 0 and y >= 0 and abs(x - y) <= TTLS[name]
    if name in RANDOM:  # shape and size only (tests/types/diff.py checks membership)
        return a[0] not in ("array", "set", "map") or len(a[1]) == len(b[1])
    if name in UNORDERED:
        return _elements(a, name in PAIRED) == _elements(b, name in PAIRED)
    if name in SCANS and a[0] == "array" and len(a[1]) == 2 == len(b[1]):
        cursor_in = argv[1] if name == b"SCAN" else (argv[2] if len(argv) > 2 else b"0")
        if cursor_in != b"0":
            return True  # a cursor the fuzzer made up means something else in each hash table
        if a[1][0] == b[1][0] == ("bulk", b"0"):
            return _elements(a[1][1], name in PAIRED) == _elements(b[1][1], name in PAIRED)
        return True  # cursors of a hash table are the server's own
    return False


@dataclass
class DiffStats:
    requests: int = 0
    batches: int = 0
    mismatches: int = 0
    state_mismatches: int = 0
    hangs: int = 0
    crashes: int = 0
    slowest_batch: float = 0.0
    digest_checks: int = 0
    known: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 30:
            self.examples.append(text)


class Side:
    """One server: a RESP2 and a RESP3 fuzzing connection plus an admin connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conns = {2: Conn(port, 2), 3: Conn(port, 3)}
        self.admin = Conn(port, 2)

    def close(self) -> None:
        for c in (*self.conns.values(), self.admin):
            c.close()


class DiffFuzzer:
    def __init__(self, skv_port: int, ref_port: int, seed: int, hang_seconds: float = 1.0,
                 invalid: float = 0.1) -> None:
        self.rnd = random.Random(seed)
        self.skv = Side(skv_port)
        self.ref = Side(ref_port)
        self.hang_seconds = hang_seconds
        self.invalid = invalid
        self.stats = DiffStats()
        self.db = {2: 0, 3: 0}  # each fuzzing connection's selected database
        self.queued: dict[int, list[Argv] | None] = {2: None, 3: None}  # MULTI queues
        for side in (self.skv, self.ref):
            side.admin.exchange([(b"FLUSHALL",)])

    def close(self) -> None:
        self.skv.close()
        self.ref.close()

    def reconnect(self) -> None:
        """After a lost connection: fresh connections and a clean state on both sides."""
        self.close()
        self.skv, self.ref = Side(self.skv.port), Side(self.ref.port)
        self.db = {2: 0, 3: 0}
        self.queued = {2: None, 3: None}
        for side in (self.skv, self.ref):
            side.admin.exchange([(b"FLUSHALL",)])

    # -- one batch ---------------------------------------------------------------------------
    def _draw_batch(self, proto: int, size: int) -> list[Argv]:
        batch: list[Argv] = []
        while len(batch) < size:
            argv = generators.draw(self.rnd, self.invalid)
            if argv[0].upper() == b"SPOP":
                if self.queued[proto] is not None or any(a[0].upper() == b"MULTI" for a in batch):
                    continue  # inside MULTI its effect could not be re-synchronised
                batch.append(argv)
                break
            batch.append(argv)
        return batch

    def batch(self, size: int) -> None:
        proto = 2 if self.rnd.random() < 0.6 else 3
        commands = self._draw_batch(proto, size)
        start = time.monotonic()
        mine = self.skv.conns[proto].exchange(commands)
        took = time.monotonic() - start
        theirs = self.ref.conns[proto].exchange(commands)
        stats = self.stats
        stats.batches += 1
        stats.requests += len(commands)
        stats.slowest_batch = max(stats.slowest_batch, took)
        if took > self.hang_seconds:
            stats.hangs += 1
            stats.note(f"HANG {took:.2f}s for batch {commands!r}")
        for argv, a, b in zip(commands, mine, theirs, strict=True):
            if a != b and argv[0].upper() in KNOWN_COMMANDS and known(argv, parse(b)[0], parse(a)[0]):
                stats.known += 1
            elif not self._compare(proto, argv, a, b):
                stats.mismatches += 1
                stats.note(f"MISMATCH RESP{proto} db{self.db[proto]} {argv!r}\n  redis:    {b[:300]!r}\n"
                           f"  sentrykv: {a[:300]!r}")
            self._track(proto, argv, b)
        if commands[-1][0].upper() == b"SPOP" and not b.startswith(b"-"):
            self._resync_set(self.db[proto], commands[-1][1])

    def _compare(self, proto: int, argv: Argv, mine: bytes, theirs: bytes) -> bool:
        queue = self.queued[proto]
        if argv[0].upper() == b"EXEC" and queue and mine != theirs:
            a, b = parse(mine)[0], parse(theirs)[0]
            if a[0] == b[0] == "array" and len(a[1]) == len(b[1]) == len(queue):
                return all(same_value(q, x, y) or known(q, y, x) for q, x, y in zip(queue, a[1], b[1], strict=True))
        return same(argv, mine, theirs)

    def _track(self, proto: int, argv: Argv, reply: bytes) -> None:
        """Follow SELECT and MULTI on the client side (from Redis's replies)."""
        name = argv[0].upper()
        queue = self.queued[proto]
        if name == b"SELECT" and reply == b"+OK\r\n" and queue is None:
            self.db[proto] = int(argv[1])
        elif name == b"MULTI" and reply == b"+OK\r\n":
            self.queued[proto] = []
        elif name in (b"EXEC", b"DISCARD") and queue is not None and not reply.startswith(b"-ERR wrong"):
            if name == b"EXEC":
                for q, ok in zip(queue, self._exec_ok(reply, len(queue)), strict=False):
                    if ok and q[0].upper() == b"SELECT":
                        self.db[proto] = int(q[1])
            self.queued[proto] = None
        elif queue is not None and reply == b"+QUEUED\r\n":
            queue.append(argv)

    @staticmethod
    def _exec_ok(reply: bytes, n: int) -> list[bool]:
        if not reply.startswith(b"*") or reply.startswith(b"*-1"):
            return [False] * n
        value = parse(reply)[0]
        return [item == ("status", b"OK") for item in value[1]]

    def _resync_set(self, db: int, key: bytes) -> None:
        """SPOP removed different members on each side: both get SentryKV's survivors, written
        afresh on both so the encodings (which never shrink back) agree too."""
        sel = (b"SELECT", b"%d" % db)
        kind = parse(self.skv.admin.exchange([sel, (b"TYPE", key)])[1])[0]
        if kind != ("status", b"set"):
            return
        members = parse(self.skv.admin.exchange([(b"SMEMBERS", key)])[0])[0][1]
        restore: list[Argv] = [sel, (b"DEL", key)]
        if members:
            restore.append((b"SADD", key, *[m[1] for m in members]))
        self.ref.admin.exchange(restore)
        self.skv.admin.exchange(restore)

    # -- whole-state comparison --------------------------------------------------------------
    def check_digest(self) -> bool:
        self.stats.digest_checks += 1
        a = self.skv.admin.exchange([(b"DEBUG", b"DIGEST")])[0]
        b = self.ref.admin.exchange([(b"DEBUG", b"DIGEST")])[0]
        if a == b:
            return True
        self.stats.state_mismatches += 1
        self.stats.note(f"STATE digest redis {b!r} sentrykv {a!r}: " + "; ".join(self._differing_keys()))
        for side in (self.skv, self.ref):  # start over from a clean state
            side.admin.exchange([(b"FLUSHALL",)])
        return False

    def _differing_keys(self) -> list[str]:
        out = []
        for db in DBS:
            sel = (b"SELECT", b"%d" % db)
            keys = set()
            for side in (self.skv, self.ref):
                listing = parse(side.admin.exchange([sel, (b"KEYS", b"*")])[1])[0]
                keys |= {k[1] for k in listing[1]}
            for k in sorted(keys):
                probe: list[Argv] = [sel, (b"DEBUG", b"DIGEST-VALUE", k), (b"TYPE", k)]
                a, b = self.skv.admin.exchange(probe), self.ref.admin.exchange(probe)
                if a != b:
                    out.append(f"db{db} {k!r}: redis {b[1:]!r} sentrykv {a[1:]!r}")
        return out[:10]

    def run(self, requests: int, batch_size: int = 32, digest_every: int = 5000,
            alive: Any = None) -> DiffStats:
        next_digest = digest_every
        while self.stats.requests < requests:
            try:
                self.batch(self.rnd.randint(1, batch_size))
            except (ConnectionError, OSError) as exc:
                self.stats.crashes += 1
                self.stats.note(f"CONNECTION LOST: {exc!r}")
                if alive is not None and not alive():
                    break
                self.reconnect()
                continue
            if self.stats.requests >= next_digest:
                next_digest += digest_every
                self.check_digest()
        self.check_digest()
        return self.stats
