"""The wire protocol over raw sockets, compared byte for byte with redis-server.

Covers what a person typing into ``nc`` does (inline commands, quoting,
escapes), pipelining, every protocol error Redis reports (error reply, then
the connection is closed, and the server keeps serving everyone else),
requests split at every byte boundary, the query-buffer limit, and random
garbage that must never take the server down.
"""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.helpers import (
    RawConn,
    encode_command,
    encode_many,
    exchange,
    exchange_all,
    server_alive,
)
from tests.support.procs import RedisProcess, ServerProcess

# ---------------------------------------------------------------------------------------------
# Inline commands


INLINE_CASES = [
    b"SET a 1\r\nGET a\r\n",
    b"set a 1\nget a\n",  # LF alone ends a line too
    b'SET "a b" \'x y\'\r\nGET "a b"\r\n',
    b'SET k "\\x41\\x42\\n\\t\\\\"\r\nGET k\r\nSTRLEN k\r\n',
    b"SET k 'it\\'s'\r\nGET k\r\n",
    b"SET k '\\x41'\r\nGET k\r\n",  # no escapes inside single quotes except \'
    b'SET k "\\x4"\r\nGET k\r\n',  # incomplete hex escape: backslash drops, 'x4' stays
    b"\r\n\r\n   \r\nPING\r\n",  # empty lines are ignored
    b"  PING   \t \r\nECHO   hello\r\n",
    b"ECHO \"\"\r\nECHO ''\r\n",
    b"NOSUCHCMD a b\r\n",
    b"GET\r\n",
    b"PING\r\n*1\r\n$4\r\nPING\r\n",  # inline then multibulk in one packet
]


@pytest.mark.parametrize("data", INLINE_CASES, ids=lambda d: d[:24].decode("latin-1"))
def test_inline_commands_match_redis(server: ServerProcess, reference: RedisProcess, data: bytes) -> None:
    got = exchange_all(server.port, data)
    want = exchange_all(reference.port, data)
    assert got == want
    assert not got[1], "an inline command must not close the connection"


UNBALANCED = [b'SET k "abc\r\n', b"SET k 'abc\r\n", b'SET k "abc"def\r\n', b"SET k 'a'b\r\n",
              b'PING\r\nSET "x\r\nPING\r\n']


@pytest.mark.parametrize("data", UNBALANCED, ids=lambda d: d[:24].decode("latin-1"))
def test_unbalanced_quotes_error_and_close(server: ServerProcess, reference: RedisProcess, data: bytes) -> None:
    got = exchange(server.port, data)
    assert got == exchange(reference.port, data)
    assert got[0].endswith(b"-ERR Protocol error: unbalanced quotes in request\r\n")
    assert got[1], "the connection must be closed after a protocol error"
    assert server_alive(server.port)


def test_inline_binary_safe_via_hex_escapes(server: ServerProcess) -> None:
    with RawConn(server.port) as conn:
        conn.send(b'SET bin "\\x00\\xff\\r\\n"\r\nGET bin\r\n')
        assert conn.read_replies(2) == [b"OK", b"\x00\xff\r\n"]


# ---------------------------------------------------------------------------------------------
# Pipelining


def test_pipelined_requests_replied_in_order(server: ServerProcess, reference: RedisProcess) -> None:
    commands: list[list[bytes | str | int]] = [["DEL", "pipe", "ctr"]]
    for i in range(500):
        commands.append(["SET", "pipe", i])
        commands.append(["INCR", "ctr"])
        commands.append(["GET", "pipe"])
    data = encode_many(commands)
    with RawConn(server.port) as a, RawConn(reference.port) as b:
        a.send(data)
        b.send(data)
        got = a.read_replies(len(commands))
        assert got == b.read_replies(len(commands))
    assert got[1::3] == [b"OK"] * 500
    assert got[2::3] == list(range(1, 501))
    assert got[3::3] == [b"%d" % i for i in range(500)]


def test_pipelined_inline_lines_in_one_send(server: ServerProcess) -> None:
    data = b"".join(b"INCR inl\r\n" for _ in range(300)) + b"DEL inl\r\n"
    with RawConn(server.port) as conn:
        conn.send(data)
        assert conn.read_replies(301) == [*range(1, 301), 1]


