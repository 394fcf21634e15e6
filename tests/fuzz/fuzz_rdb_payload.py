"""Coverage-guided fuzzing of the RDB decoder with atheris (libFuzzer for Python).

Run (not part of the test suite; it runs until stopped or -atheris_runs)::

    .venv/bin/python tests/fuzz/fuzz_rdb_payload.py -atheris_runs=200000 [corpus_dir]

Each input is taken as a DUMP payload body: the harness appends a valid
footer, so the fuzzer explores the decoder rather than the checksum, and also
feeds the raw bytes through the footer check.  Anything but a value or an
RdbError (an IndexError, a MemoryError, a hang) is a bug; libFuzzer reports
it with the input that caused it.  Seeds: every type and encoding this
encoder writes plus the pre-7.0 encodings, streams (types 15 and 19) and malformed
stream payloads (see _seeds()).
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from sentrykv_server.persistence.rdb import payload as rdb_payload
    from sentrykv_server.persistence.rdb.constants import RdbError
    from sentrykv_server.persistence.rdb.crc64 import crc64
    from sentrykv_server.persistence.rdb.decode import Limits

LIMITS = Limits()


def seal(body: bytes) -> bytes:
    head = body + struct.pack("<H", 10)
    return head + struct.pack("<Q", crc64(head, 0))


def test_one(data: bytes) -> None:
    for candidate in (seal(data), data):
        try:
            rdb_payload.restore(candidate, LIMITS)
        except RdbError:
            pass


def _seeds() -> list[bytes]:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    from sentrykv_server.store.hashes import Hash
    from sentrykv_server.store.lists import QuickList
    from sentrykv_server.store.sets import new_set
    from sentrykv_server.store.zset import ZSet
    from tests.rdb.legacy_build import legacy_objects

    values: list[object] = [b"hello", b"12345", b"abc" * 50, QuickList([b"1", b"a" * 70]),
                            Hash({b"f": b"v", b"n": b"7"}), new_set([b"1", b"2"], 512),
                            new_set([b"a", b"b"], 512)]
    z = ZSet()
    z.insert(b"m", 1.5, 128, 64)
    big = ZSet()
    for i in range(200):
        big.insert(b"m%d" % i, float(i), 128, 64)
    values += [z, big, *_streams()]
    seeds = [rdb_payload.dump(v, LIMITS)[:-10] for v in values]
    return seeds + list(legacy_objects().values()) + _stream_seeds()


def _streams() -> list[object]:
    """Streams: one node and several, deleted entries, groups with PELs and consumers."""
    from sentrykv_server.store.stream import Group, Stream

    small, many = Stream(), Stream()
    small.append(1 << 64 | 1, [b"f", b"v", b"n", b"7"], 4096, 100)
    small.append(2 << 64, [b"other", b"x" * 30], 4096, 100)
    for i in range(250):
        many.append(5 << 64 | i, [b"f", b"%d" % i], 4096, 100)
    many.delete(5 << 64 | 3)
    many.delete(5 << 64 | 249)
    group = many.groups[b"g"] = Group(b"g", 5 << 64 | 20, 20)
    alice = group.create_consumer(b"alice", 1700000000000)
    group.create_consumer(b"bob", 1700000000001)
    for i in (1, 3, 7):
        group.assign(5 << 64 | i, alice, 1700000000000 + i, i)
    empty = Stream()
    empty.groups[b"e"] = Group(b"e", 0, 0)
    return [small, many, empty]


def _stream_seeds() -> list[bytes]:
    """Hand-made stream objects (type 15 among them) and the hostile shapes of tests/rdb."""
    from tests.rdb.test_stream_rdb import GROUP, NODE, _hostile, _id, stream_payload

    seeds = [stream_payload([(_id(5, 1), NODE)], 2, (5, 3), [GROUP], rdb_type=t)[:-10] for t in (15, 19)]
    return seeds + [payload[:-10] for payload, _how in _hostile().values()]


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = tempfile.mkdtemp(prefix="rdb-fuzz-corpus-")
        for i, seed in enumerate(_seeds()):
            with open(os.path.join(corpus, f"seed{i}"), "wb") as fh:
                fh.write(seed)
        args.append(corpus)
    atheris.Setup(args, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
