"""The set value (Redis's t_set object).

A Python set of bytes, plus ``big``: Redis 7.0 keeps a set of integers as a
sorted ``intset`` while every member is an integer (as string2ll reads it)
and there are at most ``set-max-intset-entries`` of them, and switches to a
``hashtable`` for good otherwise.  Intsets iterate in numeric order, which
clients see in SMEMBERS, so :func:`members` reproduces that order.
"""

from __future__ import annotations

from collections.abc import Iterable

from sentrykv_server.store import digest
from sentrykv_server.store.memory import set_size
from sentrykv_server.store.types import register

_MIN, _MAX = -(1 << 63), (1 << 63) - 1


class RedisSet(set[bytes]):
    """members, plus the encoding flag."""

    __slots__ = ("big",)

    def __init__(self, *args: Iterable[bytes]) -> None:
        super().__init__(*args)
        self.big = False

    def __reduce__(self) -> tuple[type, tuple[list[bytes]], dict[str, bool]]:
        return RedisSet, (list(self),), {"big": self.big}

    def __setstate__(self, state: dict[str, bool]) -> None:
        self.big = state["big"]


def is_int(member: bytes) -> bool:
    """True when Redis would store the member in an intset (strict string2ll)."""
    n = len(member)
    if n == 0 or n > 20:
        return False
    first = member[0]
    if first == 45:  # '-'
        if n == 1 or member[1] == 48:  # "-" or "-0..."
            return False
        digits = member[1:]
    else:
        if first == 48 and n > 1:  # leading zero
            return False
        digits = member
    if not digits.isdigit():
        return False
    return _MIN <= int(member) <= _MAX


def fix_encoding(s: RedisSet, max_intset: int) -> None:
    """Switch to hashtable after additions when an intset no longer qualifies."""
    if not s.big and (len(s) > max_intset or not all(is_int(m) for m in s)):
        s.big = True


def new_set(members: Iterable[bytes], max_intset: int) -> RedisSet:
    """A set built from scratch, encoded the way Redis encodes a freshly filled set."""
    s = RedisSet(members)
    fix_encoding(s, max_intset)
    return s


def members(s: RedisSet) -> list[bytes]:
    """Members in the order Redis iterates them (numeric for an intset)."""
    if s.big:
        return list(s)
    return sorted(s, key=int)


def copy_set(s: RedisSet) -> RedisSet:
    out = RedisSet(s)
    out.big = s.big
    return out


register(
    RedisSet, "set", copy_set,
    lambda s: "hashtable" if s.big else "intset",
    lambda s: digest.canonical_members(list(s)),
    set_size,
)