def test_pipeline_with_an_error_in_the_middle_continues(server: ServerProcess, reference: RedisProcess) -> None:
    data = encode_many([["SET", "e", "x"], ["INCR", "e"], ["NOSUCH"], ["GET", "e"], ["SET", "e"]])
    got = exchange_all(server.port, data)
    assert got == exchange_all(reference.port, data)


def test_multibulk_then_inline_in_one_packet(server: ServerProcess, reference: RedisProcess) -> None:
    data = b"*1\r\n$4\r\nPING\r\nECHO x\r\n*1\r\n$4\r\nPING\r\n\r\nPING\r\n"
    assert exchange_all(server.port, data) == exchange_all(reference.port, data)


def test_inline_after_a_request_split_across_reads(server: ServerProcess) -> None:
    """The read that ends a RESP request goes on with an inline command (found by the fuzzer)."""
    data = encode_command("SET", "split-inline", "v") + b"GET split-inline\r\n" + encode_command("PING")
    with RawConn(server.port) as conn:
        for cut in range(1, len(data) - 20):
            conn.send_slowly(data, [cut], pause=0.01)
            assert conn.read_replies(3) == [b"OK", b"v", b"PONG"], f"split at {cut}"


# ---------------------------------------------------------------------------------------------
# Protocol errors: error reply, connection closed, everyone else keeps being served

PROTOCOL_ERRORS = [
    ("mbulk-not-integer", b"*abc\r\n", "invalid multibulk length"),
    ("mbulk-over-uint32", b"*4294967296\r\n", "invalid multibulk length"),
    ("mbulk-trailing-space", b"*1 \r\n$4\r\nPING\r\n", "invalid multibulk length"),
    ("mbulk-plus-sign", b"*+1\r\n$4\r\nPING\r\n", "invalid multibulk length"),
    ("bulk-not-integer", b"*1\r\n$abc\r\n", "invalid bulk length"),
    ("bulk-garbage-suffix", b"*1\r\n$4x\r\nPING\r\n", "invalid bulk length"),
    ("bulk-over-proto-max-bulk-len", b"*2\r\n$3\r\nGET\r\n$536870913\r\n", "invalid bulk length"),
    ("bulk-huge-number", b"*1\r\n$99999999999999999999\r\n", "invalid bulk length"),
    ("expected-dollar-colon", b"*1\r\n:1\r\n", "expected '$', got ':'"),
    ("expected-dollar-letter", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'"),
    ("too-big-inline", b"x" * (64 * 1024 + 10), "too big inline request"),
    ("too-big-mbulk-count-string", b"*" + b"1" * (64 * 1024 + 10), "too big mbulk count string"),
    ("too-big-bulk-count-string", b"*1\r\n$" + b"1" * (64 * 1024 + 10), "too big bulk count string"),
    ("unbalanced-quotes", b'GET "x\r\n', "unbalanced quotes in request"),
    ("bulk-negative", b"*1\r\n$-5\r\n", "invalid bulk length"),
    ("bulk-null-element", b"*2\r\n$3\r\nGET\r\n$-1\r\n", "invalid bulk length"),
    ("integer-element", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n:5\r\n", "expected '$', got ':'"),
    ("nested-array-element", b"*2\r\n$3\r\nGET\r\n*1\r\n$1\r\na\r\n", "expected '$', got '*'"),
    ("nested-array-incomplete", b"*2\r\n*1\r\n$1\r\na\r\n", "expected '$', got '*'"),
    ("resp3-double-element", b"*2\r\n$4\r\nECHO\r\n,1.5\r\n", "expected '$', got ','"),
    ("resp3-map-element", b"*2\r\n$4\r\nECHO\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n", "expected '$', got '%'"),
    # hiredis builds a map as a dict: an array as its key raised TypeError out of
    # data_received (no reply, a traceback in the log) - found by atheris
    ("resp3-map-array-key", b"*2\r\n$4\r\nECHO\r\n%1\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n", "expected '$', got '%'"),
]

# Cases where SentryKV does not (yet) behave like Redis; strict so a fix shows up as XPASS.
PROTOCOL_ERRORS_XFAIL = [
    ("simple-string-element", b"*1\r\n+PING\r\n", "expected '$', got '+'",
     "hiredis returns +PING as bytes, indistinguishable from a bulk string"),
]


def _assert_protocol_error(port: int, data: bytes, message: str) -> None:
    with RawConn(port) as conn:
        try:
            conn.send(data)
        except (BrokenPipeError, ConnectionResetError):  # closed while we were still sending
            pass
        received, closed = conn.read_until_closed(1.5)
    assert received.endswith(b"-ERR Protocol error: " + message.encode() + b"\r\n"), received[-200:]
    assert closed, "the server must close the connection after a protocol error"


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in PROTOCOL_ERRORS],
                         ids=[c[0] for c in PROTOCOL_ERRORS])
