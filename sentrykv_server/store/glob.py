"""Redis's glob-style patterns (util.c ``stringmatchlen``) in bounded time.

Semantics are Redis 7.0's, quirks included, because clients see them through
KEYS, SCAN MATCH, PSUBSCRIBE, PUBSUB CHANNELS and CONFIG GET:

* ``*`` any run, ``?`` any byte, ``\\x`` the byte x, ``[...]`` a class with
  ``^`` negation, ``a-z`` ranges (reversed ends are swapped; the ends compare
  as C's *signed* ``char``, so bytes >= 0x80 sort below ASCII), ``\\`` escapes
  inside the class (compared without ``nocase``);
* an unterminated class ends with the pattern and keeps what it has seen, and
  ``[a-]`` is the range from ``a`` to ``]`` (the C walk reads it that way);
* an empty string matches only the empty pattern (Redis's loop never runs
  for it, so even ``*`` does not match ``""``: KEYS and SCAN special-case a
  lone ``*`` themselves, as Redis does).

Cost: the previous translation to a backtracking regex took exponential time
(``a*a*...*b`` against 40 bytes pinned the loop for minutes).  Here each
pattern is split, exactly as Redis's walk reads it, into one-byte predicates
separated by stars.  Because every predicate consumes one byte, the leftmost
placement of each star-separated segment is always the best one; the regex
``S0 (?>.*?S1) ... (?>.*?Sk-1) .* Sk`` commits to it with atomic groups, so a
match costs O(len(key) x len(pattern)) at worst, like Redis 7.0's
``skipLongerMatches``.  Patterns too long to compile cheaply (more than
``_REGEX_MAX`` bytes) use :func:`_match_long`, the same algorithm walked
lazily in Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Matcher = Callable[[bytes], bool]

_STAR = 42
_QUESTION = 63
_OPEN = 91
_CLOSE = 93
_BACKSLASH = 92
_CARET = 94
_DASH = 45

# Patterns up to this size become one compiled regex (compiling 2 KB of stars and
# classes takes ~10 ms here; re's compiler is Python code).
_REGEX_MAX = 2048
_STAR_RUN = re.compile(rb"\*+")
_ALL = frozenset(range(256))


def _signed(b: int) -> int:
    """A byte as C's (signed) char: Redis compares class ranges that way."""
    return b - 256 if b >= 128 else b


def _lower(c: int) -> int:
    """C's tolower() in the C locale, on a signed char value."""
    return c + 32 if 65 <= c <= 90 else c


def _literal(b: int, nocase: bool) -> frozenset[int]:
    if nocase and (65 <= b <= 90 or 97 <= b <= 122):
        return frozenset((b | 32, b & ~32))
    return frozenset((b,))


def _next_token(pattern: bytes, p: int, nocase: bool) -> tuple[frozenset[int], int]:
    """The one-byte predicate starting at ``pattern[p]`` (not a star) and where the next begins.

    Mirrors the C walk, including what it reads at the end of the pattern
    (the sds terminator: a NUL that is neither ``\\`` nor ``]``).
    """
    n = len(pattern)
    ch = pattern[p]
    if ch == _QUESTION:
        return _ALL, p + 1
    if ch == _BACKSLASH and n - p >= 2:
        return _literal(pattern[p + 1], nocase), p + 2
    if ch != _OPEN:
        return _literal(ch, nocase), p + 1
    p += 1
    negate = p < n and pattern[p] == _CARET
    if negate:
        p += 1
    allowed: set[int] = set()
    while True:
        if p < n and pattern[p] == _BACKSLASH and n - p >= 2:
            p += 1
            allowed.add(pattern[p])  # an escape inside a class ignores nocase
        elif p < n and pattern[p] == _CLOSE:
            break
        elif p >= n:
            p -= 1  # unterminated: the walk steps back so that the step below ends it
            break
        elif n - p >= 3 and pattern[p + 1] == _DASH:
            start, end = _signed(pattern[p]), _signed(pattern[p + 2])
            if start > end:
                start, end = end, start
            if nocase:
                start, end = _lower(start), _lower(end)
            for b in range(256):
                c = _lower(_signed(b)) if nocase else _signed(b)
                if start <= c <= end:
                    allowed.add(b)
            p += 2
        else:
            allowed |= _literal(pattern[p], nocase)
        p += 1
    chosen = frozenset(allowed)
    return (_ALL - chosen if negate else chosen), p + 1


