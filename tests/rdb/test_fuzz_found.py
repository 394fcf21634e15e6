"""RDB payload cases the differential fuzzer found (tests/fuzz/gen_data.py), against redis-server."""

from __future__ import annotations

import redis

from sentrykv_server.persistence.rdb.crc64 import crc64


def _payload(body: bytes) -> bytes:
    head = body + b"\x0a\x00"  # RDB version 10
    return head + crc64(head, 0).to_bytes(8, "little")


def test_lzf_string_declared_empty_loads_as_empty(r: redis.Redis, ref: redis.Redis) -> None:
    # type 0 (string), LZF (0xc3), compressed length 9, declared uncompressed length 0
    for compressed in (b"\x01xx\xe0W\x00\x01xx", b"", b"\x00"):
        payload = _payload(b"\x00\xc3" + bytes([len(compressed)]) + b"\x00" + compressed)
        results = []
        for client in (ref, r):
            try:
                results.append((client.restore("k", 0, payload, replace=True), client.get("k")))
            except redis.ResponseError as exc:
                results.append((str(exc), None))
        assert results[0] == results[1], (compressed, results)
        assert results[0] == (b"OK", b"")


def test_lzf_with_a_wrong_nonzero_length_is_still_refused(r: redis.Redis, ref: redis.Redis) -> None:
    payload = _payload(b"\x00\xc3\x09\x05\x01xx\xe0W\x00\x01xx")  # declared 5, decodes to 100
    for client in (ref, r):
        try:
            client.restore("k", 0, payload, replace=True)
        except redis.ResponseError as exc:
            assert "Bad data format" in str(exc)
        else:
            raise AssertionError(f"accepted by {client}")
