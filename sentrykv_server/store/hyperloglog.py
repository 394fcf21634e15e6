"""HyperLogLog in Redis's own byte format (hyperloglog.c), so values move between servers.

A HyperLogLog is a plain string::

    "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached cardinality (8 bytes, LE)
    | registers

The cached cardinality's most significant bit set means "stale".  Dense registers
are 16384 six-bit counters packed LSB first (12288 bytes).  The sparse form is a
run-length code of ZERO (``00xxxxxx``, 1..64 zeros), XZERO (``01xxxxxx yyyyyyyy``,
1..16384 zeros) and VAL (``1vvvvvxx``, value 1..32 repeated 1..4 times) opcodes; it
is promoted to dense when a register needs a value above 32 or the string would
grow past ``hll-sparse-max-bytes``.

Every function here reproduces Redis's algorithm step by step -- including the
way a sparse opcode is split and merged with its neighbours -- because the
bytes GET returns must be Redis's bytes for the same inputs.  The estimator is
Otmar Ertl's improved one (tau/sigma), as Redis 5+ computes it, with the same
double arithmetic through the same libm functions.
"""

from __future__ import annotations

import math
import struct

P = 14
Q = 64 - P
REGISTERS = 1 << P
P_MASK = REGISTERS - 1
REGISTER_MAX = 63
HDR_SIZE = 16
DENSE = 0
SPARSE = 1
DENSE_SIZE = HDR_SIZE + (REGISTERS * 6 + 7) // 8
SPARSE_VAL_MAX_VALUE = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
SPARSE_XZERO_MAX_LEN = 16384
ALPHA_INF = 0.721347520444481703680
SEED = 0xADC83B19
MAGIC = b"HYLL"

INVALID_HLL_ERROR = "INVALIDOBJ Corrupted HLL object detected"
NOT_HLL_ERROR = "WRONGTYPE Key is not a valid HyperLogLog string value."

_M64 = (1 << 64) - 1
_MUL = 0xC6A4A7935BD1E995


class CorruptHLL(Exception):
    """The sparse representation does not describe exactly 16384 registers."""


# -- hashing -----------------------------------------------------------------------------
def murmurhash64a(key: bytes, seed: int = SEED) -> int:
    """MurmurHash2, 64-bit version, little-endian blocks (Redis's endian-neutral variant)."""
    n = len(key)
    h = (seed ^ (n * _MUL)) & _M64
    blocks = n >> 3
    if blocks:
        for k in struct.unpack_from("<%dQ" % blocks, key):
            k = (k * _MUL) & _M64
            k ^= k >> 47
            k = (k * _MUL) & _M64
            h ^= k
            h = (h * _MUL) & _M64
    rest = n & 7
    if rest:
        h ^= int.from_bytes(key[n - rest:], "little")
        h = (h * _MUL) & _M64
    h ^= h >> 47
    h = (h * _MUL) & _M64
    h ^= h >> 47
    return h


def pattern(element: bytes) -> tuple[int, int]:
    """(register index, length of the 000..1 run) of an element (hllPatLen)."""
    h = murmurhash64a(element)
    index = h & P_MASK
    rest = (h >> P) | (1 << Q)
    return index, (rest & -rest).bit_length()


# -- the header --------------------------------------------------------------------------
def is_hll(value: bytes) -> bool:
    """isHLLObjectOrReply's checks: header, known encoding, exact dense size."""
    if len(value) < HDR_SIZE or value[:4] != MAGIC or value[4] > SPARSE:
        return False
    return not (value[4] == DENSE and len(value) != DENSE_SIZE)


def new_sparse() -> bytearray:
    """An empty HyperLogLog: sparse, one XZERO covering all 16384 registers."""
    buf = bytearray(HDR_SIZE + 2)
    buf[0:4] = MAGIC
    buf[4] = SPARSE
    run = SPARSE_XZERO_MAX_LEN - 1
    buf[16] = (run >> 8) | 0x40
    buf[17] = run & 0xFF
    return buf


def invalidate_cache(buf: bytearray) -> None:
    buf[15] |= 0x80


def cached_cardinality(value: bytes | bytearray) -> int | None:
    """The cached count, or None when the header marks it stale."""
    if value[15] & 0x80:
        return None
    return int.from_bytes(value[8:16], "little")


def store_cardinality(buf: bytearray, card: int) -> None:
    buf[8:16] = (card & _M64).to_bytes(8, "little")


# -- dense registers ---------------------------------------------------------------------
def dense_get(buf: bytes | bytearray, index: int) -> int:
    bit = index * 6
    pos = HDR_SIZE + (bit >> 3)
    shift = bit & 7
    value = buf[pos] >> shift
    if shift > 2:
        value |= buf[pos + 1] << (8 - shift)
    return value & REGISTER_MAX


