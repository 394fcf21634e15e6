"""Reply values and their RESP2 / RESP3 encodings.

Command handlers return plain Python values; only this module turns them into
bytes.  The mapping is:

    bytes            -> bulk string
    str              -> simple string (status reply, e.g. "OK")
    int              -> integer (bool is checked first: RESP3 boolean)
    float            -> RESP3 double, RESP2 bulk string
    None             -> null (RESP2 ``$-1``; RESP3 ``_``)
    list / tuple     -> array
    BulkArray        -> array whose items are all bytes (encoded in one join)
    dict             -> RESP3 map, RESP2 flat array
    SetReply         -> RESP3 set, RESP2 array
    NullArray        -> RESP2 ``*-1`` (RESP3 ``_``)
    Verbatim         -> RESP3 verbatim string (txt), RESP2 bulk
    Push             -> RESP3 push, RESP2 array (pub/sub messages)
    ErrorReply       -> error line (returned rather than raised, e.g. inside EXEC)

Encoding is on the hot path, so the common cases are checked first with
``type(x) is ...`` and small replies are cached.
"""

from __future__ import annotations

from itertools import chain, repeat
from typing import Any, ClassVar

# Reply types that subclass built-ins live in a module mypyc does not compile
# (native classes cannot inherit from list or bytes); re-exported here.
from sentrykv_server.protocol.reply_types import BulkArray as BulkArray
from sentrykv_server.protocol.reply_types import Push as Push
from sentrykv_server.protocol.reply_types import Raw as Raw
from sentrykv_server.protocol.reply_types import SetReply as SetReply
from sentrykv_server.protocol.reply_types import Verbatim as Verbatim

OK_BYTES = b"+OK\r\n"
QUEUED_BYTES = b"+QUEUED\r\n"
PONG_BYTES = b"+PONG\r\n"


class NullArrayType:
    """The RESP2 null multibulk (``*-1``) used by e.g. BLPOP timeouts and EXEC aborts."""

    _instance: ClassVar[NullArrayType | None] = None

    def __new__(cls) -> NullArrayType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance


NULL_ARRAY = NullArrayType()


class NoReplyType:
    """Returned by a handler that answers later (blocking pops) or not at all (CLIENT REPLY OFF)."""


NO_REPLY = NoReplyType()


