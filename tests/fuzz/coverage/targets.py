"""Fuzz targets for the parsers that read untrusted bytes (coverage-guided with atheris).

Each target takes raw bytes and must either succeed or raise the parser's own error
class; anything else (IndexError, struct.error, MemoryError, a hang) is a bug.  They are
plain functions so that the atheris drivers (``python -m tests.fuzz.coverage.main``) and
the quick corpus run in the test suite share them.

* :func:`framing` - the request input path as a client sees it: protocol/framing.py's
  partial-request walker, protocol/inline.py's argument splitter, and a real
  :class:`Client` on a real :class:`Server` (hiredis, protocol/input_guard.py and the
  command table) fed the bytes in two reads; its replies must be well-formed RESP.
* :func:`wal_records` / :func:`wal_segment` - persistence/records.py's op decoder and the
  WAL segment scanner (persistence/wal_reader.py) on a segment file made of the bytes.
* :func:`snapshot_raw` / :func:`snapshot_blocks` - persistence/snapshot.py's parser, on
  the raw bytes and on a file whose blocks carry the bytes behind valid CRCs (so the
  decoders behind the checksums are reached, not just the CRC check).
"""

from __future__ import annotations

import asyncio
import os
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from crc32c import crc32c

from sentrykv_server.persistence import records, snapshot, wal_format, wal_reader
from sentrykv_server.protocol.framing import check_partial, find_inline_start
from sentrykv_server.protocol.inline import UnbalancedQuotes, split_args
from tests.fuzz.resp import reply_end

# Commands a fuzzed input must not run in the harness process (they sleep, exit, block on
# the loop the harness does not run, or change the configuration later inputs rely on).
_UNSAFE = ("debug", "shutdown", "config", "save", "bgsave", "bgrewriteaof", "waitaof", "client",
           "monitor", "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax",
           "bzmpop", "subscribe", "psubscribe", "ssubscribe", "hello", "reset", "select", "swapdb")


