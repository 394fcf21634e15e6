"""Checks on a partially received RESP request, before it is complete.

hiredis only hands over complete requests, so a client announcing a 100 GB
bulk string would otherwise make us buffer it.  When a request stays
incomplete, :func:`check_partial` walks its headers (skipping payloads by
length, so the cost is per header, not per byte) and reports what Redis would
reject at the header: bad or huge multibulk counts, bulk lengths over
``proto-max-bulk-len``, a missing ``$``, or an over-long header line.
"""

from __future__ import annotations

MAX_MULTIBULK = (1 << 31) - 1  # INT_MAX, as Redis 7 (6.x and older: 1024 * 1024)
MAX_HEADER_LINE = 64 * 1024


def strict_int(raw: bytes) -> int | None:
    """Redis's string2ll: optional '-', no '+', no leading zeros, no spaces, 64-bit; else None.

    (Python's int() accepts " 1", "+1" and "1_0", which Redis and hiredis reject.)
    """
    if not raw or len(raw) > 20 or not raw.lstrip(b"-").isdigit() or raw.count(b"-") > 1:
        return None
    if raw[0] == 45 and (len(raw) == 1 or raw[1] == 48):
        return None
    if raw[0] == 48 and len(raw) > 1:
        return None
    value = int(raw)
    return value if -(1 << 63) <= value < (1 << 63) else None


def _read_line(buf: bytes, pos: int) -> tuple[bytes | None, int]:
    end = buf.find(b"\r\n", pos, pos + MAX_HEADER_LINE + 2)
    if end < 0:
        return None, pos
    return buf[pos:end], end + 2


def check_partial(buf: bytes, max_bulk: int) -> str | None:
    """Return Redis's protocol-error text for the first bad header in ``buf``, else None.

    ``buf`` starts at a request boundary; complete requests are skipped.
    """
    pos, n = 0, len(buf)
    while pos < n:
        if buf[pos] != 42:  # an inline request: its own limits apply elsewhere
            return None
        line, nxt = _read_line(buf, pos + 1)
        if line is None:
            return "Protocol error: too big mbulk count string" if n - pos > MAX_HEADER_LINE else None
        count = strict_int(line)
        if count is None or count > MAX_MULTIBULK:
            return "Protocol error: invalid multibulk length"
        pos = nxt
        for _ in range(max(count, 0)):
            if pos >= n:
                return None
            if buf[pos] != 36:
                return "Protocol error: expected '$', got '%s'" % chr(buf[pos])
            line, nxt = _read_line(buf, pos + 1)
            if line is None:
                return "Protocol error: too big bulk count string" if n - pos > MAX_HEADER_LINE else None
            size = strict_int(line)
            if size is None or size < 0 or size > max_bulk:
                return "Protocol error: invalid bulk length"
            pos = nxt + size + 2
    return None


def find_inline_start(buf: bytes) -> int | None:
    """Offset of the first request in ``buf`` that is not RESP, after complete RESP requests.

    None when the RESP part itself is malformed or incomplete (a real protocol error).
    """
    pos, n = 0, len(buf)
    while pos < n:
        if buf[pos] != 42:
            return pos
        line, nxt = _read_line(buf, pos + 1)
        if line is None:
            return None
        count = strict_int(line)
        if count is None:
            return None
        pos = nxt
        for _ in range(max(count, 0)):
            if pos >= n or buf[pos] != 36:
                return None
            line, nxt = _read_line(buf, pos + 1)
            if line is None:
                return None
            size = strict_int(line)
            if size is None or size < 0:  # "$-5": a protocol error, not RESP followed by inline text
                return None
            pos = nxt + size + 2
            if pos > n:
                return None
    return None
