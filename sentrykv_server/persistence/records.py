"""The payload of one WAL frame: a list of ops, each a Redis command to re-execute.

An op is ``(db_index, argv)``.  The command in ``argv`` must reproduce its effect
deterministically when replayed (absolute expiry times, resolved random
choices...), so the log never depends on the clock or on luck at replay time.

Encoding: every op is one RESP array whose first element is the db number in
decimal, followed by the command's arguments as bulk strings::

    *4\\r\\n$1\\r\\n0\\r\\n$3\\r\\nDEL\\r\\n$1\\r\\nk\\r\\n...

Why RESP: decoding then runs in C (``hiredis.Reader``), which is what makes a
replay of a million records per second possible from Python, and ``sentrykv-check
--dump`` (and ``strings`` on a segment) shows readable commands.  The encoder is
on the hot path of every write, so it is a single pass with cached headers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import hiredis

Op = tuple[int, list[bytes]]
# What encode_ops accepts as an argument (a wider type than ``bytes`` matters once
# compiled: mypyc checks a ``bytes`` variable exactly).
BytesLike = bytes | bytearray | memoryview

# Cached RESP fragments: formatting a small header costs more than looking it up.
_ARRAY_HDR = [b"*%d\r\n" % i for i in range(256)]
_DB_FIELD = [b"$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(256)]
_BULK_HDR = [b"$%d\r\n" % i for i in range(4096)]
_CRLF = b"\r\n"


class RecordError(ValueError):
    """A payload that does not decode to a list of ops (a bug or damage the CRC missed)."""


def encode_ops(ops: Sequence[tuple[int, Sequence[BytesLike]]]) -> bytes:
    """Encode ops as concatenated RESP arrays ``[db, *argv]`` (see module doc).

    Arguments must be bytes-like; ``db`` a non-negative int.  No other checks:
    this runs for every write command.  (A plain list of parts joined once:
    compiled, ``parts.append`` is a direct C call; the bytes-%-templates and the
    bound ``append`` that were faster in the interpreter cost more than this
    once compiled, docs/build.md.)
    """
    parts: list[BytesLike] = []
    for db, argv in ops:
        n = len(argv) + 1
        parts.append(_ARRAY_HDR[n] if n < 256 else b"*%d\r\n" % n)
        if 0 <= db < 256:
            parts.append(_DB_FIELD[db])
        elif db < 0:
            raise ValueError(f"negative db index {db}")
        else:
            parts.append(b"$%d\r\n%d\r\n" % (len(str(db)), db))
        for arg in argv:
            size = len(arg)
            parts.append(_BULK_HDR[size] if size < 4096 else b"$%d\r\n" % size)
            parts.append(arg)
            parts.append(_CRLF)
    return b"".join(parts)


# One reader per thread: creating a hiredis.Reader costs about as much as decoding a
# small frame, and a reader is not safe to share between threads.
_local = threading.local()


def _reader() -> hiredis.Reader:
    try:
        return _local.reader
    except AttributeError:
        reader = _local.reader = hiredis.Reader()
        return reader


def _reset_reader() -> None:
    _local.reader = hiredis.Reader()


def decode_ops(payload: bytes) -> list[Op]:
    """Inverse of :func:`encode_ops`; raise :class:`RecordError` on anything else.

    Rejected: protocol errors, a truncated last op, non-array items, arrays
    without a command, nested arrays/integers/errors, a db field that is not a
    plain decimal number.  This runs once per frame at recovery, hence the
    table lookup for the db and the in-place ``del`` instead of a slice.
    """
    reader = _reader()
    try:
        # FRAME_END after the payload (as in recovery): a payload that stops at an element
        # boundary inside an op leaves hiredis with nothing unread, so has_data() alone
        # cannot tell; the end marker then turns up inside the op, or never.
        reader.feed(payload)
        reader.feed(FRAME_END)
        ops: list[Op] = []
        item = reader.gets()
        while item is not False:
            if type(item) is int and item == FRAME_END_VALUE:
                break
            ops.append(op_from_item(item, len(ops)))
            item = reader.gets()
        if item is False or reader.has_data():
            raise RecordError("payload ends inside an op")
        return ops
    except (hiredis.ProtocolError, TypeError) as exc:  # TypeError: a map keyed by an array
        _reset_reader()
        raise RecordError(f"payload is not RESP: {exc}") from None
    except RecordError:
        _reset_reader()
        raise


_DB_VALUE = {b"%d" % i: i for i in range(256)}


def _parse_db(field: object, index: int) -> int:
    if type(field) is not bytes or not field.isdigit() or not field.isascii():
        raise RecordError(f"op {index} has a bad db field {field!r:.40}")
    return int(field)


# -- many frames through one reader (recovery) -----------------------------------------
#
# Recovery feeds the payloads of many frames into ONE hiredis reader, joined by
# FRAME_END (one feed per batch, see wal_reader.WalScan.batches), and applies
# the items as they come out, instead of a decode_ops() call and a list of ops
# per frame.  FRAME_END decodes to an item no payload holds at top level (ops
# are arrays), so the consumer still knows where every frame ends: the number
# of FRAME_END items must equal the number of frames fed.  A payload that ends
# inside an op swallows the FRAME_END behind it (as an array element or as
# bulk bytes) and the count comes out short: refused, as by decode_ops().

FRAME_END = b":-1\r\n"
FRAME_END_VALUE = -1
# A payload larger than this is fed in pieces of this size, its complete ops
# applied in between: hiredis moves its unread bytes on every reply once 1 KiB
# is consumed, so decoding one huge buffer costs time quadratic in its size.
FEED_CHUNK = 1 << 14


# What a stream reader's ``gets`` returns when no complete item is buffered: not
# False (the default), which a malformed payload can decode to (``:0``, ``#f``).
NO_ITEM: object = object()


def new_stream_reader() -> hiredis.Reader:
    """A reader for payloads joined by :data:`FRAME_END`: drain it with
    ``iter(reader.gets, NO_ITEM)``; ``gets`` raises RecordError on bad RESP."""
    return hiredis.Reader(protocolError=RecordError, notEnoughData=NO_ITEM)


def op_from_item(item: object, index: int) -> Op:
    """Check one top-level item of a payload as :func:`decode_ops` does; return the op.

    ``item`` is consumed (its db field is removed in place).  ``index`` only
    numbers the op in the error message.
    """
    if type(item) is not list or len(item) < 2:
        raise RecordError(f"op {index} is not an array [db, command, ...]: {item!r:.80}")
    field = item[0]
    db = _DB_VALUE.get(field) if type(field) is bytes else None  # a nested list is unhashable
    if db is None:
        db = _parse_db(field, index)
    del item[0]
    for arg in item:
        if type(arg) is not bytes:
            raise RecordError(f"op {index} has a non-bulk argument {arg!r:.40}")
    return db, item


def format_arg(arg: bytes) -> str:
    """Quote one argument the way redis-cli does: printable ASCII as is, escapes otherwise."""
    out = ['"']
    for byte in arg:
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def format_op(db: int, argv: Sequence[bytes]) -> str:
    """``db=0 SET "k" "v"``: the command name bare, arguments quoted."""
    if not argv:
        return f"db={db}"
    name = argv[0].decode("ascii", "backslashreplace")
    return " ".join([f"db={db}", name, *(format_arg(a) for a in argv[1:])])
