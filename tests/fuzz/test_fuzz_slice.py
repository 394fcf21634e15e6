"""A few seconds of each fuzzer inside the test suite (``make fuzz`` runs the long version).

The request fuzzers run against real processes (SentryKV and the reference redis-server);
the parser targets run on a fixed pseudo-random corpus (atheris drives the same targets
coverage-guided in ``make fuzz-coverage``).
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sentrykv_server.persistence import records
from tests.fuzz.coverage import targets
from tests.fuzz.differential import DiffFuzzer
from tests.fuzz.protocol import ProtoFuzzer, Watchdog
from tests.support.procs import ROOT, RedisProcess, ServerProcess


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, RedisProcess]]:
    skv = ServerProcess(args=["--appendonly", "yes"]).start()
    ref = RedisProcess(args=["--enable-debug-command", "yes", "--sanitize-dump-payload", "yes"]).start()
    yield skv, ref
    for proc in (skv, ref):
        proc.stop()
        proc.cleanup()


def test_differential_slice(pair: tuple[ServerProcess, RedisProcess]) -> None:
    skv, ref = pair
    fuzzer = DiffFuzzer(skv.port, ref.port, seed=20261202)
    try:
        stats = fuzzer.run(4000, digest_every=1000)
    finally:
        fuzzer.close()
    assert stats.requests >= 4000 and stats.digest_checks >= 4
    assert (stats.mismatches, stats.state_mismatches, stats.hangs, stats.crashes) == (0, 0, 0, 0), stats.examples


def test_protocol_slice(pair: tuple[ServerProcess, RedisProcess]) -> None:
    skv, ref = pair
    watchdog = Watchdog(skv.port)
    watchdog.start()
    try:
        stats = ProtoFuzzer(skv.port, seed=7, ref_port=ref.port).run(2500)
    finally:
        watchdog.stop()
    assert stats.failures == 0, stats.examples
    assert watchdog.pings > 0 and watchdog.late == 0 and watchdog.failed == 0
    assert skv.proc is not None and skv.proc.poll() is None


def _corpus(seed: int, n: int) -> Iterator[bytes]:
    rnd = random.Random(seed)
    seeds = [b"*1\r\n$4\r\nPING\r\n", b"SET a b\r\nGET a\r\n", b'SET "a\\x00" \'b\'\r\n', b"*2\r\n$3\r\nGET\r\n",
             b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*600000000\r\n", b"*-5\r\n*20\r\n$1\r\na\r\n",
             records.encode_ops([(0, [b"SET", b"k", b"v"]), (3, [b"DEL", b"x"])]), bytes(range(256))]
    for _ in range(n):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(0, 4)):
            pos = rnd.randrange(len(data) + 1)
            data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 6)))
            if data and rnd.random() < 0.3:
                del data[rnd.randrange(len(data))]
        yield bytes(data)


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_parser_targets_on_a_corpus(name: str) -> None:
    target = targets.TARGETS[name]
    for data in _corpus(hash(name) & 0xFFFF, 250):
        target(data)  # anything but the parser's own error class is a bug


def test_atheris_drives_a_target() -> None:
    result = subprocess.run([sys.executable, "-m", "tests.fuzz.coverage.main", "wal_records", "-runs=3000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done 3000 runs" in result.stderr
