"""Split a typed REPL line into arguments with redis-cli's quoting rules.

redis-cli users expect the same rules everywhere (they come from Redis' own
``sdssplitargs``), so the REPL reproduces them rather than using ``shlex``:

* arguments are separated by whitespace;
* ``"..."`` understands ``\\n \\r \\t \\b \\a``, ``\\xHH`` (any byte) and ``\\<c>`` for any other c;
* ``'...'`` is literal except for ``\\'``;
* a closing quote must be followed by whitespace or the end of the line, and an
  unterminated quote is an error: both make the whole line invalid.
"""

from __future__ import annotations

_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}
_HEX = "0123456789abcdefABCDEF"


class SplitError(ValueError):
    """The line has unbalanced quotes or text glued to a closing quote."""


def _enc(ch: str) -> bytes:
    # surrogateescape round-trips bytes that were not valid UTF-8 on stdin.
    return ch.encode("utf-8", "surrogateescape")


def split_args(line: str) -> list[bytes]:
    """Return the arguments of ``line`` as bytes; raise :class:`SplitError` if it is malformed."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    raise SplitError("unterminated quotes")
                ch = line[i]
                if ch == "\\" and i + 3 < n and line[i + 1] == "x" and line[i + 2] in _HEX \
                        and line[i + 3] in _HEX:
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif ch == "\\" and i + 1 < n:
                    i += 1
                    cur += _ESCAPES.get(line[i], _enc(line[i]))
                elif ch == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise SplitError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += _enc(ch)
            elif in_sq:
                if i >= n:
                    raise SplitError("unterminated quotes")
                ch = line[i]
                if ch == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur += b"'"
                elif ch == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise SplitError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += _enc(ch)
            else:
                if i >= n:
                    break
                ch = line[i]
                if ch.isspace():
                    break
                if ch == '"':
                    in_dq = True
                elif ch == "'":
                    in_sq = True
                else:
                    cur += _enc(ch)
            i += 1
        args.append(bytes(cur))
