"""Render replies the way redis-cli does, so output and habits carry over.

Two styles, chosen like redis-cli chooses them: *human* (the default on a
terminal: ``(integer) 1``, quoted bulk strings, numbered nested arrays) and
*raw* (the default when stdout is a pipe: the bare value, one per line), which is
what ``val=$(sentrykv-cli get k)`` in a script wants.
"""

from __future__ import annotations

from sentrykv_cli.resp import (
    BigNumber,
    Double,
    ErrorReply,
    Reply,
    RespMap,
    RespPush,
    RespSet,
    Status,
    Verbatim,
)

_REPR_ESCAPES = {
    ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r",
    ord("\t"): "\\t", 7: "\\a", 8: "\\b",
}


def quote_bytes(data: bytes) -> str:
    """Quote like Redis' ``sdscatrepr``: printable ASCII as-is, everything else escaped."""
    out = ['"']
    for byte in data:
        if byte in _REPR_ESCAPES:
            out.append(_REPR_ESCAPES[byte])
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _aggregate(reply: Reply) -> tuple[list[Reply], str, str] | None:
    """Return (items, marker, empty-text) for aggregate replies, None for scalars."""
    if isinstance(reply, RespMap):
        return [k for k, _ in reply.pairs], "#", "(empty hash)"
    if isinstance(reply, RespSet):
        return list(reply), "~", "(empty set)"
    if isinstance(reply, RespPush):
        return list(reply), ")", "(empty push)"
    if isinstance(reply, list):
        return reply, ")", "(empty array)"
    return None


def format_human(reply: Reply, prefix: str = "") -> str:
    """Terminal style; returns the text including the trailing newline."""
    agg = _aggregate(reply)
    if agg is None:
        return _human_scalar(reply) + "\n"
    items, marker, empty = agg
    if not items:
        return empty + "\n"
    width = len(str(len(items)))
    child_prefix = prefix + " " * (width + 2)
    values = [v for _, v in reply.pairs] if isinstance(reply, RespMap) else None
    out: list[str] = []
    for i, item in enumerate(items):
        out.append(f"{'' if i == 0 else prefix}{i + 1:>{width}}{marker} ")
        text = format_human(item, child_prefix)
        if values is not None:
            text = text[:-1] + " => " + format_human(values[i], child_prefix)
        out.append(text)
    return "".join(out)


def _human_scalar(reply: Reply) -> str:
    if reply is None:
        return "(nil)"
    if isinstance(reply, bool):
        return "(true)" if reply else "(false)"
    if isinstance(reply, int):
        return f"(integer) {reply}"
    if isinstance(reply, ErrorReply):
        return f"(error) {reply.message}"
    if isinstance(reply, Status):
        return _text(reply)
    if isinstance(reply, Verbatim):
        return _text(reply.text).rstrip("\n")
    if isinstance(reply, Double):
        return f"(double) {reply.text}"
    if isinstance(reply, BigNumber):
        return f"(big number) {reply.text}"
    if isinstance(reply, bytes):
        return quote_bytes(reply)
    return repr(reply)  # pragma: no cover - every Reply type is handled above


def format_raw(reply: Reply) -> str:
    """Pipe style (``--raw``): bare values, aggregates flattened one item per line."""
    return _raw(reply) + "\n"


def _raw(reply: Reply) -> str:
    if isinstance(reply, RespMap):
        return "\n".join(f"{_raw(k)}\n{_raw(v)}" for k, v in reply.pairs)
    if isinstance(reply, list):
        return "\n".join(_raw(item) for item in reply)
    if reply is None:
        return ""
    if isinstance(reply, bool):
        return "1" if reply else "0"
    if isinstance(reply, int):
        return str(reply)
    if isinstance(reply, ErrorReply):
        return reply.message + "\n"
    if isinstance(reply, Verbatim):
        return _text(reply.text)
    if isinstance(reply, Double | BigNumber):
        return reply.text
    if isinstance(reply, bytes):
        return _text(reply)
    return repr(reply)  # pragma: no cover


def format_reply(reply: Reply, raw: bool, report: bool = False) -> str:
    """``report``: a text report (see :func:`forces_raw`), printed exactly as sent, no newline added."""
    if report:
        return _raw(reply)
    return format_raw(reply) if raw else format_human(reply)


# Replies that are text reports: redis-cli prints them raw even on a terminal,
# because a quoted "# Server\r\nredis_version:..." would be unreadable.
_RAW_COMMANDS = frozenset({b"info", b"lolwut"})
_RAW_SUBCOMMANDS = {
    b"memory": frozenset({b"malloc-stats", b"doctor"}),
    b"client": frozenset({b"list", b"info"}),
    b"cluster": frozenset({b"nodes", b"info"}),
    b"latency": frozenset({b"doctor", b"graph"}),
    b"debug": frozenset({b"htstats", b"htstats-key", b"client-eviction"}),
}


def forces_raw(args: list[bytes]) -> bool:
    """True for the commands redis-cli always prints raw (INFO, CLIENT LIST, ...)."""
    if not args:
        return False
    name = args[0].lower()
    if name in _RAW_COMMANDS:
        return True
    subs = _RAW_SUBCOMMANDS.get(name)
    return subs is not None and len(args) >= 2 and args[1].lower() in subs
