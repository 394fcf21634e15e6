"""Run stream command scripts on SentryKV and on redis-server and compare every reply.

A script is text, one command per line (shell-style quoting, ``\\x00`` escapes
allowed through Python's unicode_escape).  Each script runs twice on fresh
databases: once on RESP2 connections, once on RESP3 ones; every reply is
compared as tagged wire values (tests/types/rawresp), then the final state of
every key (type, encoding, TTL state and, for streams, ``XINFO STREAM FULL``
plus ``XRANGE``) is compared.

Only true nondeterminism is normalised: generated IDs (``XADD *``, whose
milliseconds are the server's clock), timestamps (delivery and seen times,
anything that looks like a Unix time in ms) and idle times.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import Any

from tests.types.rawresp import RawConnection, plain

_GENERATED = re.compile(rb"^1\d{12}-\d+$")
_NOW_MS = 10**12


def _norm(reply: Any, idle_keys: bool = False) -> Any:
    tag = reply[0]
    if tag == "bulk" and _GENERATED.match(reply[1]):
        return ("bulk", b"<generated-id>")
    if tag == "int" and isinstance(reply[1], int) and reply[1] >= _NOW_MS:
        return ("int", "<time>")
    if tag in ("array", "set", "push"):
        return (tag, [_norm(x, idle_keys) for x in reply[1]])
    if tag == "map":
        out = []
        for k, v in reply[1]:
            if k == ("bulk", b"idle"):
                v = ("int", "<idle>")
            out.append((_norm(k), _norm(v, idle_keys)))
        return (tag, out)
    return reply


def normalise(args: list[bytes], reply: Any) -> Any:
    """Replace what legitimately differs between two servers run side by side."""
    name = args[0].upper()
    if name == b"XPENDING" and len(args) > 3 and reply[0] == "array":
        reply = ("array", [("array", [e[1][0], e[1][1], ("int", "<idle>"), e[1][3]])
                           if e[0] == "array" and len(e[1]) == 4 else e for e in reply[1]])
    if name == b"XINFO" and len(args) > 1 and args[1].upper() == b"CONSUMERS" and reply[0] == "array":
        fixed = []
        for item in reply[1]:
            if item[0] == "array":  # RESP2 flat pairs
                flat = list(item[1])
                for i in range(0, len(flat) - 1, 2):
                    if flat[i] == ("bulk", b"idle"):
                        flat[i + 1] = ("int", "<idle>")
                item = ("array", flat)
            fixed.append(item)
        reply = ("array", fixed)
    return _norm(reply)


def parse_script(text: str) -> list[list[bytes]]:
    out = []
    for line in text.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append([a.encode("latin-1").decode("unicode_escape").encode("latin-1") for a in shlex.split(line)])
    return out


class StreamDiffer:
    def __init__(self, skv_port: int, ref_port: int) -> None:
        self.ports = (skv_port, ref_port)
        self.conns: dict[tuple[int, int], RawConnection] = {}

    def conn(self, side: int, proto: int) -> RawConnection:
        c = self.conns.get((side, proto))
        if c is None:
            c = self.conns[(side, proto)] = RawConnection(self.ports[side])
            if proto == 3:
                assert c.call("HELLO", "3")[0] == "map"
        return c

    def close(self) -> None:
        for c in self.conns.values():
            c.close()
        self.conns.clear()

    def both(self, args: list[bytes], proto: int) -> tuple[Any, Any]:
        return self.conn(0, proto).call(*args), self.conn(1, proto).call(*args)

    def run(self, script: str, protos: tuple[int, ...] = (2, 3)) -> None:
        commands = parse_script(script)
        for proto in protos:
            for side in (0, 1):
                self.conn(side, 2).call("FLUSHALL")
            log: list[str] = []
            for args in commands:
                if args[0] == b"PAUSE":  # a pause on the test's side, not a command
                    time.sleep(float(args[1]))
                    continue
                log.append(" ".join(a.decode("latin-1") for a in args))
                got, want = self.both(args, proto)
                if normalise(args, got) != normalise(args, want):
                    history = "\n".join(log[-25:])
                    raise AssertionError(
                        f"RESP{proto} reply mismatch for {args!r}:\n  redis:    {want}\n  sentrykv: {got}\n"
                        f"--- script so far ---\n{history}"
                    )
            self.compare_state(proto, log)

    def dump(self, side: int, key: bytes) -> Any:
        c = self.conn(side, 3)
        kind = plain(c.call("TYPE", key))
        ttl = plain(c.call("PTTL", key))
        out: list[Any] = [kind, c.call("OBJECT", "ENCODING", key), ttl if ttl < 0 else "ttl"]
        if kind == b"stream":
            out.append(_norm(c.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")))
            out.append(_norm(c.call("XRANGE", key, "-", "+")))
        return out

    def compare_state(self, proto: int, log: list[str]) -> None:
        for db in range(2):
            for side in (0, 1):
                self.conn(side, 3).call("SELECT", db)
            keys = sorted(plain(self.conn(1, 3).call("KEYS", "*")))
            mine = sorted(plain(self.conn(0, 3).call("KEYS", "*")))
            assert keys == mine, f"RESP{proto}: db{db} key sets differ: redis {keys} sentrykv {mine}\n{log[-25:]}"
            for key in keys:
                want, got = self.dump(1, key), self.dump(0, key)
                assert want == got, (
                    f"RESP{proto}: final state of {key!r} differs:\n  redis:    {want}\n  sentrykv: {got}\n"
                    + "\n".join(log[-25:])
                )
        for side in (0, 1):
            self.conn(side, 3).call("SELECT", 0)