class _Transport:
    """The least a Client needs from a transport: collected writes, no socket."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    abort = close

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name in ("peername", "sockname") else None

    def set_write_buffer_limits(self, high: int) -> None:
        pass


_SERVER: Any = None


def _server() -> Any:
    global _SERVER
    if _SERVER is None:
        from sentrykv_server.config import Config
        from sentrykv_server.server import Server

        config = Config()
        config.load([("appendonly", "no")])
        _SERVER = Server(config)
        _SERVER.loop = asyncio.new_event_loop()
    return _SERVER


@contextmanager
def _without_unsafe_commands() -> Iterator[None]:
    """The command table minus _UNSAFE while one input runs, restored after it (the table is
    global: the test suite runs this target in the same process as other tests)."""
    from sentrykv_server.commands.registry import COMMANDS, LOOKUP

    removed = {}
    for name in _UNSAFE:
        cmd = COMMANDS.pop(name, None)
        if cmd is not None:
            removed[name] = cmd
            LOOKUP.pop(name.encode(), None)
            LOOKUP.pop(name.upper().encode(), None)
    try:
        yield
    finally:
        for name, cmd in removed.items():
            COMMANDS[name] = cmd
            LOOKUP[name.encode()] = cmd
            LOOKUP[name.upper().encode()] = cmd


def _check_replies(out: bytes) -> None:
    pos = 0
    while pos < len(out):
        end = reply_end(out, pos)
        if end is None:
            raise AssertionError(f"truncated reply at {pos}: {out[pos:pos + 80]!r}")
        pos = end


def framing(data: bytes) -> None:
    check_partial(data, 512 * 1024 * 1024)
    find_inline_start(data)
    for line in data.split(b"\n")[:50]:
        try:
            split_args(line)
        except UnbalancedQuotes:
            pass
    from sentrykv_server.protocol.connection import Client

    server = _server()
    client = Client(server)
    transport = _Transport()
    client.connection_made(transport)  # type: ignore[arg-type]
    with _without_unsafe_commands():
        _feed_client(server, client, data)


def _feed_client(server: Any, client: Any, data: bytes) -> None:
    try:
        cut = data[0] % (len(data) + 1) if data else 0
        for chunk in (data[:cut], data[cut:]):
            if chunk and not client.closing:
                client.data_received(chunk)
        out = bytes(client.out)
        _check_replies(out)
    finally:
        client.connection_lost(None)
        for db in server.keyspace.dbs:  # MOVE/COPY may have written to other databases
            db.data.clear()
            db.expires.clear()
        loop = server.loop
        loop.call_soon(loop.stop)
        loop.run_forever()  # the flush callbacks the input scheduled


def wal_records(data: bytes) -> None:
    try:
        ops = records.decode_ops(data)
    except records.RecordError:
        return
    # What decodes must re-encode to a payload that decodes the same (no silent truncation).
    assert records.decode_ops(records.encode_ops(ops)) == ops


def wal_segment(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="skv-fuzz-wal-") as directory:
        lsn = 1 + (data[0] if data else 0)
        path = os.path.join(directory, wal_format.segment_name(lsn))
        with open(path, "wb") as f:
            f.write(wal_format.encode_header(lsn) + data[1:])
        try:
            for _lsn, payload in wal_reader.iter_frames(directory):
                try:
                    records.decode_ops(payload)
                except records.RecordError:
                    pass
        except (wal_reader.WalCorruptionError, wal_format.WalFormatError):
            pass


def snapshot_raw(data: bytes) -> None:
    try:
        snapshot.parse(data, "fuzz.snap")
    except snapshot.SnapshotError:
        pass


def snapshot_blocks(data: bytes) -> None:
    """A well-framed snapshot whose block bodies and counts come from ``data``."""
    try:
        snapshot.parse(framed_snapshot(data), "fuzz.snap", max_databases=16)
    except snapshot.SnapshotError:
        pass


def framed_snapshot(data: bytes) -> bytes:
    """Header, up to 8 entry blocks cut from ``data`` (flags, db, count, size, body), and a
    trailer, every CRC and count valid."""
    body = bytearray(snapshot.HEADER.pack(snapshot.MAGIC, snapshot.FORMAT_VERSION, 0, 7, 1, 0, 16, 0)[:44])
    body += struct.pack("<I", crc32c(bytes(body)))
    entries = blocks = 0
    pos = 0
    while pos + 4 <= len(data) and blocks < 8:
        flags, db, count, size = data[pos], data[pos + 1] % 4, data[pos + 2] % 32, data[pos + 3]
        chunk = data[pos + 4: pos + 4 + size * 4]
        pos += 4 + size * 4
        rest = snapshot.BLOCK.pack(0, snapshot.KIND_ENTRIES, flags, db, count, len(chunk))[4:]
        body += struct.pack("<I", crc32c(bytes(chunk), crc32c(rest))) + rest + chunk
        entries += count
        blocks += 1
    covered = len(body)
    trailer = snapshot.TRAILER.pack(entries, blocks, covered, crc32c(bytes(body)), snapshot.END_MAGIC)
    rest = snapshot.BLOCK.pack(0, snapshot.KIND_TRAILER, 0, 0, 0, len(trailer))[4:]
    body += struct.pack("<I", crc32c(trailer, crc32c(rest))) + rest + trailer
    return bytes(body)


def seeds(name: str) -> list[bytes]:
    """Valid inputs to start a corpus from (random bytes rarely get past the first check)."""
    ops = records.encode_ops([(0, [b"SET", b"k", b"v"]), (3, [b"DEL", b"x"]), (0, [b"PEXPIREAT", b"k", b"99"])])
    if name == "framing":
        return [b"*1\r\n$4\r\nPING\r\n", b"SET a b\r\nGET a\r\n", b"*2\r\n$4\r\nECHO\r\n$3\r\nhey\r\n",
                b"*3\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n", b'ECHO "a\\x00b" \'c\'\r\n*12\r\n']
    if name == "wal_records":
        return [ops, b"*2\r\n$1\r\n0\r\n$4\r\nPING\r\n"]
    if name == "wal_segment":
        return [b"\x00" + wal_format.encode_frame(1, ops) + wal_format.encode_frame(2, ops)]
    blocks = [bytes([0, 0, 1, 4]) + b"\x00" * 16, bytes([1, 0, 2, 8]) + bytes(range(32))]
    if name == "snapshot_blocks":
        return blocks
    return [framed_snapshot(b) for b in blocks] + [_real_snapshot()]


def _real_snapshot() -> bytes:
    """A snapshot the real writer made of one key of every type."""
    from sentrykv_server.store.hashes import Hash
    from sentrykv_server.store.lists import QuickList
    from sentrykv_server.store.sets import RedisSet
    from sentrykv_server.store.zset import ZSet

    zset = ZSet()
    zset.scores[b"m"] = 1.5
    zset.order.add((1.5, b"m"))
    values = [b"v", Hash({b"f": b"1"}), QuickList([b"a", b"b"]), RedisSet({b"1", b"2"}), zset]
    keys = [b"s", b"h", b"l", b"t", b"z"]
    flags, parts = snapshot.encode_entries(keys, values, [0], [4102444800000], snapshot.encoders())
    with tempfile.TemporaryDirectory(prefix="skv-fuzz-snap-") as directory:
        writer = snapshot.SnapshotWriter(directory, 1, 7, 16)
        writer.open()
        writer.write_blocks([(0, len(keys), flags, parts)])
        writer.finish()
        with open(writer.path, "rb") as f:
            return f.read()


TARGETS = {
    "framing": framing,
    "wal_records": wal_records,
    "wal_segment": wal_segment,
    "snapshot_raw": snapshot_raw,
    "snapshot_blocks": snapshot_blocks,
}
