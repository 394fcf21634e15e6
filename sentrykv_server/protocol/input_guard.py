"""Aggregate headers checked before hiredis sees them (networking.c's processMultibulkBuffer limits).

hiredis allocates an array the moment it parses its header: ``*600000000\\r\\n`` (14 bytes)
becomes a 4.8 GB list (lazily mapped), and freeing it when the client goes away walks
every slot on the event loop (about a second).  Redis accepts counts up to INT_MAX
but never preallocates more than 1024 slots, so a header costs nothing until the data
arrives.  This module gives SentryKV the same property without a parser in Python:

* The hot path (``Client.data_received``) runs one literal-prefix regex over each chunk
  (:data:`STAR_CANDIDATE`, about 0.1 us for a small request) plus two ``in`` tests for
  ``~`` and ``>``.  A chunk with no aggregate header of 10+ elements (or a negative
  count, or a header cut at the end of the chunk) is fed to hiredis untouched.
* A chunk with a *candidate* comes here.  hiredis is fed everything before the
  candidate and drained; its state then tells what the candidate byte is: if hiredis
  still holds unconsumed bytes the candidate sits inside a bulk payload or header line
  (harmless); if it consumed everything, the next byte is a type byte, either of a new
  request (a top-level header, checked here as Redis checks it) or of an element inside
  a request (an aggregate there is Redis's ``expected '$', got '*'``).
* A top-level header of more than 1024 elements is held back until the client has sent
  at least 6 bytes per announced element (the smallest element, ``$0\\r\\n\\r\\n``), so
  what hiredis preallocates is proportional to what the client really sent; the held
  bytes count against ``client-query-buffer-limit`` and are checked for protocol errors
  as they arrive (:func:`framing.check_partial`).

Unauthenticated clients (``requirepass`` set, no AUTH yet) always take this path, with
Redis's pre-auth limits: more than 10 elements is ``unauthenticated multibulk length``,
a bulk longer than 16384 bytes ``unauthenticated bulk length``.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from sentrykv_server.protocol.framing import (
    MAX_HEADER_LINE,
    MAX_MULTIBULK,
    check_partial,
    strict_int,
)

if TYPE_CHECKING:
    from sentrykv_server.protocol.connection import Client

log = logging.getLogger("sentrykv.client")

# An aggregate type byte followed by a count of two or more digits, a minus sign, or the
# end of the chunk (the count may continue in the next chunk).  Counts of 1..9 are fed
# straight to hiredis: at most 9 slots per level, and hiredis caps nesting.
_COUNT = rb"(?:-|[1-9](?:[0-9]|\Z)|\Z)"
STAR_CANDIDATE = re.compile(rb"\*" + _COUNT).search
_AGGREGATE = re.compile(rb"[*~>]" + _COUNT)
# Before AUTH, bulk headers of five or more digits are checked too (16384 is the limit).
_UNAUTH = re.compile(rb"[*~>]" + _COUNT + rb"|\$(?:[1-9][0-9]{4}|[0-9]{0,4}\Z)")

PREALLOC_MAX = 1024  # Redis preallocates at most this many argv slots
MIN_ELEMENT = 6  # "$0\r\n\r\n"
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384


def has_candidate(data: bytes) -> bool:
    """The hot-path test, for callers outside ``data_received``."""
    return STAR_CANDIDATE(data) is not None or b"~" in data or b">" in data


def hold(c: Client, data: bytes) -> None:
    """Keep ``data`` (and everything after it) away from hiredis until :func:`resume`."""
    if data:
        c.held_in.append(data)
        c.held_size += len(data)
    c.guarded = True


def feed(c: Client, data: bytes) -> None:
    """Feed a chunk whose hot-path test found a candidate (or any chunk while guarded)."""
    if c.held_in:
        hold(c, data)
        if c.held_size > c.server.config.client_query_buffer_limit:
            log.warning("closing client %s that reached max query buffer length", c.addr)
            c.close()
            return
        if c.blocked is None and not c.input_pending:
            _run_held(c)
        return
    _run(c, data)
    c.server.schedule_flush(c)


def resume(c: Client) -> None:
    """Continue with held input once the client can run requests again."""
    if c.held_in and c.blocked is None and not c.input_pending and not c.closing:
        _run_held(c)


def _run_held(c: Client) -> None:
    """Everything held so far, unless it is a big request still short of its data."""
    data = _take_held(c)
    if c.big_count and len(data) < MIN_ELEMENT * c.big_count:
        _hold_big(c, data)
        return
    _run(c, data)
    c.server.schedule_flush(c)


def _take_held(c: Client) -> bytes:
    data = b"".join(c.held_in)
    c.held_in = []
    c.held_size = 0
    c.guarded = not c.authenticated
    return data


def _feed_piece(c: Client, piece: bytes) -> None:
    """What data_received does with a safe chunk: feed hiredis, run complete requests."""
    if not piece:
        return
    c.fed_at_boundary = None if c.resp_partial else piece
    c.reader.feed(piece)
    c.resp_partial = True
    c.process_input(piece)


def _run(c: Client, data: bytes) -> None:
    """Feed ``data`` up to each candidate, then decide what the candidate is."""
    c.big_count = 0
    start = pos = 0
    n = len(data)
    while not c.closing:
        if start == pos and (c.inline_buf or (not c.resp_partial and start < n and data[start] != 42)):
            rest = c._inline(c.inline_buf + data[start:])
            if not rest or c.closing:
                return
            data, start, pos, n = rest, 0, 0, len(rest)
        pattern = _AGGREGATE if c.authenticated else _UNAUTH
        m = pattern.search(data, pos)
        if m is None:
            _feed_piece(c, data[start:])
            return
        p = m.start()
        _feed_piece(c, data[start:p])
        start = pos = p
        if c.closing:
            return
        if c.blocked is not None or c.input_pending or c.held_in:
            # hiredis is not drained (or input was held meanwhile): place the candidate later.
            hold(c, data[p:])
            return
        if c.reader.has_data():
            pos = p + 1  # inside a bulk payload or a header line: just data
            continue
        kind = data[p]
        if c.resp_partial:  # a type byte inside a request
            if kind == 36:  # '$' before AUTH
                verdict = _bulk_header(c, data, p)
                if verdict is None:
                    hold(c, data[p:])
                    return
                if verdict:
                    pos = p + 1
                    continue
                return
            c.protocol_error("Protocol error: expected '$', got '%s'" % chr(kind))
            return
        if kind != 42:  # a new request that does not start with '*' is inline
            continue
        header = _multibulk_header(c, data, p)
        if header is None:  # the header line is incomplete
            hold(c, data[p:])
            return
        count, end = header
        if count < 0:  # an error was reported
            return
        if count == 0:  # Redis skips '*0' and every negative count
            start = pos = end
            continue
        if count > PREALLOC_MAX and n - p < MIN_ELEMENT * count:
            c.big_count = count
            _hold_big(c, data[p:])
            return
        _feed_piece(c, b"*%d\r\n" % count)  # normalised: Redis accepts "\r" + any byte
        start = pos = end


def _hold_big(c: Client, data: bytes) -> None:
    """A large request held back until enough of it arrived; reports its protocol errors early."""
    hold(c, data)
    size = c.held_size
    if size <= 65536 or size >= c.next_scan:
        c.next_scan = max(2 * size, 131072)
        joined = b"".join(c.held_in)
        c.held_in = [joined]
        error = check_partial(joined, c.server.config.proto_max_bulk_len)
        if error:
            c.held_in = []
            c.held_size = 0
            c.protocol_error(error)


def _line(data: bytes, p: int) -> tuple[bytes, int] | None:
    """The header line after the type byte at ``p`` (Redis looks for the '\\r'), or None."""
    cr = data.find(b"\r", p + 1, p + 2 + MAX_HEADER_LINE)
    if cr < 0 or cr + 1 >= len(data):
        return None
    return data[p + 1:cr], cr + 2


def _multibulk_header(c: Client, data: bytes, p: int) -> tuple[int, int] | None:
    """(count, end of header) for a request header at ``p``; count -1 after an error reply."""
    found = _line(data, p)
    if found is None:
        if len(data) - p > MAX_HEADER_LINE:
            c.protocol_error("Protocol error: too big mbulk count string")
            return -1, 0
        return None
    raw, end = found
    count = strict_int(raw)
    if count is None or count > MAX_MULTIBULK:
        c.protocol_error("Protocol error: invalid multibulk length")
        return -1, 0
    if count > UNAUTH_MAX_MULTIBULK and not c.authenticated:
        c.protocol_error("Protocol error: unauthenticated multibulk length")
        return -1, 0
    return max(count, 0), end


def _bulk_header(c: Client, data: bytes, p: int) -> bool | None:
    """Before AUTH: a bulk header over 16384 is an error (False); None while incomplete."""
    found = _line(data, p)
    if found is None:
        if len(data) - p > MAX_HEADER_LINE:
            c.protocol_error("Protocol error: too big bulk count string")
            return False
        return None
    size = strict_int(found[0])
    if size is None or size < 0 or size > c.server.config.proto_max_bulk_len:
        c.protocol_error("Protocol error: invalid bulk length")
        return False
    if size > UNAUTH_MAX_BULK and not c.authenticated:
        c.protocol_error("Protocol error: unauthenticated bulk length")
        return False
    return True
