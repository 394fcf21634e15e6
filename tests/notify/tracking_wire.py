"""Client-side caching scenarios replayed on SentryKV and redis-server, compared byte for byte.

A scenario names its connections (``a``, ``w``, ``r`` ...; a name ending in
``3`` speaks RESP3) and lists steps ``(name, *argv)``.  ``{id:x}`` in an
argument is replaced by connection x's client id on that server.  After
every step each open connection is synced with a ``PING <marker>`` and
everything it received before the marker (replies, invalidation pushes,
``__redis__:invalidate`` messages) is recorded.  Client ids are normalised to
``<id:x>`` so the two transcripts compare exactly.

Meta steps: ``("close", name)`` disconnects, ``("sleep", ms)`` waits,
``("pipe", name, argv1, argv2, ...)`` sends several commands in one write.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest

from tests.transactions.wire import Wire, encode

Step = tuple[Any, ...]


class Session:
    def __init__(self, port: int, names: Sequence[str]) -> None:
        self.conns: dict[str, Wire] = {}
        self.ids: dict[str, int] = {}
        self.marker = 0
        self.in_multi: set[str] = set()
        for name in names:
            w = Wire(port)
            if name.endswith("3"):
                w.call("HELLO", "3")
            reply = w.call("CLIENT", "ID")
            self.ids[name] = int(reply[1:-2])
            self.conns[name] = w

    def close(self) -> None:
        for w in self.conns.values():
            w.close()

    def _arg(self, arg: Any) -> bytes:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        for name, cid in self.ids.items():
            raw = raw.replace(b"{id:%s}" % name.encode(), b"%d" % cid)
        return raw

    def _normalise(self, data: bytes) -> bytes:
        for name, cid in sorted(self.ids.items(), key=lambda kv: -kv[1]):
            tag = b"<id:%s>" % name.encode()
            data = data.replace(b":%d\r\n" % cid, b":" + tag + b"\r\n")
            data = data.replace(b"redir=%d " % cid, b"redir=" + tag + b" ")
        return data

    def _sync(self, w: Wire) -> bytes:
        self.marker += 1
        tag = b"sync-%d" % self.marker
        w.send("PING", tag)
        got = []
        while True:
            one = w.reply()
            if one.endswith(b"\r\n" + tag + b"\r\n") and (one.startswith(b"$") or one.startswith(b"*2\r\n$4\r\npong")):
                break
            got.append(one)
        return b"".join(got)

    def step(self, step: Step) -> list[bytes]:
        """Run a step; what each connection received (the issuing one is synced first, so
        everything the command caused has been queued on the others before they are)."""
        kind = step[0]
        issuer = None
        if kind == "sleep":
            time.sleep(step[1] / 1000)
        elif kind == "close":
            self.conns.pop(step[1]).close()
            time.sleep(0.05)
        elif kind == "pipe":
            issuer = step[1]
            w = self.conns[issuer]
            w.sock.sendall(b"".join(encode([self._arg(a) for a in argv]) for argv in step[2:]))
        else:
            issuer = kind
            self.conns[kind].send(*[self._arg(a) for a in step[1:]])
        got: dict[str, bytes] = {}
        if issuer is not None:
            name = str(step[2][0] if kind == "pipe" else step[1]).upper()
            w = self.conns[issuer]
            # Its replies first (a PING sent with the command could be answered before the
            # pushes the command causes at the end of the loop pass), then the sync.
            replies = b"".join(w.reply() for _ in range(len(step) - 2 if kind == "pipe" else 1))
            if issuer in self.in_multi or name == "MULTI":
                got[issuer] = replies  # a PING would be queued
            else:
                got[issuer] = replies + self._sync(w)
            if name == "MULTI":
                self.in_multi.add(issuer)
            elif name in ("EXEC", "DISCARD") or (name == "PING" and kind == "pipe"):
                self.in_multi.discard(issuer)
        for name, w in sorted(self.conns.items()):
            if name not in got:
                got[name] = b"" if name in self.in_multi else self._sync(w)
        return [self._normalise(name.encode() + b": " + data) for name, data in sorted(got.items())]


def _show(step: Step) -> str:
    return " ".join(str(a) for a in step)


def compare(port: int, ref_port: int, names: Sequence[str], steps: Sequence[Step]) -> list[list[bytes]]:
    """Run ``steps`` on both servers; fail at the first step whose transcript differs."""
    ours, theirs = Session(port, names), Session(ref_port, names)
    transcript: list[list[bytes]] = []
    try:
        for step in steps:
            mine, ref = ours.step(step), theirs.step(step)
            transcript.append(mine)
            if mine != ref:
                history = "\n  ".join(_show(s) for s in steps[: len(transcript)])
                pytest.fail(f"differs from redis-server at: {_show(step)}\n"
                            f"sentrykv {mine!r}\nredis    {ref!r}\nsteps:\n  {history}")
    finally:
        ours.close()
        theirs.close()
    return transcript