def dense_put(buf: bytearray, index: int, value: int) -> None:
    bit = index * 6
    pos = HDR_SIZE + (bit >> 3)
    shift = bit & 7
    buf[pos] = (buf[pos] & ~(REGISTER_MAX << shift) | (value << shift)) & 0xFF
    if shift > 2:
        keep = ~(REGISTER_MAX >> (8 - shift)) & 0xFF
        buf[pos + 1] = (buf[pos + 1] & keep) | (value >> (8 - shift))


def dense_set(buf: bytearray, index: int, count: int) -> int:
    """Raise a register to ``count``; 1 if it changed (hllDenseSet)."""
    if count > dense_get(buf, index):
        dense_put(buf, index, count)
        return 1
    return 0


# Byte-wise lookup tables: the four registers of every 3-byte group, extracted with
# bytes.translate over strided slices (C speed, no per-register Python loop).
_LOW6 = bytes(b & 63 for b in range(256))
_TOP2 = bytes(b >> 6 for b in range(256))
_LOW4_UP2 = bytes((b & 15) << 2 for b in range(256))
_TOP4 = bytes(b >> 4 for b in range(256))
_LOW2_UP4 = bytes((b & 3) << 4 for b in range(256))
_TOP6 = bytes(b >> 2 for b in range(256))
_UP6 = bytes((b << 6) & 0xFF for b in range(256))
_DOWN2 = bytes((b >> 2) & 0x0F for b in range(256))
_UP4 = bytes((b << 4) & 0xFF for b in range(256))
_DOWN4 = bytes((b >> 4) & 0x03 for b in range(256))
_UP2 = bytes((b << 2) & 0xFF for b in range(256))


def _add_lanes(a: bytes, b: bytes) -> bytes:
    """Byte-wise a + b where no lane overflows (disjoint bit fields)."""
    return (int.from_bytes(a, "big") + int.from_bytes(b, "big")).to_bytes(len(a), "big")


def dense_registers(value: bytes | bytearray) -> bytes:
    """All 16384 registers of a dense HLL, one byte each, in register order."""
    regs = bytes(value[HDR_SIZE:DENSE_SIZE])
    b0, b1, b2 = regs[0::3], regs[1::3], regs[2::3]
    out = bytearray(REGISTERS)
    out[0::4] = b0.translate(_LOW6)
    out[1::4] = _add_lanes(b0.translate(_TOP2), b1.translate(_LOW4_UP2))
    out[2::4] = _add_lanes(b1.translate(_TOP4), b2.translate(_LOW2_UP4))
    out[3::4] = b2.translate(_TOP6)
    return bytes(out)


def dense_from_registers(header: bytes | bytearray, regs: bytes | bytearray) -> bytearray:
    """A dense HLL with the given header (encoding forced to dense) and register bytes."""
    regs = bytes(regs)
    r0, r1, r2, r3 = regs[0::4], regs[1::4], regs[2::4], regs[3::4]
    body = bytearray(DENSE_SIZE - HDR_SIZE)
    body[0::3] = _add_lanes(r0, r1.translate(_UP6))
    body[1::3] = _add_lanes(r1.translate(_DOWN2), r2.translate(_UP4))
    body[2::3] = _add_lanes(r2.translate(_DOWN4), r3.translate(_UP2))
    out = bytearray(header[:HDR_SIZE])
    out[4] = DENSE
    out += body
    return out



# -- sparse decoding ---------------------------------------------------------------------
def _xzero_len(buf: bytes | bytearray, p: int) -> int:
    # A truncated XZERO reads the string's terminating NUL in Redis.
    low = buf[p + 1] if p + 1 < len(buf) else 0
    return (((buf[p] & 0x3F) << 8) | low) + 1


def sparse_runs(buf: bytes | bytearray) -> list[tuple[int, int]]:
    """(value, run length) of every opcode, in order (zero runs have value 0).

    Decoding stops once the runs cover more than 16384 registers: the string is invalid
    whatever follows, so a huge damaged value costs no more than a valid one.
    """
    runs = []
    covered = 0
    p, end = HDR_SIZE, len(buf)
    while p < end and covered <= REGISTERS:
        b = buf[p]
        if b & 0xC0 == 0:
            runs.append((0, (b & 0x3F) + 1))
            p += 1
        elif b & 0x80 == 0:
            runs.append((0, _xzero_len(buf, p)))
            p += 2
        else:
            runs.append((((b >> 2) & 0x1F) + 1, (b & 3) + 1))
            p += 1
        covered += runs[-1][1]
    return runs


