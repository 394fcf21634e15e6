"""Value types: their Redis names, encodings and copies, keyed by Python class.

Each data-type module registers its class here, so type-generic commands
(TYPE, OBJECT ENCODING, COPY, SCAN TYPE, DEBUG DIGEST, MEMORY USAGE) and the
memory accounting need no per-type code.  A new type registers one more
callable, ``size(value, samples) -> bytes`` (see store/memory.py for the model
and its helpers); without one it gets :func:`~sentrykv_server.store.memory.generic_size`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sentrykv_server.store.memory import generic_size, string_size


@dataclass(frozen=True)
class ValueType:
    name: str
    copy: Callable[[Any], Any]
    encoding: Callable[[Any], str]
    # Order-independent canonical bytes of the value, for DEBUG DIGEST(-VALUE).
    canonical: Callable[[Any], bytes]
    # Bytes the value costs (store/memory.py); ``samples`` > 0 samples big containers.
    size: Callable[[Any, int], int] = generic_size


TYPES: dict[type, ValueType] = {}


def register(
    cls: type,
    name: str,
    copy: Callable[[Any], Any],
    encoding: Callable[[Any], str],
    canonical: Callable[[Any], bytes],
    size: Callable[[Any, int], int] = generic_size,
) -> None:
    TYPES[cls] = ValueType(name, copy, encoding, canonical, size)


def type_name(value: Any) -> str:
    if value is None:
        return "none"
    return TYPES[type(value)].name


def _string_encoding(value: bytes) -> str:
    if len(value) <= 20:
        try:
            number = int(value)
            if -(1 << 63) <= number < (1 << 63) and b"%d" % number == value:
                return "int"
        except ValueError:
            pass
    return "embstr" if len(value) <= 44 else "raw"


register(bytes, "string", lambda v: v, _string_encoding, lambda v: v, string_size)
