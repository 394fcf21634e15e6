"""Redis's glob-style patterns (stringmatchlen) compiled to byte regexes.

Differences from :mod:`fnmatch` matter to users: ``[^a]`` negates, a
backslash escapes the next character, and matching is on raw bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes, nocase: bool = False) -> Callable[[bytes], object]:
    """A predicate ``match(key) -> truthy`` for a Redis glob pattern."""
    if pattern == b"*":
        return lambda _key: True
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == 42:  # *
            while i + 1 < n and pattern[i + 1] == 42:
                i += 1
            out += b".*"
        elif ch == 63:  # ?
            out += b"."
        elif ch == 91:  # [
            j = i + 1
            negate = j < n and pattern[j] == 94
            if negate:
                j += 1
            items = bytearray()
            while j < n and pattern[j] != 93:
                if pattern[j] == 92 and j + 1 < n:
                    j += 1
                    items += re.escape(bytes([pattern[j]]))
                elif j + 2 < n and pattern[j + 1] == 45 and pattern[j + 2] != 93:
                    lo, hi = sorted((pattern[j], pattern[j + 2]))
                    items += re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi]))
                    j += 2
                else:
                    items += re.escape(bytes([pattern[j]]))
                j += 1
            # An unterminated class matches what it has seen so far, like Redis.
            if not items:
                out += b"(?!)" if not negate else b"."
            else:
                out += b"[" + (b"^" if negate else b"") + bytes(items) + b"]"
            i = j
        elif ch == 92 and i + 1 < n:  # backslash escape
            i += 1
            out += re.escape(bytes([pattern[i]]))
        else:
            out += re.escape(bytes([ch]))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    return re.compile(bytes(out) + b"\\Z", flags).match