def _segments(pattern: bytes, nocase: bool) -> list[list[frozenset[int]]]:
    """The pattern as star-separated runs of one-byte predicates (k stars -> k+1 runs)."""
    segments: list[list[frozenset[int]]] = [[]]
    p, n = 0, len(pattern)
    while p < n:
        if pattern[p] == _STAR:
            while p < n and pattern[p] == _STAR:
                p += 1
            segments.append([])
            continue
        token, p = _next_token(pattern, p, nocase)
        segments[-1].append(token)
    return segments


def _regex_class(allowed: frozenset[int]) -> bytes:
    if allowed == _ALL:
        return b"."
    if not allowed:
        return b"(?!)"
    if len(allowed) == 1:
        return b"\\x%02x" % next(iter(allowed))
    parts = []
    run: list[int] = []
    for b in sorted(allowed):
        if run and b == run[-1] + 1:
            run.append(b)
            continue
        if run:
            parts.append(_range(run))
        run = [b]
    parts.append(_range(run))
    return b"[" + b"".join(parts) + b"]"


def _range(run: list[int]) -> bytes:
    if len(run) == 1:
        return b"\\x%02x" % run[0]
    return b"\\x%02x-\\x%02x" % (run[0], run[-1])


def _compile(pattern: bytes, nocase: bool) -> Matcher:
    segments = _segments(pattern, nocase)
    body = [b"".join(_regex_class(t) for t in segments[0])]
    if len(segments) > 1:
        for middle in segments[1:-1]:
            body.append(b"(?>.*?" + b"".join(_regex_class(t) for t in middle) + b")")
        body.append(b".*" + b"".join(_regex_class(t) for t in segments[-1]))
    match = re.compile(b"".join(body) + b"\\Z", re.DOTALL).match
    empty = not pattern

    def matcher(key: bytes) -> bool:
        return match(key) is not None if key else empty

    return matcher


def _match_long(pattern: bytes, key: bytes, nocase: bool) -> bool:
    """The same algorithm for very long patterns, reading the pattern lazily.

    Iterative glob matching with one backtrack point (the last star): each
    predicate consumes one byte, so retrying from the last star alone is
    complete.  Star runs are skipped at C speed; predicates are parsed at most
    once per position.
    """
    if not key:
        return not pattern
    parsed: dict[int, tuple[frozenset[int], int]] = {}
    n, m = len(pattern), len(key)
    p = s = 0
    star_p = star_s = -1
    while s < m:
        if p < n and pattern[p] == _STAR:
            p = _skip_stars(pattern, p)
            if p == n:
                return True
            star_p, star_s = p, s
            continue
        if p < n:
            token = parsed.get(p)
            if token is None:
                token = parsed[p] = _next_token(pattern, p, nocase)
            if key[s] in token[0]:
                p, s = token[1], s + 1
                continue
        if star_p < 0:
            return False
        star_s += 1
        p, s = star_p, star_s
    return _skip_stars(pattern, p) == n


def _skip_stars(pattern: bytes, p: int) -> int:
    run = _STAR_RUN.match(pattern, p)
    return run.end() if run is not None else p


@lru_cache(maxsize=256)
def _compiled(pattern: bytes, nocase: bool) -> Matcher:
    return _compile(pattern, nocase)


def compile_glob(pattern: bytes, nocase: bool = False) -> Matcher:
    """A predicate ``match(key) -> bool`` with Redis's ``stringmatchlen`` semantics."""
    if len(pattern) <= _REGEX_MAX:
        return _compiled(pattern, nocase)
    return lambda key: _match_long(pattern, key, nocase)


def match_glob(pattern: bytes, key: bytes, nocase: bool = False) -> bool:
    """One-off match (tests, rare callers)."""
    return compile_glob(pattern, nocase)(key)