def test_protocol_error_reply_then_close(server: ServerProcess, reference: RedisProcess,
                                         data: bytes, message: str) -> None:
    _assert_protocol_error(reference.port, data, message)  # the expectation is Redis's behaviour
    with RawConn(server.port) as bystander:
        bystander.send(encode_command("SET", "bystander", "1"))
        assert bystander.read_replies(1) == [b"OK"]
        _assert_protocol_error(server.port, data, message)
        bystander.send(encode_command("GET", "bystander"))
        assert bystander.read_replies(1) == [b"1"]
    assert server_alive(server.port)


@pytest.mark.parametrize(("data", "message"), [c[1:3] for c in PROTOCOL_ERRORS_XFAIL],
                         ids=[c[0] for c in PROTOCOL_ERRORS_XFAIL])
def test_protocol_error_known_deviations(server: ServerProcess, reference: RedisProcess,
                                         data: bytes, message: str, request: pytest.FixtureRequest) -> None:
    reason = next(c[3] for c in PROTOCOL_ERRORS_XFAIL if c[1] == data)
    request.applymarker(pytest.mark.xfail(strict=True, reason="BUG protocol/connection.py: " + reason))
    _assert_protocol_error(reference.port, data, message)
    try:
        _assert_protocol_error(server.port, data, message)
    finally:
        assert server_alive(server.port)


@pytest.mark.parametrize("header", [b"*600000000\r\n", b"*2147483647\r\n",
                                    b"*1\r\n$4\r\nPING\r\n*600000000\r\n",  # after a request
                                    b"*6000", b"00000\r\n"])  # the count cut in two reads
def test_huge_multibulk_header_does_not_stall_the_server(server: ServerProcess, header: bytes) -> None:
    """hiredis would allocate the list at the header; freeing it stalls everyone (input_guard)."""
    with RawConn(server.port) as victim:
        for _ in range(3):
            with RawConn(server.port) as attacker:
                attacker.send(b"*6000" if header == b"00000\r\n" else header)
                if header == b"00000\r\n":
                    time.sleep(0.05)
                    attacker.send(header)
                data, closed = attacker.read_until_closed(0.2)
                assert not closed, "Redis waits for the elements of a count up to INT_MAX"
                assert data in (b"", b"+PONG\r\n")
        time.sleep(0.05)
        start = time.monotonic()
        victim.send(encode_command("PING"))
        assert victim.read_replies(1, timeout=10) == [b"PONG"]
        assert time.monotonic() - start < 0.5
    assert server.proc is not None
    assert _rss_mb(server.proc.pid) < 500


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("which", ["sentrykv", "redis"])
def test_multibulk_count_over_int_max(server: ServerProcess, reference: RedisProcess, which: str) -> None:
    port = server.port if which == "sentrykv" else reference.port
    _assert_protocol_error(port, b"*2147483648\r\n", "invalid multibulk length")


@pytest.mark.parametrize("which", ["sentrykv", "redis"])
def test_nested_aggregate_with_big_count_is_a_protocol_error(server: ServerProcess, reference: RedisProcess,
                                                             which: str) -> None:
    port = server.port if which == "sentrykv" else reference.port
    for kind in (b"*", b"~", b">"):
        _assert_protocol_error(port, b"*2\r\n$3\r\nGET\r\n" + kind + b"600000000\r\n",
                               "expected '$', got '%s'" % kind.decode())


def test_big_request_held_until_its_data_arrives(server: ServerProcess, reference: RedisProcess) -> None:
    """A 5000-element request split in small reads, and one cut inside every header."""
    args: list[bytes | str | int] = ["MSET"]
    for i in range(2500):
        args += [f"big{i}", "*12345\r\n" if i % 7 == 0 else i]  # payloads that look like headers
    data = encode_command(*args) + encode_command("MGET", "big0", "big2498") + encode_command("DEL", "big0")
    assert exchange_all(server.port, data) == exchange_all(reference.port, data)
    with RawConn(server.port) as conn:
        conn.send_slowly(data, range(3, len(data), 997))
        assert conn.read_replies(3) == [b"OK", [b"*12345\r\n", b"2498"], 1]


