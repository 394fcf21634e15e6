"""LZF, the compression of RDB strings (Redis bundles liblzf 3.6).

Decompression is required: Redis compresses every string longer than 20
bytes that shrinks by more than 4, including whole listpacks.  Compression
follows liblzf's algorithm exactly as Redis builds it (VERY_FAST, a 2**16
slot hash of the next three bytes, offsets up to 8 KiB, matches up to 264
bytes, literal runs up to 32), so that a DUMP from SentryKV is byte for
byte the DUMP Redis makes of the same value.  One difference cannot be
reproduced: Redis leaves its hash table uninitialised between calls, so a
stale slot can, rarely, let it find a match a fresh table does not.

Stream format: a control byte ``c``; ``c < 32`` starts a literal run of
``c + 1`` bytes; otherwise ``c >> 5`` is the match length - 2 (7 means a
length byte follows) and ``(c & 31) << 8 | next byte`` is the distance - 1.
"""

from __future__ import annotations

import zlib

MAX_LIT = 1 << 5
MAX_OFF = 1 << 13
MAX_REF = (1 << 8) + (1 << 3)
# A back reference of three bytes yields at most 264: no stream expands more than this.
MAX_RATIO = 88


class LzfError(ValueError):
    """A compressed string that does not decompress to exactly its declared length."""


def decompress(data: bytes | memoryview, out_len: int) -> bytes:
    """Decompress ``data``; the result must be exactly ``out_len`` bytes (as Redis requires)."""
    src = bytes(data)
    n = len(src)
    if out_len > n * MAX_RATIO:
        raise LzfError("declared length is larger than any LZF stream of this size yields")
    out = bytearray()
    i = 0
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > n:
                raise LzfError("literal run past the end of the input")
            if len(out) + run > out_len:
                raise LzfError("output longer than declared")
            out += src[i:i + run]
            i += run
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise LzfError("truncated back reference")
            length += src[i]
            i += 1
        if i >= n:
            raise LzfError("truncated back reference")
        dist = ((ctrl & 0x1F) << 8) + src[i] + 1
        i += 1
        length += 2
        start = len(out) - dist
        if start < 0:
            raise LzfError("back reference before the start of the output")
        if len(out) + length > out_len:
            raise LzfError("output longer than declared")
        if dist >= length:
            out += out[start:start + length]
        else:  # overlapping copy: the last `dist` bytes repeat
            pattern = bytes(out[start:])
            out += (pattern * (length // dist + 1))[:length]
    if len(out) != out_len:
        raise LzfError("output shorter than declared")
    return bytes(out)


def _literal(src: bytes, out: bytearray, ip: int, op: int, lit: int) -> tuple[int, int, int]:
    """Copy one literal byte, closing the run at MAX_LIT bytes."""
    lit += 1
    out[op] = src[ip]
    op += 1
    ip += 1
    if lit == MAX_LIT:
        out[op - lit - 1] = lit - 1
        lit = 0
        op += 1
    return ip, op, lit


def compress(src: bytes, limit: int | None = None) -> bytes | None:
    """liblzf's lzf_compress into at most ``limit`` bytes (Redis: ``len - 4``); None if it
    does not fit.  Data over 4 KiB that deflate cannot shrink at all is not tried (the pure-Python loop
    costs about a microsecond a byte, and such data never fits the LZF limit either)."""
    in_len = len(src)
    out_end = in_len - 4 if limit is None else limit
    if in_len < 3 or out_end <= 0:
        return None
    if in_len > 4096 and len(zlib.compress(src, 1)) >= in_len:
        return None
    out = bytearray(out_end + 4)
    htab: dict[int, int] = {}
    ip = 0
    op = 1  # out[0] is the header of the first literal run
    lit = 0
    in_end = in_len
    hval = (src[0] << 8) | src[1]
    tail = in_end - 2  # the last two bytes are always literals
    tail_checked = False
    while ip < in_end:
        if ip >= tail:
            # liblzf's final loop: one room check, then literals without further checks.
            if not tail_checked:
                if op + 3 > out_end:
                    return None
                tail_checked = True
            ip, op, lit = _literal(src, out, ip, op, lit)
            continue
        hval = ((hval << 8) | src[ip + 2]) & 0xFFFFFFFF
        slot = ((hval >> 8) - hval * 5) & 0xFFFF
        ref = htab.get(slot, 0)
        htab[slot] = ip
        off = ip - ref - 1
        if 0 < ref and 0 <= off < MAX_OFF and src[ref + 2] == src[ip + 2] and src[ref] == src[ip] and src[ref + 1] == src[ip + 1]:
            length = 2
            maxlen = in_end - ip - length
            if maxlen > MAX_REF:
                maxlen = MAX_REF
            if op + 4 >= out_end and op - (lit == 0) + 4 >= out_end:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF  # close the literal run
            op -= lit == 0  # ...or take it back when it is empty
            if maxlen > 16:
                # liblzf compares the next 16 bytes unrolled, without the maxlen bound.
                stop = False
                for _ in range(16):
                    length += 1
                    if src[ref + length] != src[ip + length]:
                        stop = True
                        break
                if not stop:
                    length += 1
                    while length < maxlen and src[ref + length] == src[ip + length]:
                        length += 1
            else:
                length += 1
                while length < maxlen and src[ref + length] == src[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2  # the offset byte, then the header of the next literal run
            lit = 0
            ip += length + 1
            if ip >= tail:
                continue
            ip -= 2
            hval = (src[ip] << 8) | src[ip + 1]
            hval = ((hval << 8) | src[ip + 2]) & 0xFFFFFFFF
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
            hval = ((hval << 8) | src[ip + 2]) & 0xFFFFFFFF
            htab[((hval >> 8) - hval * 5) & 0xFFFF] = ip
            ip += 1
        else:
            if op >= out_end:
                return None
            ip, op, lit = _literal(src, out, ip, op, lit)
    if not tail_checked and op + 3 > out_end:
        return None
    out[op - lit - 1] = (lit - 1) & 0xFF
    op -= lit == 0
    return bytes(out[:op])
