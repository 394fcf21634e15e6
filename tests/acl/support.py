"""Helpers for the ACL tests: a SentryKV / redis-server pair with clean ACL state.

Replies are compared as tagged wire values (tests/types/rawresp.py), so a set
where Redis sends an array, or a bulk where it sends a double, is a failure.
Only true nondeterminism is normalised:

* Redis lists the single-command rules of a user (``+get +set``) in its hash
  table's order, which changes from one process to the next (two
  redis-servers disagree with each other); :func:`norm_rules` sorts them,
  keeping the ``+@all``/``-@all`` start and the category rules in order;
* ACL CAT <category> is in hash-table order too: compared as sets;
* ACL LOG's ``age-seconds`` and ``client-info`` describe a moment and a
  connection: their types and the fields that matter are checked instead.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.procs import RedisProcess, ServerProcess
from tests.types.rawresp import RawConnection, Reply

Arg = bytes | str | int

# Subcommands and commands SentryKV has that Redis 7.0 lacks (Redis 7.2 added them):
# they carry ACL bits and appear in ACL CAT <category>.
EXTRA_COMMANDS = {b"waitaof", b"client|setinfo", b"client|no-touch"}


def _single(token: bytes) -> bool:
    return token[:1] in (b"+", b"-") and token[1:2] != b"@"


def norm_rules(text: bytes) -> bytes:
    """Sort the single-command rules of each selector (Redis emits them in random order)."""
    parts = re.split(rb" (?=\()", text)
    out = []
    for part in parts:
        wrapped = part.startswith(b"(") and part.endswith(b")")
        inner = part[1:-1] if wrapped else part
        tokens = inner.split(b" ")
        body = b" ".join([t for t in tokens if not _single(t)] + sorted(t for t in tokens if _single(t)))
        out.append(b"(" + body + b")" if wrapped else body)
    return b" ".join(out)


def norm_getuser(reply: Reply) -> Reply:
    """GETUSER's tagged reply with every ``commands`` value normalised."""
    tag = reply[0]
    if tag == "map":
        return ("map", [(k, ("bulk", norm_rules(v[1])) if k == ("bulk", b"commands") else norm_getuser(v))
                        for k, v in reply[1]])
    if tag == "array":
        items = list(reply[1])
        for i in range(len(items) - 1):
            if items[i] == ("bulk", b"commands") and items[i + 1][0] == "bulk":
                items[i + 1] = ("bulk", norm_rules(items[i + 1][1]))
        return ("array", [norm_getuser(x) if x[0] in ("array", "map") else x for x in items])
    return reply


def norm_list(reply: Reply) -> Reply:
    if reply[0] != "array":
        return reply
    return ("array", [("bulk", norm_rules(x[1])) if x[0] == "bulk" else x for x in reply[1]])


def pairs(reply: Reply) -> dict[bytes, Reply]:
    """A RESP2 flat array or RESP3 map of bulk names to values, as a dict."""
    if reply[0] == "map":
        return {k[1]: v for k, v in reply[1]}
    items = reply[1]
    return {items[i][1]: items[i + 1] for i in range(0, len(items), 2)}


def log_entries(reply: Reply, proto: int) -> list[dict[bytes, Reply]]:
    """ACL LOG entries with the moment-dependent values checked and dropped."""
    assert reply[0] == "array", reply
    entries = []
    for raw in reply[1]:
        assert raw[0] == ("map" if proto == 3 else "array"), raw
        entry = pairs(raw)
        assert list(entry) == [b"count", b"reason", b"context", b"object", b"username", b"age-seconds",
                               b"client-info"], list(entry)
        age = entry.pop(b"age-seconds")
        assert age[0] == ("double" if proto == 3 else "bulk") and 0 <= float(age[1]) < 60, age
        info = entry.pop(b"client-info")[1]
        assert info.startswith(b"id=") and b" user=" in info and b" cmd=" in info, info
        for field in (b"user", b"cmd"):
            found = re.search(rb" " + field + rb"=(\S*)", info)
            assert found is not None, info
            entry[b"client-" + field] = ("bulk", found.group(1))
        entries.append(entry)
    return entries


class Side:
    """One server: an admin connection per protocol, and connections as other users."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.admins: dict[int, RawConnection] = {}
        self.opened: list[RawConnection] = []
        # Used only by AclPair.reset: opened before any test could set a password, and
        # never handed to a test, so it stays authenticated as the default user.
        self.root = RawConnection(port)

    def admin(self, proto: int = 2) -> RawConnection:
        conn = self.admins.get(proto)
        if conn is None:
            conn = self.admins[proto] = RawConnection(self.port)
            if proto == 3:
                assert conn.call("HELLO", "3")[0] == "map"
        return conn

    def connect(self, user: str | None = None, password: str = "pw", proto: int = 2) -> RawConnection:
        conn = RawConnection(self.port)
        self.opened.append(conn)
        if user is not None:
            assert conn.call("AUTH", user, password) == ("status", b"OK"), (self.name, user)
        if proto == 3:
            assert conn.call("HELLO", "3")[0] == "map"
        return conn

    def close(self, root: bool = False) -> None:
        for conn in [*self.admins.values(), *self.opened, *([self.root] if root else [])]:
            try:
                conn.close()
            except OSError:
                pass
        self.admins.clear()
        self.opened.clear()


class AclPair:
    """The same ACL commands on SentryKV and on redis-server."""

    def __init__(self, skv: ServerProcess, ref: RedisProcess) -> None:
        self.skv = Side("sentrykv", skv.port)
        self.ref = Side("redis", ref.port)

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.skv, self.ref

    def both(self, *args: Arg, proto: int = 2) -> tuple[Reply, Reply]:
        return self.skv.admin(proto).call(*args), self.ref.admin(proto).call(*args)

    def same(self, *args: Arg, proto: int = 2, norm: Any = None) -> Reply:
        mine, theirs = self.both(*args, proto=proto)
        if norm is not None:
            mine, theirs = norm(mine), norm(theirs)
        assert mine == theirs, f"{args!r} (RESP{proto}):\n  redis:    {theirs}\n  sentrykv: {mine}"
        return mine

    def connect(self, user: str | None = None, password: str = "pw",
                proto: int = 2) -> tuple[RawConnection, RawConnection]:
        return self.skv.connect(user, password, proto), self.ref.connect(user, password, proto)

    def reset(self) -> None:
        """Only the default user, as Redis starts; an empty log and keyspace."""
        for side in self.sides:
            side.close()
            conn = side.root
            users = conn.call("ACL", "USERS")[1]
            others = [u[1] for u in users if u[1] != b"default"]
            if others:
                conn.call("ACL", "DELUSER", *others)
            for cmd in (("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all", "clearselectors"),
                        ("CONFIG", "SET", "requirepass", ""), ("ACL", "LOG", "RESET"), ("FLUSHALL",),
                        ("CONFIG", "SET", "acl-pubsub-default", "resetchannels")):
                assert conn.call(*cmd) == ("status", b"OK"), (side.name, cmd)

    def close(self) -> None:
        for side in self.sides:
            side.close(root=True)
