"""Run commands on SentryKV and redis-server and capture the keyspace notifications.

Each side has a command connection and three listeners: RESP2 and RESP3
PSUBSCRIBE clients of every keyspace/keyevent channel, and a RESP3 client
SUBSCRIBEd to a few channels.  After each command the
command connection publishes a marker on a channel the listeners also
listen to; since a server emits the command's notifications before it runs
the PUBLISH, reading a listener up to the marker gives exactly the messages
of that command, in order, as raw bytes.  Both sides must produce the same
reply and the same bytes on both listeners.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from tests.transactions.wire import Arg, Wire

SYNC = b"__sync__"
PATTERNS = ("__keyspace@*", "__keyevent@*", SYNC)
# A third listener SUBSCRIBEs to these channels (plain "message" delivery).
CHANNELS = ("__keyevent@0__:set", "__keyevent@0__:del", "__keyevent@0__:expired", "__keyevent@0__:new",
            "__keyevent@0__:lpush", "__keyspace@0__:l", "__keyspace@0__:z", "__keyspace@0__:st", SYNC)

# Meta steps understood by Side.step (anything else is a command).
SLEEP = "__sleep__"  # (SLEEP, ms): let time pass (expiry)
RESTORE_FROM = "__restore_from__"  # (RESTORE_FROM, src, dst, ttl, *options): DUMP src, RESTORE dst
BLOCKED = "__blocked__"  # (BLOCKED, n, *blocking command): a second client blocks; the next steps serve it


@dataclass
class Side:
    name: str
    port: int
    cmd: Wire = field(init=False)
    pub: Wire = field(init=False)  # publishes the markers (the command connection may be in MULTI)
    listeners: list[Wire] = field(init=False)
    blocked: Wire | None = None
    marker: int = 0

    def __post_init__(self) -> None:
        self.cmd = Wire(self.port)
        self.pub = Wire(self.port)
        self.listeners = []
        for proto, kind, names in ((2, "PSUBSCRIBE", PATTERNS), (3, "PSUBSCRIBE", PATTERNS),
                                   (3, "SUBSCRIBE", CHANNELS)):
            w = Wire(self.port)
            if proto == 3:
                w.call("HELLO", "3")
            w.send(kind, *names)
            for _ in names:
                w.reply()
            self.listeners.append(w)

    def close(self) -> None:
        for w in (self.cmd, self.pub, *self.listeners, *([self.blocked] if self.blocked else [])):
            w.close()

    def drain(self) -> list[bytes]:
        """Publish a marker; each listener's messages up to it, as one bytes string each."""
        self.marker += 1
        tag = b"%d" % self.marker
        self.pub.call("PUBLISH", SYNC, tag)
        out = []
        for w in self.listeners:
            got = []
            while True:
                msg = w.reply()
                if SYNC in msg and msg.endswith(b"\r\n" + tag + b"\r\n"):
                    break
                got.append(msg)
            out.append(b"".join(got))
        return out

    def step(self, argv: Sequence[Arg]) -> bytes:
        """Run one step; its reply (meta steps: a description of what they did)."""
        head = argv[0]
        if head == SLEEP:
            time.sleep(int(argv[1]) / 1000)
            return b"slept"
        if head == RESTORE_FROM:
            payload = self.cmd.call("DUMP", argv[1])
            data = payload.split(b"\r\n", 1)[1][:-2]
            return self.cmd.call("RESTORE", argv[2], argv[3], data, *argv[4:])
        if head == BLOCKED:
            self.blocked = Wire(self.port)
            self.blocked.send(*argv[2:])
            wait_blocked(self.cmd, int(argv[1]))
            return b"blocked"
        reply = self.cmd.call(*argv)
        if self.blocked is not None and self.blocked.pending(0.2):
            reply += b" | unblocked: " + self.blocked.reply()
            self.blocked.close()
            self.blocked = None
        return reply


def wait_blocked(w: Wire, count: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        info = w.call("INFO", "clients")
        if b"blocked_clients:%d\r\n" % count in info:
            return
        time.sleep(0.005)
    raise AssertionError("the client never blocked")


def _show(argv: Sequence[Arg]) -> str:
    return " ".join(a.decode("latin-1") if isinstance(a, bytes) else str(a) for a in argv)


class EventDiffer:
    """SentryKV against redis-server, one step at a time."""

    def __init__(self, port: int, ref_port: int) -> None:
        self.ours = Side("sentrykv", port)
        self.theirs = Side("redis", ref_port)
        self.history: list[str] = []

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()

    def setup(self, flags: str, *commands: Sequence[Arg]) -> None:
        for side in (self.ours, self.theirs):
            side.cmd.call("FLUSHALL")
            assert side.cmd.call("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
            for argv in commands:
                side.cmd.call(*argv)
            side.drain()
        self.history = [f"[notify-keyspace-events {flags!r}]"]

    def run(self, argv: Sequence[Arg], compare_reply: bool = True) -> list[bytes]:
        ours_reply = self.ours.step(argv)
        theirs_reply = self.theirs.step(argv)
        ours = self.ours.drain()
        theirs = self.theirs.drain()
        self.history.append(_show(argv))
        if (compare_reply and ours_reply != theirs_reply) or ours != theirs:
            pytest.fail(
                f"differs from redis-server at: {_show(argv)}\n"
                f"reply    sentrykv {ours_reply!r}\n         redis    {theirs_reply!r}\n"
                f"RESP2 events sentrykv {ours[0]!r}\n             redis    {theirs[0]!r}\n"
                f"RESP3 events sentrykv {ours[1]!r}\n             redis    {theirs[1]!r}\n"
                f"SUBSCRIBE    sentrykv {ours[2]!r}\n             redis    {theirs[2]!r}\n"
                "history:\n  " + "\n  ".join(self.history[-30:])
            )
        return ours

    def run_all(self, steps: Sequence[Sequence[Arg]], compare_reply: bool = True) -> int:
        """Run every step; how many produced at least one message."""
        produced = 0
        for argv in steps:
            if any(self.run(argv, compare_reply)):
                produced += 1
        return produced
