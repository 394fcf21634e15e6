"""Turn a script's tail calls into ordinary calls (Lua 5.1 bytecode patch).

Redis's ``redis.call``, ``math.random``, ``coroutine.create``... are C
functions.  A Lua tail call to a C function keeps the caller's frame, so an
error they raise is attributed to the script line (``script: <sha>, on
@user_script:3.``, "user_script:3: bad argument #1 to 'random' ...").  In
SentryKV those functions are Lua wrappers, and ``return redis.call(...)``
-- the most common line of all -- would replace the script's frame and lose
the line.  So every compiled script has its ``TAILCALL A B 0; RETURN A 0``
pairs rewritten to ``CALL A B 0; RETURN A 0``: the same results, but the
script's frame stays on the stack, as it does in Redis for C callees.

The one observable difference: a script recursing through Lua tail calls
more than about 20,000 deep gets Lua's "stack overflow" error where Redis's Lua
would have run on.

Format (lua 5.1 ``ldump.c``; the header pins int=4, size_t=8, Instruction=4,
number=8, little endian): a function is source, line numbers, four bytes of
counts, code, constants, nested functions, then debug information.
"""

from __future__ import annotations

import struct

HEADER = b"\x1bLua\x51\x00\x01\x04\x08\x04\x08\x00"
OP_CALL, OP_TAILCALL, OP_RETURN = 28, 29, 30


class BytecodeError(ValueError):
    pass


def remove_tail_calls(chunk: bytes) -> bytes:
    """The same chunk with every tail call made an ordinary call."""
    if not chunk.startswith(HEADER):
        raise BytecodeError("unexpected Lua bytecode header")
    out = bytearray(chunk)
    end = _function(out, len(HEADER))
    if end != len(out):
        raise BytecodeError("trailing bytes after the main function")
    return bytes(out)


def _int(buf: bytearray, pos: int) -> tuple[int, int]:
    return struct.unpack_from("<i", buf, pos)[0], pos + 4


def _string(buf: bytearray, pos: int) -> int:
    (n,) = struct.unpack_from("<Q", buf, pos)
    return pos + 8 + n


def _function(buf: bytearray, pos: int) -> int:
    pos = _string(buf, pos)  # source
    pos += 8 + 4  # linedefined, lastlinedefined, nups/numparams/is_vararg/maxstacksize
    n, pos = _int(buf, pos)
    code_at = pos
    for i in range(n - 1):
        at = code_at + 4 * i
        (ins,) = struct.unpack_from("<I", buf, at)
        if ins & 0x3F != OP_TAILCALL:
            continue
        (nxt,) = struct.unpack_from("<I", buf, at + 4)
        a = (ins >> 6) & 0xFF
        if nxt & 0x3F == OP_RETURN and (nxt >> 6) & 0xFF == a and (nxt >> 23) == 0:
            struct.pack_into("<I", buf, at, (ins & ~0x3F) | OP_CALL)
    pos = code_at + 4 * n
    n, pos = _int(buf, pos)  # constants
    for _ in range(n):
        kind = buf[pos]
        pos += 1
        if kind == 1:
            pos += 1
        elif kind == 3:
            pos += 8
        elif kind == 4:
            pos = _string(buf, pos)
        elif kind != 0:
            raise BytecodeError(f"unknown constant type {kind}")
    n, pos = _int(buf, pos)  # nested functions
    for _ in range(n):
        pos = _function(buf, pos)
    n, pos = _int(buf, pos)  # line info
    pos += 4 * n
    n, pos = _int(buf, pos)  # local variables
    for _ in range(n):
        pos = _string(buf, pos) + 8
    n, pos = _int(buf, pos)  # upvalue names
    for _ in range(n):
        pos = _string(buf, pos)
    return pos
