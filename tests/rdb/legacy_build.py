"""Builders for the encodings only old Redis versions write (ziplists, zipmaps, text scores),
so that tests can feed them to RESTORE on both servers."""

from __future__ import annotations

import struct

from sentrykv_server.persistence.rdb.encode import encode_len, encode_string


def ziplist(values: list[bytes]) -> bytes:
    entries = []
    prev = 0
    offsets = []
    pos = 10
    for v in values:
        head = bytes((prev,)) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        try:
            n = int(v)
            ok = str(n).encode() == v and -(1 << 63) <= n < (1 << 63)
        except ValueError:
            ok = False
        if ok and 0 <= n <= 12:
            body = bytes((0xF1 + n,))
        elif ok and -128 <= n <= 127:
            body = b"\xfe" + struct.pack("<b", n)
        elif ok and -32768 <= n <= 32767:
            body = b"\xc0" + struct.pack("<h", n)
        elif ok and -(1 << 31) <= n < (1 << 31):
            body = b"\xd0" + struct.pack("<i", n)
        elif ok:
            body = b"\xe0" + struct.pack("<q", n)
        elif len(v) < 64:
            body = bytes((len(v),)) + v
        elif len(v) < 16384:
            body = struct.pack(">H", 0x4000 | len(v)) + v
        else:
            body = b"\x80" + struct.pack(">I", len(v)) + v
        entry = head + body
        offsets.append(pos)
        pos += len(entry)
        entries.append(entry)
        prev = len(entry)
    data = b"".join(entries)
    total = 10 + len(data) + 1
    tail = offsets[-1] if offsets else 10
    return struct.pack("<IIH", total, tail, min(len(values), 65535)) + data + b"\xff"


def zipmap(pairs: list[tuple[bytes, bytes]]) -> bytes:
    out = [bytes((min(len(pairs), 254),))]
    for k, v in pairs:
        out.append(bytes((len(k),)) + k + bytes((len(v),)) + b"\x00" + v)
    return b"".join(out) + b"\xff"


def text_double(score: float) -> bytes:
    if score == float("inf"):
        return b"\xfe"
    if score == float("-inf"):
        return b"\xff"
    text = b"%.17g" % score
    return bytes((len(text),)) + text


def legacy_objects() -> dict[str, bytes]:
    """Type byte + object of every pre-7.0 encoding, keyed by a name."""
    items = [b"1", b"-5", b"300", b"70000", b"5000000000", b"abc", b"x" * 100]
    pairs = [(b"f1", b"v1"), (b"f2", b"22"), (b"f3", b"-3")]
    flat = [x for p in pairs for x in p]
    zpairs = [(b"a", 1.5), (b"b", 2.0), (b"c", float("inf"))]
    zflat = [x for m, s in zpairs for x in (m, b"%.17g" % s if s != float("inf") else b"inf")]
    return {
        "list-linked": b"\x01" + encode_len(len(items)) + b"".join(encode_string(i) for i in items),
        "list-ziplist": b"\x0a" + encode_string(ziplist(items)),
        "list-quicklist-ziplists": b"\x0e" + encode_len(2) + encode_string(ziplist(items[:3]))
        + encode_string(ziplist(items[3:])),
        "hash-zipmap": b"\x09" + encode_string(zipmap(pairs)),
        "hash-ziplist": b"\x0d" + encode_string(ziplist(flat)),
        "zset-ziplist": b"\x0c" + encode_string(ziplist(zflat)),
        "zset-text-scores": b"\x03" + encode_len(len(zpairs))
        + b"".join(encode_string(m) + text_double(s) for m, s in zpairs),
        "set-plain": b"\x02" + encode_len(3) + b"".join(encode_string(x) for x in (b"1", b"2", b"a")),
    }
