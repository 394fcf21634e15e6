"""Reply value types that subclass built-ins (list, bytes).

Why a module of their own: mypyc compiles protocol/reply.py into native
classes, and a native class cannot inherit from ``list`` or ``bytes``.  These
marker types stay ordinary Python classes here (this module is never
compiled); protocol/reply.py re-exports them, so handlers keep importing them
from there.
"""

from __future__ import annotations


class SetReply(list):
    """An unordered collection: a RESP3 set, a plain array in RESP2."""


class BulkArray(list):
    """An array of bulk strings only (LRANGE, HKEYS, HVALS, KEYS).

    Handlers that know every item is ``bytes`` say so with this type, which
    lets the encoder skip per-item type dispatch: when all items have the same
    length (ids, fixed-size tokens, redis-benchmark's values) the whole array
    is one ``bytes.join`` with a constant separator, about 5x cheaper per item
    than writing a header per item.
    """


class Push(list):
    """An out-of-band message (pub/sub): RESP3 push ``>``, RESP2 array."""


class Verbatim(bytes):
    """Human-readable text (INFO, CLIENT LIST): RESP3 verbatim string, RESP2 bulk."""


class Raw(bytes):
    """Pre-encoded reply bytes, written as they are."""