def sparse_registers(buf: bytes | bytearray) -> bytes:
    """Registers of a sparse HLL (hllSparseToDense / hllMerge decoding); CorruptHLL if invalid."""
    out = bytearray(REGISTERS)
    index = 0
    for value, run in sparse_runs(buf):
        if value:
            if index + run > REGISTERS:
                # a value run past the last register: invalid even if the runs before it
                # covered exactly 16384 (redis-server 7.0.15 as shipped: INVALIDOBJ)
                raise CorruptHLL()
            out[index:index + run] = bytes((value,)) * run
        index += run
    if index != REGISTERS:
        raise CorruptHLL()
    return bytes(out)


def sparse_to_dense(buf: bytes | bytearray) -> bytearray:
    """hllSparseToDense: the header is kept (cached cardinality included)."""
    if buf[4] == DENSE:
        return bytearray(buf)
    return dense_from_registers(buf, sparse_registers(buf))


def registers(value: bytes | bytearray) -> bytes:
    """The 16384 registers of a valid HLL of either encoding; CorruptHLL for a bad sparse one."""
    if value[4] == DENSE:
        return dense_registers(value)
    return sparse_registers(value)


def histogram(value: bytes | bytearray) -> list[int]:
    """How many registers hold each value 0..63; CorruptHLL when sparse and invalid."""
    hist = [0] * 64
    if value[4] == DENSE:
        regs = dense_registers(value)
        for v in set(regs):
            hist[v] = regs.count(v)
        return hist
    index = 0
    for v, run in sparse_runs(value):
        index += run
        hist[v] += run
    if index != REGISTERS:
        raise CorruptHLL()
    return hist


def histogram_of_registers(regs: bytes) -> list[int]:
    hist = [0] * 64
    for v in set(regs):
        hist[v] = regs.count(v)
    return hist


def register_max(a: bytes, b: bytes) -> bytes:
    """Element-wise max of two register arrays (values < 64), with big-integer lane arithmetic."""
    size = len(a)
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    high = int.from_bytes(b"\x80" * size, "big")
    ge = (((x | high) - y) & high) >> 7  # 1 in every lane where a >= b
    pick_a = ge * 0xFF
    return ((x & pick_a) | (y & ~pick_a)).to_bytes(size, "big")


# -- the estimator -----------------------------------------------------------------------
def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if previous == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if previous == z:
            return z / 3