def test_big_request_protocol_error_reported_before_completion(server: ServerProcess,
                                                               reference: RedisProcess) -> None:
    data = b"*5000\r\n$3\r\nSET\r\nfoo\r\n"
    _assert_protocol_error(reference.port, data, "expected '$', got 'f'")
    _assert_protocol_error(server.port, data, "expected '$', got 'f'")


@pytest.mark.parametrize("data", [
    b"*1\r\n$4\r\nPING\r\n~12\r\n",  # a RESP3 aggregate byte starting a request is inline
    b"*1\r\n$4\r\nPING\r\n*12\rX*1\r\n$4\r\nPING\r\n",  # Redis takes '\r' + any byte
    b"*-10\r\n*1\r\n$4\r\nPING\r\n*-2147483648\r\n*1\r\n$4\r\nPING\r\n",
    b"*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$12\r\n*600000000\r\n\r\n*1\r\n$4\r\nPING\r\n",
    b"*12\r\n" + b"".join(b"$1\r\n%d\r\n" % (i % 10) for i in range(11)),  # incomplete: waits
])
def test_header_candidates_match_redis(server: ServerProcess, reference: RedisProcess, data: bytes) -> None:
    assert exchange(server.port, data) == exchange(reference.port, data)


def test_protocol_error_after_valid_requests_in_same_packet(server: ServerProcess,
                                                            reference: RedisProcess) -> None:
    data = encode_command("SET", "pe", "1") + encode_command("INCR", "pe") + b"*1\r\n$x\r\n" + encode_command("PING")
    got = exchange(server.port, data)
    assert got == exchange(reference.port, data)
    assert got == (b"+OK\r\n:2\r\n-ERR Protocol error: invalid bulk length\r\n", True)


def test_lowered_proto_max_bulk_len(server: ServerProcess) -> None:
    admin = server.client()
    admin.config_set("proto-max-bulk-len", "1mb")
    try:
        _assert_protocol_error(server.port, b"*2\r\n$3\r\nGET\r\n$1048577\r\n", "invalid bulk length")
        with RawConn(server.port) as conn:  # exactly the limit is fine
            value = b"v" * (1024 * 1024)
            conn.send(encode_command("SET", "big", value) + encode_command("STRLEN", "big"))
            assert conn.read_replies(2) == [b"OK", 1024 * 1024]
    finally:
        admin.config_set("proto-max-bulk-len", "512mb")
        admin.delete("big")
        admin.close()


def test_null_and_empty_multibulk_are_ignored(server: ServerProcess, reference: RedisProcess) -> None:
    data = b"*-1\r\n*0\r\n" + encode_command("PING")
    got = exchange_all(server.port, data)
    assert got == exchange_all(reference.port, data)
    assert got == (b"+PONG\r\n", False)


def test_negative_multibulk_count_is_ignored(server: ServerProcess, reference: RedisProcess) -> None:
    data = b"*-10\r\n" + encode_command("PING")
    got = exchange_all(server.port, data)
    assert got == exchange_all(reference.port, data)
    assert got == (b"+PONG\r\n", False)


# ---------------------------------------------------------------------------------------------
# Partial frames: a request split anywhere gives the same replies

SPLIT_REQUEST = encode_many([
    ["SET", "split", b"a\r\nb\x00c"],
    ["GET", "split"],
    ["MSET", "s1", "", "s2", "x" * 40],
    ["MGET", "s1", "s2", "nosuch"],
    ["PING"],
])
SPLIT_REPLIES = [b"OK", b"a\r\nb\x00c", b"OK", [b"", b"x" * 40, None], b"PONG"]


def test_split_at_every_byte_boundary(server: ServerProcess) -> None:
    with RawConn(server.port) as conn:
        for cut in range(1, len(SPLIT_REQUEST)):
            conn.send_slowly(SPLIT_REQUEST, [cut])
            assert conn.read_replies(len(SPLIT_REPLIES)) == SPLIT_REPLIES, f"split at {cut}"


def test_one_byte_at_a_time(server: ServerProcess) -> None:
    with RawConn(server.port) as conn:
        conn.send_slowly(SPLIT_REQUEST, range(1, len(SPLIT_REQUEST)))
        assert conn.read_replies(len(SPLIT_REPLIES)) == SPLIT_REPLIES


