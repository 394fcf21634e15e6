"""Snapshot files: byte format, block encoder, writer, loader and verifier.

A snapshot holds the whole keyspace as it was at one LSN (the *cut*); the
WAL frames after that LSN bring it up to date.  Files live in the data
directory as ``ckpt-<generation, 10 digits>-<LSN, 20 digits>.snap``; the
generation grows by one per checkpoint (the LSN alone does not order
snapshots taken while ``appendonly`` is off), so the newest is the last name
in sort order.  All integers are little-endian; every CRC is CRC32C::

    header (48 bytes)  magic b"SKVSNAP\\x01", version u32, flags u32, lsn u64,
                       generation u64, created_ms u64, databases u32,
                       crc u32 (of the 44 bytes before it)
    block (repeated)   crc u32 (of the 16 header bytes after it + the body),
                       kind u8 (1 = entries), flags u8, db u16, count u32,
                       length u64, body
    functions (block)  kind 2, at most one, before the trailer: the FUNCTION LOAD
                       libraries, n u32 then n x (length u32, library code); not
                       counted in the trailer's ``blocks`` (entries blocks only)
    trailer (block)    kind 0xFF: entries u64, blocks u64, covered u64 (bytes
                       before the trailer), file_crc u32 (CRC of those bytes),
                       b"SKVSEND\\x01"

An entries block holds ``count`` keys of one database in *columns*, so that
both encoding and decoding are a handful of C-level bulk operations per block
instead of Python work per key (this is what makes millions of entries per
second possible from Python)::

    types     count x u8           absent when flag ALL_STRINGS (0x01)
    keys      section (below)
    values    section: a string as is, a container as its encoding
    nexp      u32
    exp_idx   nexp x u32           index of the entry within the block
    exp_ms    nexp x i64           absolute expiry, Unix ms

A section holds ``count`` byte strings, in one of three modes (u8):

    0  lengths   count x u32, then the strings concatenated
    1  lengths   count x u64, then the strings concatenated
    2  separated sep u8, size u64, then the strings joined by the byte ``sep``,
                 which none of them contains (chosen by the writer: 0x00 or 0xFF)

Mode 2 decodes with one ``bytes.split`` call, about three times faster than
slicing by lengths; the writer uses it whenever a separator byte is free,
which is the common case for text keys and values.

Containers (type code, then encoding): 1 hash = flags u8 (bit 0: ``big``),
n u64, 2n x u32 lengths, fields and values interleaved; 2 list = n u64,
n x u32, elements; 3 set = flags u8, n u64, n x u32, members; 4 zset = flags
u8, n u64, n x u32, n x f64 scores, members (in score order); 5 stream (format
version 2) = see persistence/snapshot_stream.py.  The codecs live in
persistence/snapshot_codec.py.  Version 1 files (no streams) load unchanged.

Loading verifies every block CRC while decoding into *fresh* dicts, then the
trailer counts and the whole-file CRC, and only then swaps the dicts into the
keyspace: a damaged snapshot is never partly visible.  Damage raises
:class:`SnapshotError` naming the file and the offset.
"""

from __future__ import annotations

import builtins
import os
import re
import struct
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crc32c import crc32c

from sentrykv_server.persistence.snapshot_codec import DECODE_FNS, ENCODE_FNS
from sentrykv_server.persistence.snapshot_codec import from_le as _from_le
from sentrykv_server.persistence.snapshot_codec import le as _le
from sentrykv_server.persistence.snapshot_codec import slices as _slices
from sentrykv_server.persistence.snapshot_stream import decode_stream, encode_stream

if TYPE_CHECKING:
    from sentrykv_server.store.keyspace import Keyspace

MAGIC = b"SKVSNAP\x01"
END_MAGIC = b"SKVSEND\x01"
FORMAT_VERSION = 2
# Versions this code reads: 1 (no streams) is a subset of 2 (adds the stream type code 5).
READABLE_VERSIONS = (1, 2)
HEADER = struct.Struct("<8sIIQQQII")
HEADER_SIZE = HEADER.size  # 48
BLOCK = struct.Struct("<IBBHIQ")
BLOCK_SIZE = BLOCK.size  # 20
TRAILER = struct.Struct("<QQQI8s")
TRAILER_BLOCK_SIZE = BLOCK_SIZE + TRAILER.size  # 56
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")

