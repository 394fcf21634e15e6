"""Differential execution: the same commands on SentryKV and on a real redis-server.

Replies are compared as tagged wire values (see rawresp), so a bulk string
where Redis sends a RESP3 double, or an array where it sends a set, is a
failure.  Only true nondeterminism is normalised:

* unordered results (sets, hash tables) are sorted — but compact encodings
  (listpack hashes, intsets) must match Redis's order exactly;
* SPOP / SRANDMEMBER / HRANDFIELD / ZRANDMEMBER are checked for shape, size
  and membership against the state both servers share, then SPOP's effect
  is re-synchronised so both servers continue from the same data;
* *SCAN commands are run to completion and compared as sets of elements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.types.rawresp import RawConnection, Reply, plain

RANDOM = {b"SPOP", b"SRANDMEMBER", b"HRANDFIELD", b"ZRANDMEMBER"}
SCANS = {b"HSCAN", b"SSCAN", b"ZSCAN"}
UNORDERED = {b"SINTER", b"SUNION", b"SDIFF", b"SMEMBERS", b"HGETALL", b"HKEYS", b"HVALS"}
COMPACT = {b"listpack", b"intset"}


def _sorted(reply: Reply) -> Reply:
    """Sort the elements of an array/set/map reply (pairs stay pairs)."""
    tag = reply[0]
    if tag in ("array", "set"):
        return (tag, sorted(reply[1], key=repr))
    if tag == "map":
        return (tag, sorted(reply[1], key=repr))
    return reply


@dataclass
class Side:
    """One server reached over a RESP2 and a RESP3 connection."""

    name: str
    port: int
    conns: dict[int, RawConnection] = field(default_factory=dict)

    def conn(self, proto: int) -> RawConnection:
        c = self.conns.get(proto)
        if c is None:
            c = RawConnection(self.port)
            if proto == 3:
                assert c.call("HELLO", "3")[0] == "map"
            self.conns[proto] = c
        return c

    def call(self, *args: bytes | str | int, proto: int = 2) -> Reply:
        return self.conn(proto).call(*args)

    def close(self) -> None:
        for c in self.conns.values():
            c.close()
        self.conns.clear()


class Mismatch(AssertionError):
    pass


class Differ:
    """Runs commands on both sides and asserts they agree."""

    def __init__(self, skv_port: int, ref_port: int) -> None:
        self.skv = Side("sentrykv", skv_port)
        self.ref = Side("redis", ref_port)
        self.log: list[str] = []

    def close(self) -> None:
        self.skv.close()
        self.ref.close()

    def both(self, *args: bytes | str | int, proto: int = 2) -> tuple[Reply, Reply]:
        return self.skv.call(*args, proto=proto), self.ref.call(*args, proto=proto)

    def same(self, *args: bytes | str | int) -> Reply:
        """Run in RESP2 and in RESP3 on both servers; the tagged replies must be identical
        each time. Returns SentryKV's RESP3 reply."""
        got: Reply = None
        for proto in (2, 3):
            got, want = self.both(*args, proto=proto)
            assert got == want, f"{args!r} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}"
        return got

    def reset(self, config: dict[str, str] | None = None) -> None:
        self.log = []
        for side in (self.skv, self.ref):
            assert side.call("FLUSHALL") == ("status", b"OK")
            for name, value in (config or {}).items():
                assert side.call("CONFIG", "SET", name, value) == ("status", b"OK"), name

    def fail(self, message: str) -> None:
        history = "\n".join(self.log[-40:])
        raise Mismatch(f"{message}\n--- commands so far (last 40) ---\n{history}")

    # -- one command -----------------------------------------------------------------------
    def run(self, args: tuple[bytes, ...], proto: int = 2) -> None:
        self.log.append(f"[RESP{proto}] " + " ".join(a.decode("latin-1") for a in args))
        name = args[0].upper()
        if name in SCANS:
            self._scan(args, proto)
            return
        if name in RANDOM:
            self._random(args, proto)
            return
        compact = True
        if name in UNORDERED and name not in (b"SINTER", b"SUNION", b"SDIFF"):
            enc = self.ref.call("OBJECT", "ENCODING", args[1])
            compact = enc[0] == "null" or enc[1] in COMPACT
        elif name in UNORDERED:
            compact = False
        got, want = self.both(*args, proto=proto)
        if not compact:
            got, want = _sorted(got), _sorted(want)
        if got != want:
            self.fail(f"reply mismatch for {args!r} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}")

    # -- scans -----------------------------------------------------------------------------
    def _scan_all(self, side: Side, args: tuple[bytes, ...], proto: int) -> tuple[Reply, list[Any], int]:
        first = side.call(*args, proto=proto)
        if first[0] == "error":
            return first, [], 0
        cursor = first[1][0][1]
        items = plain(first[1][1])
        pages = 1
        while cursor != b"0":
            reply = side.call(args[0], args[1], cursor, *args[3:], proto=proto)
            cursor = reply[1][0][1]
            items += plain(reply[1][1])
            pages += 1
            if pages > 10000:
                self.fail(f"{side.name}: scan does not terminate for {args!r}")
        return first, items, pages

    def _scan(self, args: tuple[bytes, ...], proto: int) -> None:
        enc = self.ref.call("OBJECT", "ENCODING", args[1])
        got_first, got, got_pages = self._scan_all(self.skv, args, proto)
        want_first, want, want_pages = self._scan_all(self.ref, args, proto)
        if want_first[0] == "error" or got_first[0] == "error":
            if got_first != want_first:
                self.fail(f"scan error mismatch {args!r}: redis {want_first} sentrykv {got_first}")
            return
        pairs = args[0].upper() != b"SSCAN"

        def group(items: list[Any]) -> list[Any]:
            if pairs:
                return sorted(zip(items[0::2], items[1::2], strict=True))
            return sorted(items)

        if group(got) != group(want):
            self.fail(f"scan contents differ for {args!r}:\n  redis:    {group(want)}\n  sentrykv: {group(got)}")
        if enc[0] != "null" and enc[1] in COMPACT:
            # Compact encodings come back whole, in one call, in Redis's order.
            if got_first != want_first:
                self.fail(f"compact scan page differs for {args!r}:\n  redis:    {want_first}\n  sentrykv: {got_first}")

    # -- randomness ------------------------------------------------------------------------
    def _state(self, key: bytes) -> tuple[str, Any]:
        kind = plain(self.ref.call("TYPE", key))
        if kind == b"set":
            return "set", set(plain(self.ref.call("SMEMBERS", key)))
        if kind == b"hash":
            return "hash", plain(self.ref.call("HGETALL", key, proto=3))
        if kind == b"zset":
            flat = plain(self.ref.call("ZRANGE", key, 0, -1, "WITHSCORES"))
            return "zset", dict(zip(flat[0::2], flat[1::2], strict=True))
        return kind.decode(), None

    def _random(self, args: tuple[bytes, ...], proto: int) -> None:
        name = args[0].upper()
        kind, state = self._state(args[1])
        got, want = self.both(*args, proto=proto)
        if want[0] == "error" or got[0] == "error":
            if got != want:
                self.fail(f"error mismatch {args!r}: redis {want} sentrykv {got}")
            return
        for side, reply in (("redis", want), ("sentrykv", got)):
            problem = check_random(name, args, reply, state, proto)
            if problem:
                self.fail(f"{side}: bad reply {reply} to {args!r} with state {state!r}: {problem}")
        if got[0] != want[0] or _count(got) != _count(want):
            self.fail(f"random reply shape differs for {args!r}: redis {want} sentrykv {got}")
        if name == b"SPOP" and state:
            self._resync_set(args[1])

    def _resync_set(self, key: bytes) -> None:
        """After SPOP the servers hold different survivors: copy SentryKV's to both."""
        survivors = sorted(plain(self.skv.call("SMEMBERS", key)))
        mine = plain(self.ref.call("SMEMBERS", key))
        for side in (self.skv, self.ref):
            side.call("DEL", key)
            if survivors:
                side.call("SADD", key, *survivors)
        if len(mine) != len(survivors):
            self.fail(f"SPOP left {len(mine)} members on redis but {len(survivors)} on sentrykv")

    # -- final state -----------------------------------------------------------------------
    def compare_state(self, string_encoding: bool = True) -> None:
        """Every key's type, encoding, TTL state and value must agree.

        ``string_encoding=False`` skips the encoding of strings: Redis reports "raw" for a
        string written in place (SETBIT, PFADD, APPEND...), SentryKV derives it from the bytes.
        """
        keys = sorted(plain(self.ref.call("KEYS", "*")))
        mine = sorted(plain(self.skv.call("KEYS", "*")))
        if keys != mine:
            self.fail(f"key sets differ: redis {keys} sentrykv {mine}")
        for key in keys:
            want, got = dump(self.ref, key), dump(self.skv, key)
            if not string_encoding and want[0] == b"string":
                want, got = want[:1] + want[2:], got[:1] + got[2:]
            if want != got:
                self.fail(f"final value of {key!r} differs:\n  redis:    {want}\n  sentrykv: {got}")


