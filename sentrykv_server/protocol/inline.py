"""Inline commands: what a person types into ``nc`` or ``telnet``.

Splitting follows Redis's ``sdssplitargs``: words separated by blanks,
``"..."`` with C-style escapes (``\\n``, ``\\xHH`` ...), ``'...'`` where only
``\\'`` is special, and a closing quote must be followed by a blank or the end
of the line.  Unbalanced quotes are a protocol error.
"""

from __future__ import annotations

_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_BLANK = b" \t\n\r\v\f\0"
_HEX = b"0123456789abcdefABCDEF"


class UnbalancedQuotes(ValueError):
    """The line opened a quote it never closed properly."""


def split_args(line: bytes) -> list[bytes]:
    """Split one inline command line into arguments."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _BLANK:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            if i >= n:
                if in_dq or in_sq:
                    raise UnbalancedQuotes
                break
            ch = line[i]
            if in_dq:
                if (ch == 92 and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif ch == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif ch == 34:
                    if i + 1 < n and line[i + 1] not in _BLANK:
                        raise UnbalancedQuotes
                    in_dq = False
                    i += 1
                    break
                else:
                    cur.append(ch)
            elif in_sq:
                if ch == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif ch == 39:
                    if i + 1 < n and line[i + 1] not in _BLANK:
                        raise UnbalancedQuotes
                    in_sq = False
                    i += 1
                    break
                else:
                    cur.append(ch)
            else:
                if ch in _BLANK:
                    break
                if ch == 34:
                    in_dq = True
                elif ch == 39:
                    in_sq = True
                else:
                    cur.append(ch)
            i += 1
        args.append(bytes(cur))
