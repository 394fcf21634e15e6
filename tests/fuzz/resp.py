"""RESP2/RESP3 reply frames for the fuzzers: split a byte stream into replies, parse one.

The differential fuzzer compares replies byte for byte and only parses (into tagged
values, as tests/types/rawresp.py does) when the bytes differ and the command's reply
may legitimately differ (order of a hash table, a random pick).
"""

from __future__ import annotations

from typing import Any

_LINE_TYPES = frozenset(b"+-:,_#(")
_BULK_TYPES = frozenset(b"$=!")
_AGGREGATES = {ord("*"): 1, ord("~"): 1, ord(">"): 1, ord("%"): 2, ord("|"): 2}
_TAGS = {ord("*"): "array", ord("~"): "set", ord(">"): "push", ord("%"): "map", ord("|"): "attr",
         ord("+"): "status", ord("-"): "error", ord(":"): "int", ord(","): "double", ord("_"): "null",
         ord("#"): "bool", ord("("): "bignum", ord("$"): "bulk", ord("="): "verbatim", ord("!"): "bloberror"}


class BadReply(ValueError):
    """The bytes are not a valid RESP reply stream."""


def reply_end(buf: bytes, pos: int) -> int | None:
    """End offset of the reply starting at ``pos``; None when it is not complete yet."""
    if pos >= len(buf):
        return None
    kind = buf[pos]
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        return None
    if kind in _LINE_TYPES:
        return eol + 2
    try:
        n = int(buf[pos + 1:eol])
    except ValueError:
        raise BadReply(f"bad length line {buf[pos:eol][:40]!r}") from None
    if kind in _BULK_TYPES:
        if n < 0:
            return eol + 2
        end = eol + 2 + n + 2
        if end > len(buf):
            return None
        if buf[end - 2:end] != b"\r\n":
            raise BadReply("bulk not terminated by CRLF")
        return end
    per = _AGGREGATES.get(kind)
    if per is None:
        raise BadReply(f"unknown reply type byte {kind!r}")
    pos = eol + 2
    for _ in range(max(n, 0) * per):
        end = reply_end(buf, pos)
        if end is None:
            return None
        pos = end
    return pos


def split_replies(buf: bytes, count: int) -> tuple[list[bytes], int] | None:
    """The first ``count`` replies of ``buf`` and the offset after them, or None if incomplete."""
    out = []
    pos = 0
    for _ in range(count):
        end = reply_end(buf, pos)
        if end is None:
            return None
        out.append(buf[pos:end])
        pos = end
    return out, pos


def parse(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """One reply as a tagged value, e.g. ``("bulk", b"x")`` / ``("array", [...])``."""
    kind = buf[pos]
    eol = buf.find(b"\r\n", pos)
    tag = _TAGS.get(kind, "?")
    line = buf[pos + 1:eol]
    if kind in _LINE_TYPES:
        return ((tag, line) if kind != ord("_") else ("null",)), eol + 2
    n = int(line)
    if kind in _BULK_TYPES:
        if n < 0:
            return ("null",), eol + 2
        start = eol + 2
        return (tag, buf[start:start + n]), start + n + 2
    pos = eol + 2
    if n < 0:
        return ("null",), pos
    items = []
    for _ in range(n * _AGGREGATES[kind]):
        item, pos = parse(buf, pos)
        items.append(item)
    if _AGGREGATES[kind] == 2:
        return (tag, list(zip(items[0::2], items[1::2], strict=True))), pos
    return (tag, items), pos