KIND_ENTRIES = 1
KIND_FUNCTIONS = 2
KIND_TRAILER = 0xFF
ALL_STRINGS = 0x01

STRING, HASH, LIST, SET, ZSET, STREAM = 0, 1, 2, 3, 4, 5
CODES = {"string": STRING, "hash": HASH, "list": LIST, "set": SET, "zset": ZSET, "stream": STREAM}

SUFFIX = ".snap"
TMP_SUFFIX = ".snap.tmp"
_NAME_RE = re.compile(r"^ckpt-(\d{10,})-(\d{20})\.snap$")
_NONZERO = re.compile(rb"[^\x00]")
_BIG_ENDIAN = sys.byteorder == "big"
_FLAG = (b"\x00", b"\x01")


class SnapshotError(Exception):
    """A snapshot that cannot be written or loaded; the message names file and offset."""

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        where = f" at offset {offset}" if offset is not None else ""
        directory = os.path.dirname(path) or "."
        super().__init__(
            f"snapshot {path} is unusable{where}: {reason}. "
            f"Inspect with `sentrykv-check {directory}`; the file was left untouched"
        )


# -- names -----------------------------------------------------------------------------------
def snapshot_name(generation: int, lsn: int) -> str:
    return f"ckpt-{generation:010d}-{lsn:020d}{SUFFIX}"


