"""Conversions between command replies and Lua values (Redis's script_lua.c).

Two directions:

* :func:`reply_to_lua` turns what a command handler returned into what
  ``redis.call`` gives the script, following the script client's protocol
  (``redis.setresp``): in RESP2 a null is ``false``, a double a string, a map
  a flat array; in RESP3 they are ``nil``, ``{double=...}``, ``{map=...}``,
  sets ``{set=...}``, booleans booleans, verbatim strings
  ``{verbatim_string=...}``.  Status replies are ``{ok=...}`` tables and
  errors ``{err=...}`` tables in both.
* :func:`lua_to_reply` turns the script's return value into the reply the
  caller gets: strings are bulk strings, numbers are truncated to integers
  (C's ``(long long)`` cast), ``true`` is 1, ``false`` a null, tables are
  errors / statuses / doubles / big numbers / verbatim strings / maps / sets
  when they carry that field, otherwise arrays that end at the first nil.
  Tables are encoded straight to RESP (a :class:`Raw` reply) so that Lua's
  own key order and number formatting are kept exactly.

What ``redis.call`` receives as arguments is converted by
:func:`lua_args`: strings as they are, numbers with ``%.17g`` as Redis does.
"""

from __future__ import annotations

import math
from typing import Any

import hiredis
from lupa import lua51

from sentrykv_server.commands.errors import CommandError
from sentrykv_server.protocol.reply import (
    BulkArray,
    ErrorReply,
    NullArrayType,
    Push,
    Raw,
    SetReply,
    Verbatim,
    format_double,
)

lua_type = lua51.lua_type

# reply kinds understood by the Lua side of redis.call (see sandbox.PRELUDE)
VALUE, STATUS, COMMAND_ERROR, LIB_ERROR, FORMAT_NUMBERS = 0, 1, 2, 3, 4

LLONG_MIN = -(1 << 63)
_TWO63 = float(1 << 63)


class BadArgument(Exception):
    """An argument of redis.call that is neither a string nor a number."""


def lua_args(args: tuple[Any, ...]) -> list[bytes] | None:
    """redis.call's arguments as bytes; None when a number needs Lua's own formatting.

    lupa hands integral Lua numbers over as ``int``, which loses the sign of
    ``-0``; a zero or a NaN is therefore formatted by Lua (``string.format``
    is C's ``%.17g``, exactly what Redis uses), everything else here.
    """
    argv: list[bytes] = []
    append = argv.append
    for arg in args:
        t = type(arg)
        if t is bytes:
            append(arg)
        elif t is int:
            if arg == 0:
                return None
            append(b"%d" % arg if -100000000000000000 < arg < 100000000000000000 else b"%.17g" % float(arg))
        elif t is float:
            if arg != arg:
                return None
            append(b"%.17g" % arg)
        else:
            raise BadArgument
    return argv


def error_text(buf: bytes) -> bytes:
    """luaPushErrorBuff: ``-CODE message`` or ``message`` -> ``CODE message`` (ERR by default)."""
    if buf[:1] == b"-":
        space = buf.find(b" ")
        if space < 0:
            code, msg = b"ERR", buf[1:]
        else:
            code, msg = buf[1:space], buf[space + 1:]
    else:
        code, msg = b"ERR", buf
    return code + b" " + msg.strip(b"\r\n")


def command_error_text(exc: CommandError | ErrorReply) -> bytes:
    return error_text(b"-" + exc.message.encode("utf-8", "surrogateescape"))


# -- replies -> Lua ----------------------------------------------------------------------
def reply_to_lua(lua: Any, value: Any, resp3: bool) -> tuple[int, Any]:
    """A handler's result as ``(kind, lua value)`` for the Lua side of redis.call."""
    t = type(value)
    if t is bytes:
        return VALUE, value
    if t is str:
        return STATUS, value.encode("utf-8", "surrogateescape")
    if t is int:
        return VALUE, value
    if value is None or t is NullArrayType:
        return VALUE, (None if resp3 else False)
    if t is CommandError or t is ErrorReply:
        return COMMAND_ERROR, command_error_text(value)
    return VALUE, _to_lua(lua, value, resp3)


def _to_lua(lua: Any, value: Any, resp3: bool) -> Any:
    t = type(value)
    if t is bytes:
        return value
    if t is str:
        return lua.table_from({b"ok": value.encode("utf-8", "surrogateescape")})
    if t is int:
        return value
    if t is bool:
        return value if resp3 else int(value)
    if value is None or t is NullArrayType:
        return None if resp3 else False
    if t is BulkArray:
        return lua.table_from(value)
    if t is list or t is tuple or t is Push:
        return lua.table_from([_to_lua(lua, item, resp3) for item in value])
    if t is SetReply:
        if resp3:
            members = {_to_lua(lua, m, resp3): True for m in value}
            return lua.table_from({b"set": lua.table_from(members)})
        return lua.table_from([_to_lua(lua, item, resp3) for item in value])
    if t is dict:
        if resp3:
            pairs = {_to_lua(lua, k, resp3): _to_lua(lua, v, resp3) for k, v in value.items()}
            return lua.table_from({b"map": lua.table_from(pairs)})
        flat: list[Any] = []
        for k, v in value.items():
            flat.append(_to_lua(lua, k, resp3))
            flat.append(_to_lua(lua, v, resp3))
        return lua.table_from(flat)
    if t is float:
        if resp3:
            return lua.table_from({b"double": value})
        return format_double(value)
    if t is Verbatim:
        if resp3:
            inner = lua.table_from({b"string": bytes(value), b"format": b"txt"})
            return lua.table_from({b"verbatim_string": inner})
        return bytes(value)
    if t is ErrorReply or t is CommandError:
        return lua.table_from({b"err": command_error_text(value)})
    if t is Raw:
        return _to_lua(lua, _parse_raw(bytes(value)), resp3)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes):
        return bytes(value)
    return None


