"""Unit tests of the reply encoders' fast paths: they must produce exactly what the
generic encoder (one header per item) produces, which redis-py then parses."""

from __future__ import annotations

import hiredis
import pytest

from sentrykv_server.commands.errors import CommandError, parse_int
from sentrykv_server.protocol.reply import BulkArray, encode, to_bytes


def _generic(items: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in items)


@pytest.mark.parametrize(
    "items",
    [
        [],
        [b""],
        [b"xxx"] * 3,
        [b"", b""],
        [b"a", b"bb", b"", b"ccc"],
        [b"\r\n", b"$3\r\n"],
        [b"x" * 5000, b"y" * 5000],  # lengths above the header cache
        [b"x" * 5000, b"y"],
        [bytes([i % 256]) * (i % 7) for i in range(2000)],  # array length above its cache
    ],
)
@pytest.mark.parametrize("resp3", [False, True])
def test_bulk_array_matches_generic_encoding(items: list[bytes], resp3: bool) -> None:
    encoded = to_bytes(BulkArray(items), resp3)
    assert encoded == _generic(items)
    reader = hiredis.Reader()
    reader.feed(encoded)
    assert reader.gets() == items


def test_bulk_array_nested_in_an_array() -> None:
    out = bytearray()
    encode(out, [BulkArray([b"a", b"b"]), 1], False)
    assert bytes(out) == b"*2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n"


@pytest.mark.parametrize("raw, value", [(b"0", 0), (b"-1", -1), (b"10000", 10000), (b"-1024", -1024),
                                        (b"10001", 10001), (b"-9223372036854775808", -(1 << 63))])
def test_parse_int_accepts_canonical_integers(raw: bytes, value: int) -> None:
    assert parse_int(raw) == value


@pytest.mark.parametrize("raw", [b"", b"01", b"-0", b"+1", b" 1", b"1 ", b"1_0", b"9223372036854775808", b"1.0"])
def test_parse_int_rejects_what_redis_rejects(raw: bytes) -> None:
    with pytest.raises(CommandError):
        parse_int(raw)
