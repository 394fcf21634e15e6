"""Coverage-guided fuzzing of the RDB decoder with atheris (libFuzzer for Python).

Run (not part of the test suite; it runs until stopped or -atheris_runs)::

    .venv/bin/python tests/fuzz/fuzz_rdb_payload.py -atheris_runs=200000 [corpus_dir]

Each input is taken as a DUMP payload body: the harness appends a valid
footer, so the fuzzer explores the decoder rather than the checksum, and also
feeds the raw bytes through the footer check.  Anything but a value or an
RdbError (an IndexError, a MemoryError, a hang) is a bug; libFuzzer reports
it with the input that caused it.  Seeds: every type and encoding this
encoder writes plus the pre-7.0 encodings (see _seeds()).
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
    values += [z, big]
    seeds = [rdb_payload.dump(v, LIMITS)[:-10] for v in values]
    return seeds + list(legacy_objects().values())


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