def list_snapshots(directory: str) -> list[tuple[int, int, str]]:
    """``(generation, lsn, path)`` of every snapshot file in ``directory``, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        m = _NAME_RE.match(name)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), os.path.join(directory, name)))
    found.sort()
    return found


def list_temporary(directory: str) -> list[str]:
    """Half-written snapshots (``*.snap.tmp``) left by a crash during a checkpoint."""
    try:
        return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(TMP_SUFFIX))
    except FileNotFoundError:
        return []




_ENCODE_FNS: dict[str, Callable[[Any], bytes]] = {**ENCODE_FNS, "stream": encode_stream}
_DECODE_FNS: dict[str, Callable[[type, bytes], Any]] = {**DECODE_FNS, "stream": decode_stream}


def _import_types() -> None:
    """Make sure every value module present has registered its class."""
    import importlib

    for mod in ("hashes", "lists", "sets", "zset", "stream"):
        try:
            importlib.import_module(f"sentrykv_server.store.{mod}")
        except ModuleNotFoundError:
            pass


def encoders() -> dict[type, tuple[int, Callable[[Any], bytes]]]:
    """Class -> (type code, encoder) for every registered container type."""
    from sentrykv_server.store.types import TYPES

    _import_types()
    table = {}
    for cls, vt in TYPES.items():
        if vt.name in _ENCODE_FNS:
            table[cls] = (CODES[vt.name], _ENCODE_FNS[vt.name])
    return table


def decoders() -> dict[int, Callable[[bytes], Any]]:
    """Type code -> decoder building the registered class."""
    from sentrykv_server.store.types import TYPES

    _import_types()
    table: dict[int, Callable[[bytes], Any]] = {}
    for cls, vt in TYPES.items():
        fn = _DECODE_FNS.get(vt.name)
        if fn is not None:
            table[CODES[vt.name]] = _bind(fn, cls)
    return table


def _bind(fn: Callable[[type, bytes], Any], cls: type) -> Callable[[bytes], Any]:
    return lambda blob: fn(cls, blob)


def unsupported_types() -> list[str]:
    """Registered value types this format cannot store (a checkpoint refuses to run)."""
    from sentrykv_server.store.types import TYPES

    _import_types()
    return sorted({vt.name for vt in TYPES.values()} - set(CODES))


# -- encoding one block ----------------------------------------------------------------------
_SEPARATORS = (b"\x00", b"\xff")
MODE_LEN32, MODE_LEN64, MODE_SEP = 0, 1, 2


def encode_section(items: list[bytes], try_separators: bool = True) -> list[bytes]:
    """One section (see the module doc) as parts; separated when a separator byte is free."""
    n = len(items)
    if try_separators:
        for sep in _SEPARATORS:
            joined = sep.join(items)
            if joined.count(sep) == n - 1:
                return [bytes((MODE_SEP, sep[0])), U64.pack(len(joined)), joined]
            if len(joined) > 4096:
                break  # a long block that holds the first separator: binary data, stop trying
    try:
        lens = array("I", map(len, items))
        mode = MODE_LEN32
    except OverflowError:
        lens = array("Q", map(len, items))
        mode = MODE_LEN64
    return [bytes((mode,)), _le(lens), b"".join(items)]


def encode_entries(
    keys: list[bytes],
    values: list[Any],
    exp_idx: list[int],
    exp_ms: list[int],
    table: dict[type, tuple[int, Callable[[Any], bytes]]],
) -> tuple[int, list[bytes]]:
    """The body of one entries block as a list of parts (joined by the writer thread).

    ``exp_idx[i]`` is the index (in ``keys``) of the entry expiring at ``exp_ms[i]``.
    ``table`` comes from :func:`encoders`; a value of another class raises TypeError.
    """
    n = len(keys)
    flags = 0
    parts: list[bytes] = []
    if list(map(type, values)).count(bytes) == n:
        flags |= ALL_STRINGS
        blobs = values
    else:
        codes = bytearray(n)
        blobs = list(values)
        for i, value in enumerate(values):
            cls = type(value)
            if cls is not bytes:
                try:
                    code, fn = table[cls]
                except KeyError:
                    raise TypeError(f"no snapshot encoding for values of type {cls.__name__}") from None
                codes[i] = code
                blobs[i] = fn(value)
        parts.append(bytes(codes))
    parts += encode_section(keys)
    parts += encode_section(blobs, try_separators=bool(flags & ALL_STRINGS))
    parts += (U32.pack(len(exp_idx)), _le(array("I", exp_idx)), _le(array("q", exp_ms)))
    return flags, parts


# -- writing a file (one thread) -------------------------------------------------------------
CrashHook = Callable[[str], None]
Block = tuple[int, int, int, list[bytes]]  # db, count, flags, encode_entries parts
try:
    IOV_MAX = max(16, min(1024, os.sysconf("SC_IOV_MAX")))
except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
    IOV_MAX = 16


def _no_crash(step: str) -> None:
    return None


class SnapshotWriter:
    """Writes one snapshot: tmp file, blocks, trailer, fsync, rename, directory fsync.

    Every method except the constructor does file I/O and is meant to run in
    one executor thread, in call order.  ``crash(step)`` is the test-only
    fault hook (see checkpoint.py): it is called after each step of the
    crash-safe sequence.
    """

    def __init__(
        self, directory: str, generation: int, lsn: int, databases: int,
        crash: CrashHook = _no_crash,
    ) -> None:
        self.directory = directory
        self.generation = generation
        self.lsn = lsn
        self.databases = databases
        self.path = os.path.join(directory, snapshot_name(generation, lsn))
        self.tmp = self.path[: -len(SUFFIX)] + TMP_SUFFIX
        self.crash = crash
        self.created_ms = int(time.time() * 1000)
        self.fd: int | None = None
        self.crc = 0
        self.size = 0
        self.blocks = 0
        self.entries = 0

    def open(self) -> None:
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        body = HEADER.pack(
            MAGIC, FORMAT_VERSION, 0, self.lsn, self.generation, self.created_ms, self.databases, 0
        )[:-4]
        self._write(body + U32.pack(crc32c(body)))

    def _write(self, *chunks: bytes) -> None:
        """Write all of ``chunks``, one ``writev`` per IOV_MAX of them (GIL released in the
        syscall and, for chunks of 32 KiB or more, in the CRC: holding it through the CRCs
        made the event loop wait for this thread more often, p99 +20% during BGSAVE)."""
        assert self.fd is not None
        crc = self.crc
        for chunk in chunks:
            crc = crc32c(chunk, crc)
        self.crc = crc
        views = [memoryview(c) for c in chunks if len(c)]
        fd = self.fd
        i = 0
        while i < len(views):
            n = os.writev(fd, views[i: i + IOV_MAX])
            self.size += n
            while i < len(views) and n >= len(views[i]):
                n -= len(views[i])
                i += 1
            if n:
                views[i] = views[i][n:]

    def write_block(self, db: int, count: int, flags: int, body: bytes) -> None:
        """One entries block; ``body`` is the joined :func:`encode_entries` parts."""
        self.write_blocks([(db, count, flags, [body])])

    def write_blocks(self, blocks: list[Block]) -> None:
        """Entries blocks, each ``(db, count, flags, parts)`` with the :func:`encode_entries`
        parts as they are: the body is never joined, one ``writev`` takes every part."""
        chunks: list[bytes] = []
        entries = 0
        for db, count, flags, parts in blocks:
            rest = BLOCK.pack(0, KIND_ENTRIES, flags, db, count, sum(map(len, parts)))[4:]
            crc = crc32c(rest)
            for part in parts:
                crc = crc32c(part, crc)
            chunks.append(U32.pack(crc) + rest)
            chunks += parts
            entries += count
        first = self.blocks == 0
        self._write(*chunks)
        self.entries += entries
        self.blocks += len(blocks)
        if first and blocks:
            self.crash("write")

    def write_functions(self, codes: list[bytes]) -> None:
        """The function libraries block (kind 2); written only when there are libraries."""
        if not codes:
            return
        body = U32.pack(len(codes)) + b"".join(U32.pack(len(code)) + code for code in codes)
        rest = BLOCK.pack(0, KIND_FUNCTIONS, 0, 0, len(codes), len(body))[4:]
        self._write(U32.pack(crc32c(body, crc32c(rest))) + rest, body)

    def finish(self) -> int:
        """Trailer, fsync, rename, fsync the directory; return the file size."""
        assert self.fd is not None
        body = TRAILER.pack(self.entries, self.blocks, self.size, self.crc, END_MAGIC)
        rest = BLOCK.pack(0, KIND_TRAILER, 0, 0, 0, len(body))[4:]
        self._write(U32.pack(crc32c(body, crc32c(rest))) + rest + body)
        self.crash("written")
        os.fsync(self.fd)
        fd, self.fd = self.fd, None
        os.close(fd)
        self.crash("fsynced")
        os.rename(self.tmp, self.path)
        self.crash("renamed")
        fsync_directory(self.directory)
        self.crash("dir-synced")
        return self.size

    def abort(self) -> None:
        """Close and remove the temporary file (never the renamed one)."""
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading ---------------------------------------------------------------------------------
@dataclass
class Header:
    lsn: int
    generation: int
    created_ms: int
    databases: int


@dataclass
class Parsed:
    header: Header
    dbs: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]]
    entries: int
    blocks: int
    size: int
    type_counts: dict[int, int] = field(default_factory=dict)
    functions: list[bytes] | None = None


def _parse_header(data: bytes, path: str) -> Header:
    if len(data) < HEADER_SIZE:
        if MAGIC.startswith(data[: len(MAGIC)]):
            raise SnapshotError(path, len(data), f"file is {len(data)} bytes, shorter than a header")
        raise SnapshotError(path, 0, "not a snapshot file (bad magic)")
    magic, version, _flags, lsn, generation, created_ms, databases, crc = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise SnapshotError(path, 0, f"not a snapshot file (bad magic {magic!r})")
    if crc != crc32c(data[: HEADER_SIZE - 4]):
        raise SnapshotError(path, 0, "header CRC mismatch")
    if version not in READABLE_VERSIONS:
        raise SnapshotError(path, 8, f"unsupported format version {version}")
    return Header(lsn, generation, created_ms, databases)


def parse(data: bytes, path: str, max_databases: int | None = None) -> Parsed:
    """Verify and decode a whole snapshot image into fresh dicts (nothing shared)."""
    header = _parse_header(data, path)
    size = len(data)
    mv = memoryview(data)
    decode = decoders()
    dbs: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]] = {}
    type_counts: dict[int, int] = {}
    unpack_block = BLOCK.unpack_from
    pos = HEADER_SIZE
    entries = blocks = 0
    functions: list[bytes] | None = None
    while True:
        if pos + BLOCK_SIZE > size:
            raise SnapshotError(path, pos, "file ends inside a block header (truncated; no trailer)")
        crc, kind, flags, db, count, length = unpack_block(data, pos)
        body = pos + BLOCK_SIZE
        end = body + length
        if end > size:
            raise SnapshotError(path, pos, f"block of {length} bytes runs past the end of the file (truncated)")
        if crc32c(mv[pos + 4: end]) != crc:
            raise SnapshotError(path, pos, "block CRC mismatch")
        if kind == KIND_TRAILER:
            _check_trailer(data, mv, path, pos, body, end, entries, blocks)
            break
        if kind == KIND_FUNCTIONS:
            if functions is not None:
                raise SnapshotError(path, pos, "a second function libraries block")
            try:
                functions = _decode_functions(data, body, end)
            except (ValueError, struct.error) as exc:
                raise SnapshotError(path, pos, f"function libraries block does not decode: {exc}") from None
            pos = end
            continue
        if kind != KIND_ENTRIES:
            raise SnapshotError(path, pos, f"unknown block kind {kind}")
        if max_databases is not None and db >= max_databases:
            raise SnapshotError(
                path, pos, f"keys of database {db}, but the server has {max_databases} databases "
                "(raise the `databases` setting)",
            )
        slot = dbs.get(db)
        if slot is None:
            slot = dbs[db] = ({}, {})
        try:
            _decode_block(data, mv, body, end, count, flags, slot, decode, type_counts)
        except (ValueError, IndexError, KeyError, OverflowError, struct.error) as exc:
            raise SnapshotError(path, pos, f"block does not decode (CRC is valid): {exc}") from None
        entries += count
        blocks += 1
        pos = end
    held = sum(len(d) for d, _ in dbs.values())
    if held != entries:
        raise SnapshotError(path, None, f"{entries - held} duplicate keys")
    return Parsed(header, dbs, entries, blocks, size, type_counts, functions)


def _decode_functions(data: bytes, off: int, end: int) -> list[bytes]:
    (n,) = U32.unpack_from(data, off)
    off += 4
    codes = []
    for _ in range(n):
        (length,) = U32.unpack_from(data, off)
        off += 4
        if off + length > end:
            raise ValueError("a library runs past the block")
        codes.append(data[off:off + length])
        off += length
    if off != end:
        raise ValueError("the libraries do not add up to the block's length")
    return codes


def _check_trailer(
    data: bytes, mv: memoryview, path: str, pos: int, body: int, end: int, entries: int, blocks: int
) -> None:
    if end - body != TRAILER.size:
        raise SnapshotError(path, pos, f"trailer of {end - body} bytes, expected {TRAILER.size}")
    t_entries, t_blocks, covered, file_crc, magic = TRAILER.unpack_from(data, body)
    if magic != END_MAGIC:
        raise SnapshotError(path, body, "bad end marker")
    if covered != pos:
        raise SnapshotError(path, pos, f"trailer covers {covered} bytes but sits at offset {pos}")
    if (t_entries, t_blocks) != (entries, blocks):
        raise SnapshotError(
            path, pos, f"trailer counts {t_entries} entries in {t_blocks} blocks, "
            f"the file holds {entries} in {blocks}",
        )
    if crc32c(mv[:pos]) != file_crc:
        raise SnapshotError(path, None, "whole-file CRC mismatch")
    if end != len(data):
        raise SnapshotError(path, end, f"{len(data) - end} bytes after the trailer")


def _decode_section(data: bytes, mv: memoryview, off: int, end: int, n: int) -> tuple[list[bytes], int]:
    """The ``n`` strings of the section at ``off``, and the offset after it."""
    if off >= end:
        raise ValueError("section runs past the block")
    mode = data[off]
    if mode == MODE_SEP:
        if off + 10 > end:
            raise ValueError("section header runs past the block")
        sep = data[off + 1: off + 2]
        (size,) = U64.unpack_from(data, off + 2)
        start = off + 10
        stop = start + size
        if stop > end:
            raise ValueError("section runs past the block")
        items = data[start:stop].split(sep)
        if len(items) != n:
            raise ValueError(f"section holds {len(items)} strings, expected {n}")
        return items, stop
    if mode == MODE_LEN32 or mode == MODE_LEN64:
        width = 4 if mode == MODE_LEN32 else 8
        off += 1
        lens = _from_le("I" if width == 4 else "Q", mv[off: off + width * n])
        off += width * n
        if len(lens) != n:
            raise ValueError("lengths run past the block")
        items, stop = _slices(data, off, lens)
        if stop > end:
            raise ValueError("section runs past the block")
        return items, stop
    raise ValueError(f"unknown section mode {mode}")


def _decode_block(
    data: bytes, mv: memoryview, off: int, end: int, n: int, flags: int,
    slot: tuple[dict[bytes, Any], dict[bytes, int]],
    decode: dict[int, Callable[[bytes], Any]], type_counts: dict[int, int],
) -> None:
    codes = b""
    if not flags & ALL_STRINGS:
        codes = data[off: off + n]
        off += n
    keys, off = _decode_section(data, mv, off, end, n)
    values, off = _decode_section(data, mv, off, end, n)
    if off + 4 > end:
        raise ValueError("expiry count runs past the block")
    (nexp,) = U32.unpack_from(data, off)
    off += 4
    exp_idx = _from_le("I", mv[off: off + 4 * nexp])
    off += 4 * nexp
    exp_ms = _from_le("q", mv[off: off + 8 * nexp])
    off += 8 * nexp
    if len(exp_idx) != nexp or len(exp_ms) != nexp or off != end:
        raise ValueError("the block's sections do not add up to its length")
    if codes:
        for m in _NONZERO.finditer(codes):
            i = m.start()
            code = codes[i]
            fn = decode.get(code)
            if fn is None:
                raise ValueError(f"unknown value type code {code}")
            values[i] = fn(values[i])
            type_counts[code] = type_counts.get(code, 0) + 1
    target, expires = slot
    target.update(zip(keys, values, strict=True))
    if nexp:
        if max(exp_idx) >= n:
            raise ValueError("expiry refers to an entry outside the block")
        expires.update(zip(map(keys.__getitem__, exp_idx), exp_ms, strict=True))


def read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


@dataclass
class Loaded:
    path: str
    lsn: int
    generation: int
    entries: int
    bytes: int
    created_ms: int
    seconds: float
    functions: list[builtins.bytes] | None = None


def load(path: str, keyspace: Keyspace) -> Loaded:
    """Verify ``path`` completely, then replace the keyspace's databases with its contents."""
    started = time.monotonic()
    try:
        data = read_file(path)
    except OSError as exc:
        raise SnapshotError(path, None, f"cannot read: {exc.strerror or exc}") from None
    parsed = parse(data, path, max_databases=len(keyspace.dbs))
    name = _NAME_RE.match(os.path.basename(path))
    if name and (int(name.group(1)), int(name.group(2))) != (parsed.header.generation, parsed.header.lsn):
        raise SnapshotError(
            path, 0, f"header says generation {parsed.header.generation} LSN {parsed.header.lsn}, "
            "the file name says otherwise",
        )
    # Everything verified: only now does the keyspace see the data.
    for db in keyspace.dbs:
        new = parsed.dbs.get(db.id)
        db.data, db.expires = new if new is not None else ({}, {})
    keyspace.rebuild_expiry_heap()
    return Loaded(
        path, parsed.header.lsn, parsed.header.generation, parsed.entries, parsed.size,
        parsed.header.created_ms, time.monotonic() - started, parsed.functions,
    )