class ErrorReply:
    """An error value carried as data (queued commands inside EXEC, HELLO failures)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


_SIMPLE = {"OK": OK_BYTES, "QUEUED": QUEUED_BYTES, "PONG": PONG_BYTES}
_INT_CACHE = [b":%d\r\n" % i for i in range(-1, 10001)]
_BULK_LEN_CACHE = [b"$%d\r\n" % i for i in range(0, 1025)]
_ARRAY_LEN_CACHE = [b"*%d\r\n" % i for i in range(0, 1025)]


class _BulkHeaders(dict[int, bytes]):
    """``$<n>\\r\\n`` by length; lengths above the cache are formatted, not stored."""

    def __missing__(self, n: int) -> bytes:
        return b"$%d\r\n" % n


_BULK_HEADERS = _BulkHeaders((n, b"$%d\r\n" % n) for n in range(4096))
_CRLF = b"\r\n"


def encode_bulk_array(out: bytearray, items: list[bytes]) -> None:
    """Append an array of bulk strings (see :class:`BulkArray`)."""
    n = len(items)
    out += _ARRAY_LEN_CACHE[n] if n <= 1024 else b"*%d\r\n" % n
    if not n:
        return
    lengths = set(map(len, items))
    if len(lengths) == 1:
        header = _BULK_HEADERS[lengths.pop()]
        out += header
        out += (_CRLF + header).join(items)
        out += _CRLF
    else:
        out += b"".join(chain.from_iterable(zip(map(_BULK_HEADERS.__getitem__, map(len, items)), items, repeat(_CRLF))))


def encode_error(message: str) -> bytes:
    """An error line; CR/LF inside the message would break framing, so they become spaces
    (after trimming them off both ends, as Redis's addReplyErrorFormat does)."""
    if "\r" in message or "\n" in message:
        message = message.strip("\r\n").replace("\r", " ").replace("\n", " ")
    return b"-" + message.encode("utf-8", "surrogateescape") + b"\r\n"  # raw bytes kept (errors.py)


def _format_double(value: float) -> bytes:
    """Redis formats doubles with %.17g and spells infinities inf/-inf."""
    if value != value:
        return b"nan"
    if value == float("inf"):
        return b"inf"
    if value == float("-inf"):
        return b"-inf"
    if value == 0.0:  # %.17g keeps the sign of zero (a skiplist zset can hold -0)
        return b"-0" if str(value)[0] == "-" else b"0"
    if value == int(value) and abs(value) < 1e17:
        return b"%d" % int(value)
    return b"%.17g" % value


def format_double(value: float) -> bytes:
    """Public wrapper: how a double appears inside a bulk string (scores, INCRBYFLOAT)."""
    return _format_double(value)


def encode(out: bytearray, value: Any, resp3: bool) -> None:
    """Append the encoding of ``value`` to ``out``."""
    t = type(value)
    if t is bytes:
        n = len(value)
        out += _BULK_LEN_CACHE[n] if n <= 1024 else b"$%d\r\n" % n
        out += value
        out += b"\r\n"
    elif t is str:
        cached = _SIMPLE.get(value)
        out += cached if cached is not None else b"+" + value.encode() + b"\r\n"
    elif t is int:
        out += _INT_CACHE[value + 1] if -1 <= value <= 10000 else b":%d\r\n" % value
    elif value is None:
        out += b"_\r\n" if resp3 else b"$-1\r\n"
    elif t is list or t is tuple:
        n = len(value)
        out += _ARRAY_LEN_CACHE[n] if n <= 1024 else b"*%d\r\n" % n
        for item in value:
            if type(item) is bytes:
                m = len(item)
                out += _BULK_LEN_CACHE[m] if m <= 1024 else b"$%d\r\n" % m
                out += item
                out += b"\r\n"
            else:
                encode(out, item, resp3)
    elif t is BulkArray:
        encode_bulk_array(out, value)
    elif t is dict:
        if resp3:
            out += b"%%%d\r\n" % len(value)
        else:
            out += b"*%d\r\n" % (2 * len(value))
        for k, v in value.items():
            encode(out, k, resp3)
            encode(out, v, resp3)
    elif t is bool:
        if resp3:
            out += b"#t\r\n" if value else b"#f\r\n"
        else:
            out += b":1\r\n" if value else b":0\r\n"
    elif t is float:
        text = _format_double(value)
        if resp3:
            out += b"," + text + b"\r\n"
        else:
            out += b"$%d\r\n%s\r\n" % (len(text), text)
    elif t is SetReply:
        out += (b"~%d\r\n" if resp3 else b"*%d\r\n") % len(value)
        for item in value:
            encode(out, item, resp3)
    elif t is Push:
        out += (b">%d\r\n" if resp3 else b"*%d\r\n") % len(value)
        for item in value:
            encode(out, item, resp3)
    elif t is Verbatim:
        if resp3:
            out += b"=%d\r\ntxt:" % (len(value) + 4)
        else:
            out += b"$%d\r\n" % len(value)
        out += value
        out += b"\r\n"
    elif t is NullArrayType:
        out += b"_\r\n" if resp3 else b"*-1\r\n"
    elif t is ErrorReply:
        out += encode_error(value.message)
    elif t is Raw:
        out += value
    elif isinstance(value, int):  # IntEnum and friends
        encode(out, int(value), resp3)
    elif isinstance(value, bytes):
        encode(out, bytes(value), resp3)
    else:  # pragma: no cover - a handler bug; surfaces as a clear error to the client
        raise TypeError(f"cannot encode reply of type {t.__name__}")


def to_bytes(value: Any, resp3: bool = False) -> bytes:
    """Encode one reply to fresh bytes (tests, MONITOR, pub/sub fan-out)."""
    out = bytearray()
    encode(out, value, resp3)
    return bytes(out)