def _count(reply: Reply) -> int:
    if reply[0] in ("array", "set", "map"):
        return len(reply[1])
    return -1


def dump(side: Side, key: bytes) -> tuple[Any, ...]:
    """Type, encoding, TTL state and contents of a key, read the type-appropriate way."""
    kind = plain(side.call("TYPE", key))
    enc = plain(side.call("OBJECT", "ENCODING", key))
    ttl = plain(side.call("PTTL", key))
    has_ttl = ttl if ttl < 0 else "positive"
    if kind == b"string":
        value: Any = plain(side.call("GET", key))
    elif kind == b"list":
        value = plain(side.call("LRANGE", key, 0, -1))
    elif kind == b"set":
        value = sorted(plain(side.call("SMEMBERS", key)))
    elif kind == b"hash":
        value = sorted(plain(side.call("HGETALL", key, proto=3)).items())
    elif kind == b"zset":
        value = side.call("ZRANGE", key, 0, -1, "WITHSCORES", proto=3)
    else:
        value = None
    return kind, enc, has_ttl, value


def check_random(name: bytes, args: tuple[bytes, ...], reply: Reply, state: Any, proto: int) -> str | None:
    """Validate a random command's reply against the key's contents; a message if wrong."""
    has_count = len(args) >= 3
    count = int(args[2]) if has_count else None
    with_values = len(args) >= 4
    tag = reply[0]
    if not state:
        if not has_count:
            return None if tag == "null" else "expected null for a missing key"
        if name == b"SPOP":
            empty = "set" if proto == 3 else "array"
            return None if tag == empty and not reply[1] else f"expected an empty {empty}"
        return None if tag == "array" and not reply[1] else "expected an empty array"
    if not has_count:
        if tag != "bulk":
            return "expected a bulk string"
        return None if reply[1] in state else "not a member"
    assert count is not None
    items = reply[1]
    if name == b"SPOP":
        if tag != ("set" if proto == 3 else "array"):
            return "wrong reply type"
    elif tag != "array":
        return "wrong reply type"
    n = len(state)
    if with_values:
        if proto == 3:
            if any(x[0] != "array" or len(x[1]) != 2 for x in items):
                return "RESP3 pairs expected"
            pairs = [(plain(x[1][0]), x[1][1]) for x in items]
        else:
            if len(items) % 2:
                return "odd flat reply"
            pairs = list(zip(items[0::2], items[1::2], strict=True))
            pairs = [(plain(a), b) for a, b in pairs]
        for member, value in pairs:
            if member not in state:
                return f"{member!r} is not a member"
            expected_tag = "double" if (proto == 3 and name == b"ZRANDMEMBER") else "bulk"
            if value[0] != expected_tag:
                return f"value tag {value[0]} != {expected_tag}"
            if name == b"HRANDFIELD" and value[1] != state[member]:
                return "value does not match the field"
            if name == b"ZRANDMEMBER" and float(value[1]) != float(state[member]):
                return "score does not match the member"
        members = [m for m, _ in pairs]
    else:
        members = [plain(x) for x in items]
        if any(m not in state for m in members):
            return "non-member returned"
    if count < 0:
        return None if len(members) == -count else f"expected {-count} items"
    expected = min(count, n)
    if len(members) != expected:
        return f"expected {expected} items, got {len(members)}"
    if len(set(members)) != len(members):
        return "duplicates with a positive count"
    return None