def test_inline_split_at_every_byte_boundary(server: ServerProcess) -> None:
    data = b'SET isplit "a b"\r\nGET isplit\r\nPING\r\n*1\r\n$4\r\nPING\r\n'
    want = [b"OK", b"a b", b"PONG", b"PONG"]
    with RawConn(server.port) as conn:
        for cut in range(1, len(data)):
            conn.send_slowly(data, [cut])
            assert conn.read_replies(len(want)) == want, f"split at {cut}"
        conn.send_slowly(data, range(1, len(data)))
        assert conn.read_replies(len(want)) == want


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(SPLIT_REQUEST) - 1), max_size=8))
def test_split_at_random_offsets(server: ServerProcess, cuts: list[int]) -> None:
    with RawConn(server.port) as conn:
        conn.send_slowly(SPLIT_REQUEST, sorted(set(cuts)))
        assert conn.read_replies(len(SPLIT_REPLIES)) == SPLIT_REPLIES


def test_chunk_starting_inside_a_value_is_not_parsed_as_a_header(server: ServerProcess) -> None:
    """A read may begin inside a bulk payload that looks like a header ('*xy'): valid input."""
    with RawConn(server.port) as conn:
        conn.send_slowly(b"*3\r\n$3\r\nSET\r\n$4\r\nfake\r\n$5\r\nab*xy\r\n*1\r\n$4\r\nPING\r\n",
                         [29, 38, 39], pause=0.03)  # cuts: inside the value, inside PING twice
        assert conn.read_replies(2) == [b"OK", b"PONG"]


def test_chunk_starting_after_a_consumed_header_is_not_inline(server: ServerProcess) -> None:
    """hiredis consumes '*3\\r\\n' at once; the next read starting with '$' is still RESP."""
    data = encode_command("SET", "hdr", "v") + encode_command("GET", "hdr")
    with RawConn(server.port) as conn:
        for cut in (1, 4, 13, 20, 28):
            conn.send_slowly(data, [cut], pause=0.03)
            assert conn.read_replies(2) == [b"OK", b"v"], f"split at {cut}"


def test_large_value_in_many_chunks(server: ServerProcess) -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    data = encode_command("SET", "bigsplit", value) + encode_command("GET", "bigsplit")
    with RawConn(server.port) as conn:
        conn.send_slowly(data, range(7, len(data), 65521))
        assert conn.read_replies(2) == [b"OK", value]
        conn.send(encode_command("DEL", "bigsplit"))
        assert conn.read_replies(1) == [1]


# ---------------------------------------------------------------------------------------------
# client-query-buffer-limit


@pytest.mark.parametrize("which", ["sentrykv", "redis"])
def test_query_buffer_limit_closes_client(server: ServerProcess, reference: RedisProcess, which: str) -> None:
    proc = server if which == "sentrykv" else reference
    admin = proc.client()
    admin.config_set("client-query-buffer-limit", "1mb")
    try:
        with RawConn(proc.port) as conn:
            conn.send(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$4000000\r\n")
            closed = False
            try:
                for _ in range(60):  # up to ~3 MB of an unfinished 4 MB bulk
                    conn.send(b"z" * 50_000)
                    time.sleep(0.002)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            if not closed:
                _, closed = conn.read_until_closed(3.0)
            assert closed, "a client over client-query-buffer-limit must be disconnected"
        assert admin.ping()
        assert admin.exists("q") == 0
    finally:
        admin.config_set("client-query-buffer-limit", "1gb")
        admin.close()


# ---------------------------------------------------------------------------------------------
# Garbage never crashes the server

_TOKENS = [b"*", b"$", b"\r\n", b"\n", b"\r", b"-1", b"0", b"1", b"2", b"3", b"4", b"99999999999",
           b"PING", b"GET", b"SET", b"ECHO", b"k", b"\"", b"'", b"\\x", b" ", b"\x00", b"+", b":"]


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.one_of(st.binary(max_size=64), st.sampled_from(_TOKENS)), min_size=1, max_size=30))
def test_random_garbage_never_crashes(server: ServerProcess, chunks: list[bytes]) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=2)
    try:
        for chunk in chunks:
            if chunk:
                sock.sendall(chunk)
    except OSError:
        pass  # the server may already have closed us after a protocol error
    finally:
        sock.close()
    assert server.proc is not None and server.proc.poll() is None
    assert server_alive(server.port)