def estimate(hist: list[int]) -> int:
    """hllCount's cardinality from a register histogram (Ertl, arXiv:1702.01284)."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = ALPHA_INF * m * m / z
    whole = math.floor(e)
    return int(whole) + (1 if e - whole >= 0.5 else 0)  # llroundl: halves away from zero


# -- sparse updates ----------------------------------------------------------------------
def _val(value: int, run: int) -> int:
    return ((value - 1) << 2 | (run - 1)) | 0x80


def _zero_run(run: int) -> bytes:
    if run > SPARSE_ZERO_MAX_LEN:
        run -= 1
        return bytes(((run >> 8) | 0x40, run & 0xFF))
    return bytes((run - 1,))


class SparseCursor:
    """Where the previous update's scan may resume (the opcode before the updated one).

    Opcodes left of it never change, so registers updated in increasing order (PFMERGE)
    need not rescan the string from the start.  A fresh cursor starts at the header.
    """

    __slots__ = ("pos", "first")

    def __init__(self) -> None:
        self.pos = HDR_SIZE
        self.first = 0


def _locate(buf: bytearray, index: int,
            cursor: SparseCursor | None) -> tuple[int, int, int, int] | None:
    """The opcode covering register ``index``: (position, its first register, its span,
    position of the opcode before it or -1); None when the string ends first."""
    start, first = (cursor.pos, cursor.first) if cursor is not None else (HDR_SIZE, 0)
    p, end = start, len(buf)
    prev = back = -1
    prev_first = back_first = 0
    span = 0
    while p < end:
        b = buf[p]
        oplen = 1
        if b & 0xC0 == 0:
            span = (b & 0x3F) + 1
        elif b & 0x80:
            span = (b & 3) + 1
        else:
            span = _xzero_len(buf, p)
            oplen = 2
        if index <= first + span - 1:
            break
        back, back_first = prev, prev_first
        prev, prev_first = p, first
        p += oplen
        first += span
    if span == 0 or p >= end:
        return None
    if cursor is not None:
        if p == start and start != HDR_SIZE:
            # The opcode before this one lies behind the cursor: rescan from the header.
            cursor.pos, cursor.first = HDR_SIZE, 0
            return _locate(buf, index, cursor)
        if back >= 0:
            # Opcodes before the one preceding the updated opcode never change again.
            cursor.pos, cursor.first = back, back_first
    return p, first, span, prev


def sparse_set(buf: bytearray, index: int, count: int, max_bytes: int,
               cursor: SparseCursor | None = None) -> tuple[int, bytearray]:
    """hllSparseSet: raise register ``index`` to ``count`` in place.

    Returns (1 changed / 0 unchanged / -1 corrupt, buffer); the buffer is a new dense
    one when the update promoted the HLL.
    """
    if count > SPARSE_VAL_MAX_VALUE:
        return _promote(buf, index, count)
    located = _locate(buf, index, cursor)
    if located is None:
        return -1, buf
    p, first, span, prev = located
    b = buf[p]
    is_zero = b & 0xC0 == 0
    is_xzero = not is_zero and not b & 0x80
    is_val = bool(b & 0x80)
    runlen = span
    if is_val:
        old = ((b >> 2) & 0x1F) + 1
        if old >= count:
            return 0, buf
        if runlen == 1:
            buf[p] = _val(count, 1)
            _merge_adjacent(buf, prev if prev >= 0 else HDR_SIZE)
            invalidate_cache(buf)
            return 1, buf
    if is_zero and runlen == 1:
        buf[p] = _val(count, 1)
        _merge_adjacent(buf, prev if prev >= 0 else HDR_SIZE)
        invalidate_cache(buf)
        return 1, buf
    last = first + span - 1
    seq = bytearray()
    if is_val:
        current = ((b >> 2) & 0x1F) + 1
        if index != first:
            seq.append(_val(current, index - first))
        seq.append(_val(count, 1))
        if index != last:
            seq.append(_val(current, last - index))
    else:
        if index != first:
            seq += _zero_run(index - first)
        seq.append(_val(count, 1))
        if index != last:
            seq += _zero_run(last - index)
    oldlen = 2 if is_xzero else 1
    delta = len(seq) - oldlen
    if delta > 0 and len(buf) + delta > max_bytes:
        return _promote(buf, index, count)
    new_len = len(buf) + delta
    buf[p:p + oldlen] = seq
    if len(buf) > new_len:
        # A damaged string ending in half an XZERO: Redis writes the sequence past its new
        # length, so the last byte falls off.
        del buf[new_len:]
    _merge_adjacent(buf, prev if prev >= 0 else HDR_SIZE)
    invalidate_cache(buf)
    return 1, buf


def _merge_adjacent(buf: bytearray, p: int) -> None:
    """Merge neighbouring VAL opcodes of equal value, scanning at most 5 opcodes from ``p``."""
    end = len(buf)
    scan = 5
    while p < end and scan > 0:
        scan -= 1
        b = buf[p]
        if b & 0xC0 == 0x40:
            p += 2
            continue
        if b & 0xC0 == 0:
            p += 1
            continue
        if p + 1 < end and buf[p + 1] & 0x80:
            nxt = buf[p + 1]
            v1 = ((b >> 2) & 0x1F) + 1
            if v1 == ((nxt >> 2) & 0x1F) + 1:
                run = (b & 3) + (nxt & 3) + 2
                if run <= SPARSE_VAL_MAX_LEN:
                    buf[p + 1] = _val(v1, run)
                    del buf[p]
                    end -= 1
                    continue
        p += 1


def _promote(buf: bytearray, index: int, count: int) -> tuple[int, bytearray]:
    try:
        dense = sparse_to_dense(buf)
    except CorruptHLL:
        return -1, buf
    dense_set(dense, index, count)
    return 1, dense


def add(buf: bytearray, element: bytes, max_bytes: int) -> tuple[int, bytearray]:
    """hllAdd: 1 if a register changed, 0 if not, -1 for a corrupt sparse string."""
    index, count = pattern(element)
    if buf[4] == DENSE:
        return dense_set(buf, index, count), buf
    if buf[4] == SPARSE:
        return sparse_set(buf, index, count, max_bytes)
    return -1, buf


def decode_sparse(buf: bytes | bytearray) -> bytes:
    """PFDEBUG DECODE: the opcodes as ``z:<n>``, ``Z:<n>`` and ``v:<value>,<n>``."""
    parts = []
    p, end = HDR_SIZE, len(buf)
    while p < end:
        b = buf[p]
        if b & 0xC0 == 0:
            parts.append(b"z:%d" % ((b & 0x3F) + 1))
            p += 1
        elif b & 0x80 == 0:
            parts.append(b"Z:%d" % _xzero_len(buf, p))
            p += 2
        else:
            parts.append(b"v:%d,%d" % (((b >> 2) & 0x1F) + 1, (b & 3) + 1))
            p += 1
    return b" ".join(parts)
