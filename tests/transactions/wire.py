"""Raw-socket helpers shared by tests/transactions, tests/blocking and tests/pubsub.

Replies are kept as the exact bytes the server sent, so SentryKV and the
reference redis-server can be compared byte for byte (a RESP2 bulk where
Redis sends an array, a push where it sends an array, ... all show up).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from tests.support.procs import ServerProcess

Arg = bytes | str | int | float
END = b"__END__"


def encode(args: Sequence[Arg]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        raw = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class Wire:
    """One connection; ``reply()`` returns the raw bytes of exactly one reply."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, *args: Arg) -> None:
        self.sock.sendall(encode(args))

    def call(self, *args: Arg) -> bytes:
        self.send(*args)
        return self.reply()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def _span(self, pos: int) -> int | None:
        """End offset of the complete reply starting at ``pos``, or None if incomplete."""
        buf = self.buf
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        kind, head, nxt = buf[pos:pos + 1], buf[pos + 1:eol], eol + 2
        if kind in b"+-:,_#(":
            return nxt
        if kind in b"$=!":
            n = int(head)
            if n < 0:
                return nxt
            return nxt + n + 2 if len(buf) >= nxt + n + 2 else None
        if kind in b"*~>%|":
            n = int(head)
            if n < 0:
                return nxt
            if kind in b"%|":
                n *= 2
            for _ in range(n):
                end = self._span(nxt)
                if end is None:
                    return None
                nxt = end
            if kind == b"|":  # an attribute precedes the real reply
                return self._span(nxt)
            return nxt
        raise ValueError(f"bad RESP at {buf[pos:pos + 40]!r}")

    def reply(self) -> bytes:
        while True:
            end = self._span(0) if self.buf else None
            if end is not None:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            self._fill()

    def pending(self, wait: float = 0.1) -> bool:
        """True when bytes arrive within ``wait`` seconds (or are already buffered)."""
        if self.buf:
            return True
        ready, _, _ = select.select([self.sock], [], [], wait)
        return bool(ready)

    def until_end(self) -> list[bytes]:
        """Replies up to and including the one carrying the ``PING __END__`` sentinel."""
        out = []
        while True:
            one = self.reply()
            out.append(one)
            if END in one:
                return out


def run_script(port: int, script: Sequence[Sequence[Arg]]) -> list[bytes]:
    """Pipeline every command plus a PING sentinel (valid in every mode); all the replies."""
    w = Wire(port)
    try:
        w.sock.sendall(b"".join(encode(cmd) for cmd in script) + encode(["PING", END]))
        return w.until_end()
    finally:
        w.close()


def assert_same_script(port: int, ref_port: int, script: Sequence[Sequence[Arg]]) -> list[bytes]:
    """Run ``script`` on SentryKV and on redis-server; replies must be byte-identical."""
    ours = run_script(port, script)
    theirs = run_script(ref_port, script)
    if ours != theirs:
        lines = [f"{' '.join(map(str, cmd))}" for cmd in script]
        pytest.fail(
            "replies differ from redis-server\nscript: " + " | ".join(lines)
            + "\nsentrykv: " + repr(ours) + "\nredis:    " + repr(theirs)
        )
    return ours


def lines(text: str) -> list[list[str]]:
    """'SET a 1; GET a' -> [['SET', 'a', '1'], ['GET', 'a']]."""
    return [part.split() for part in text.split(";") if part.strip()]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_for(pred: object, timeout: float = 5.0, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(step)
    raise AssertionError("condition not reached in time")


@contextmanager
def no_tracebacks(srv: ServerProcess) -> Iterator[None]:
    """The part of the server log written meanwhile must hold no traceback."""
    before = len(srv.log_text())
    yield
    new = srv.log_text()[before:]
    assert "Traceback" not in new and "error executing" not in new, new[-4000:]


@pytest.fixture(autouse=True)
def server_log_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Autouse (imported by the conftests): a test using ``server`` leaves no traceback in its log."""
    if "server" not in request.fixturenames:
        yield
        return
    with no_tracebacks(request.getfixturevalue("server")):
        yield