def _parse_raw(data: bytes) -> Any:
    reader = hiredis.Reader()
    reader.feed(data)
    return reader.gets()


# -- Lua -> replies ----------------------------------------------------------------------
def lua_int(x: float | int) -> int:
    """C's ``(long long)`` cast of a Lua number, as x86-64 does it (out of range: LLONG_MIN)."""
    if type(x) is int:
        return x if LLONG_MIN <= x < (1 << 63) else LLONG_MIN
    if x != x or x >= _TWO63 or x < -_TWO63:
        return LLONG_MIN
    return int(x)


def double_text(x: float) -> bytes:
    """``%.17g`` as glibc prints it: NaN keeps its sign (``-nan`` for 0/0)."""
    if x != x:
        return b"-nan" if math.copysign(1.0, x) < 0 else b"nan"
    if x in (math.inf, -math.inf):
        return b"inf" if x > 0 else b"-inf"
    return b"%.17g" % x


def lua_to_reply(value: Any, client_resp3: bool, script_resp3: bool) -> Any:
    """The script's return value as a reply value for the caller."""
    t = type(value)
    if t is bytes:
        return value
    if t is int or t is float:
        return lua_int(value)
    if t is bool:
        if script_resp3:
            return value
        return 1 if value else None
    if value is None:
        return None
    if lua_type(value) == "table":
        out = bytearray()
        _encode(out, value, client_resp3, script_resp3)
        return Raw(bytes(out))
    return None


def _crlf_to_spaces(s: bytes) -> bytes:
    return s.replace(b"\r", b" ").replace(b"\n", b" ")


def _encode(out: bytearray, value: Any, resp3: bool, script_resp3: bool) -> None:
    t = type(value)
    if t is bytes:
        out += b"$%d\r\n%s\r\n" % (len(value), value)
        return
    if t is int or t is float:
        out += b":%d\r\n" % lua_int(value)
        return
    if t is bool:
        if script_resp3:
            out += (b"#t\r\n" if value else b"#f\r\n") if resp3 else (b":1\r\n" if value else b":0\r\n")
        elif value:
            out += b":1\r\n"
        else:
            out += b"_\r\n" if resp3 else b"$-1\r\n"
        return
    if lua_type(value) != "table":
        out += b"_\r\n" if resp3 else b"$-1\r\n"
        return
    err = value[b"err"]
    if type(err) is bytes:
        msg = err.strip(b"\r\n")  # addReplyErrorFormat trims CR/LF off both ends
        out += b"-" + _crlf_to_spaces(msg) + b"\r\n"
        return
    ok = value[b"ok"]
    if type(ok) is bytes:
        out += b"+" + _crlf_to_spaces(ok) + b"\r\n"
        return
    double = value[b"double"]
    if type(double) is int or type(double) is float:
        d = float(double)
        if resp3:
            out += b"," + double_text(d) + b"\r\n"
        else:
            text = double_text(d)
            out += b"$%d\r\n%s\r\n" % (len(text), text)
        return
    big = value[b"big_number"]
    if type(big) is bytes:
        big = _crlf_to_spaces(big)
        out += (b"(%s\r\n" % big) if resp3 else (b"$%d\r\n%s\r\n" % (len(big), big))
        return
    verbatim = value[b"verbatim_string"]
    if lua_type(verbatim) == "table":
        fmt, text = verbatim[b"format"], verbatim[b"string"]
        if type(fmt) is bytes and type(text) is bytes:
            if resp3:
                out += b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt[:3].ljust(3, b"\0"), text)
            else:
                out += b"$%d\r\n%s\r\n" % (len(text), text)
            return
    mapping = value[b"map"]
    if lua_type(mapping) == "table":
        body = bytearray()
        n = 0
        for k, v in mapping.items():
            _encode(body, k, resp3, script_resp3)
            _encode(body, v, resp3, script_resp3)
            n += 1
        out += (b"%%%d\r\n" % n) if resp3 else (b"*%d\r\n" % (2 * n))
        out += body
        return
    members = value[b"set"]
    if lua_type(members) == "table":
        body = bytearray()
        n = 0
        for k in members.keys():
            _encode(body, k, resp3, script_resp3)
            n += 1
        out += (b"~%d\r\n" if resp3 else b"*%d\r\n") % n
        out += body
        return
    body = bytearray()
    n = 0
    while True:
        item = value[n + 1]
        if item is None:
            break
        _encode(body, item, resp3, script_resp3)
        n += 1
    out += b"*%d\r\n" % n
    out += body
