"""ops <-> payload: exact round trips, strict rejection of anything else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentrykv_server.persistence.records import RecordError, decode_ops, encode_ops, format_op

ops_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=100_000),
        st.lists(st.binary(max_size=300), min_size=1, max_size=8),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(ops_strategy)
def test_round_trip_any_bytes(ops: list[tuple[int, list[bytes]]]) -> None:
    assert decode_ops(encode_ops(ops)) == ops


def test_exact_encoding_is_resp_with_db_first() -> None:
    payload = encode_ops([(0, [b"SET", b"k", b"v"]), (12, [b"DEL", b"k"])])
    assert payload == (
        b"*4\r\n$1\r\n0\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        b"*3\r\n$2\r\n12\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
    )


def test_binary_and_large_args() -> None:
    big = bytes(range(256)) * 40  # over the cached header range, has \r\n inside
    ops = [(3, [b"SET", b"\x00\r\n*1\r\n", big, b"PXAT", b"1712345678901"]), (300, [b"X", b""])]
    assert decode_ops(encode_ops(ops)) == ops


def test_many_args_and_bytearray_memoryview() -> None:
    argv = [b"MSET"] + [b"a%d" % i for i in range(600)]
    assert decode_ops(encode_ops([(1, argv)])) == [(1, argv)]
    mixed = encode_ops([(0, [b"SET", bytearray(b"k"), memoryview(b"v")])])
    assert decode_ops(mixed) == [(0, [b"SET", b"k", b"v"])]


def test_empty_payload_is_no_ops() -> None:
    assert encode_ops([]) == b""
    assert decode_ops(b"") == []


@pytest.mark.parametrize(
    "payload",
    [
        b"*2\r\n$1\r\n0\r\n$3\r\nSE",  # truncated op
        b"*1\r\n$1\r\n0\r\n",  # no command
        b"+OK\r\n",  # not an array
        b":1\r\n",
        b"-ERR x\r\n",
        b"*2\r\n$1\r\nx\r\n$3\r\nSET\r\n",  # db not a number
        b"*2\r\n$2\r\n-1\r\n$3\r\nSET\r\n",  # negative db
        b"*2\r\n$1\r\n0\r\n:5\r\n",  # integer argument
        b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n",  # nested array
        b"garbage\r\n",
        b"*2\r\n$1\r\n0\r\n$3\r\nSET\r\nGARBAGE",  # trailing junk
        # Found by the coverage-guided fuzzer (tests/fuzz/coverage): a db field that is an
        # array raised TypeError (unhashable) instead of RecordError, also in recovery's path;
        # a cut at an element boundary and a lone header decoded as "no ops".
        b"*2\r\n*1\r\n$1\r\n0\r\n$3\r\nSET\r\n",
        b"*3\r\n$1\r\n0\r\n$3\r\nSET\r\n",
        b"*600000000\r\n",
        b":-1\r\n*2\r\n$1\r\n0\r\n$4\r\nPING\r\n",  # the frame-end marker inside a payload
    ],
)
def test_rejects_non_ops(payload: bytes) -> None:
    with pytest.raises(RecordError):
        decode_ops(payload)
    # The shared reader is reset after an error: the next decode is clean.
    assert decode_ops(encode_ops([(0, [b"PING"])])) == [(0, [b"PING"])]


def test_negative_db_refused_on_encode() -> None:
    with pytest.raises(ValueError):
        encode_ops([(-1, [b"SET", b"k", b"v"])])


def test_format_op_quotes_like_redis_cli() -> None:
    assert format_op(0, [b"SET", b"k", b"v"]) == 'db=0 SET "k" "v"'
    assert format_op(2, [b"SET", b'a"\\b', b"\x00\n\xff"]) == 'db=2 SET "a\\"\\\\b" "\\x00\\n\\xff"'