def load_latest(directory: str, keyspace: Keyspace) -> Loaded | None:
    """Load the newest snapshot in ``directory`` (None if there is none).

    A damaged newest snapshot is an error, never a fallback to an older one:
    the WAL segments it covered may already be gone.
    """
    snaps = list_snapshots(directory)
    if not snaps:
        return None
    return load(snaps[-1][2], keyspace)


# -- offline verification (sentrykv-check) ---------------------------------------------------
@dataclass
class VerifyReport:
    path: str
    ok: bool
    size: int = 0
    lsn: int | None = None
    generation: int | None = None
    created_ms: int | None = None
    entries: int = 0
    blocks: int = 0
    expiring: int = 0
    db_keys: dict[int, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    offset: int | None = None


def verify(path: str) -> VerifyReport:
    """Check one snapshot file completely (every block decoded) without touching a keyspace."""
    report = VerifyReport(path, ok=False)
    try:
        data = read_file(path)
        report.size = len(data)
        try:
            header = _parse_header(data, path)
            report.lsn, report.generation = header.lsn, header.generation
            report.created_ms = header.created_ms
        except SnapshotError:
            pass
        parsed = parse(data, path)
    except SnapshotError as exc:
        report.error, report.offset = exc.reason, exc.offset
        return report
    except OSError as exc:
        report.error = f"cannot read: {exc.strerror or exc}"
        return report
    names = {code: name for name, code in CODES.items()}
    report.ok = True
    report.entries, report.blocks = parsed.entries, parsed.blocks
    report.db_keys = {db: len(d) for db, (d, _e) in sorted(parsed.dbs.items())}
    report.expiring = sum(len(e) for _d, e in parsed.dbs.values())
    containers = sum(parsed.type_counts.values())
    report.types = {"string": parsed.entries - containers}
    report.types.update({names[c]: k for c, k in sorted(parsed.type_counts.items())})
    return report


def check_snapshots(ctx: Any) -> None:
    """sentrykv-check: verify the newest snapshot, set ``ctx.base_lsn``, list the others."""
    directory = ctx.directory
    snaps = list_snapshots(directory)
    for tmp in list_temporary(directory):
        ctx.say(f"snapshot: leftover temporary file {os.path.basename(tmp)} (ignored; removed at next start)")
    for name in sorted(os.listdir(directory)):
        if name.endswith(SUFFIX) and not _NAME_RE.match(name):
            ctx.say(f"snapshot: {name} is not named ckpt-<generation>-<lsn>.snap: not verified, "
                    "the server ignores it")
    if not snaps:
        ctx.say("snapshots: none (the WAL is checked on its own)")
        return
    for _gen, _lsn, path in snaps[:-1]:
        ctx.say(f"snapshot: {os.path.basename(path)} is older than the newest one and is not used")
    path = snaps[-1][2]
    rep = verify(path)
    name = os.path.basename(path)
    if not rep.ok:
        where = f" at offset {rep.offset}" if rep.offset is not None else ""
        ctx.say(f"CORRUPT: snapshot {path}{where}: {rep.error}")
        if rep.offset is not None:
            ctx.say(f"first bad offset: {path}:{rep.offset}")
        ctx.problems.append(f"damaged snapshot {path}{where}: {rep.error}")
        return
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((rep.created_ms or 0) / 1000))
    dbs = ", ".join(f"db{db}={n}" for db, n in rep.db_keys.items()) or "empty"
    kinds = ", ".join(f"{k}={v}" for k, v in rep.types.items() if v)
    ctx.say(
        f"snapshot: {name}: OK, LSN {rep.lsn}, generation {rep.generation}, created {created}, "
        f"{rep.entries} keys in {rep.blocks} block(s), {rep.size} bytes"
    )
    ctx.say(f"  keys: {dbs}; types: {kinds or 'none'}; with expiry: {rep.expiring}")
    ctx.base_lsn = rep.lsn
