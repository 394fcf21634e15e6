"""Batched recovery: WalScan.batches, ReplayClient.apply_batch, Durability.recover end to end.

The reader hands over verified frames in batches and the replay decodes a whole
batch with one hiredis feed (payloads joined by FRAME_END).  These tests pin
down what must not change with that: the same frames in the same order, nothing
at or after a bad frame, every frame boundary still checked, the fast path for
plain SETs agreeing with the command handlers.
"""

from __future__ import annotations

import os
import random

import pytest

from sentrykv_server.config import Config, build_config
from sentrykv_server.persistence.durability import (
    Durability,
    RecoveryFailed,
    ReplayClient,
    apply_payload,
)
from sentrykv_server.persistence.records import FEED_CHUNK, RecordError, encode_ops
from sentrykv_server.persistence.wal_format import encode_frame
from sentrykv_server.persistence.wal_reader import (
    BATCH_BYTES,
    WalCorruptionError,
    WalScan,
    iter_frames,
    recover_batches,
)
from sentrykv_server.persistence.wal_writer import WalWriter
from sentrykv_server.protocol.connection import Client
from sentrykv_server.server import Server
from sentrykv_server.store.digest import dataset_digest
from tests.types.test_replay import RecordingLog

from .walutil import flip_bit, frame_offsets, nonempty_segments, segments


def _write(directory: str, payloads: list[bytes], segment_max_bytes: int = 64 << 20) -> None:
    writer = WalWriter(directory, 1, segment_max_bytes=segment_max_bytes)
    for i, payload in enumerate(payloads):
        writer.append(payload)
        if i % 50 == 49:
            writer.write_buffered()
    writer.close()


def _mixed_payloads(n: int, seed: int = 7) -> list[bytes]:
    """Payloads from empty to several windows long, mostly small (the hot loop's diet)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.01:
            size = rng.randrange(BATCH_BYTES, 3 * BATCH_BYTES)
        elif roll < 0.02:
            size = 0
        else:
            size = rng.randrange(1, 300)
        out.append(bytes([i % 251]) * size)
    return out


def _collect(scan: WalScan) -> list[tuple[int, list[bytes]]]:
    got: list[tuple[int, list[bytes]]] = []
    try:
        for first, payloads in scan.batches():
            got.append((first, list(payloads)))
    except WalCorruptionError:
        got.append((-1, []))
    return got


@pytest.mark.parametrize("segment_max_bytes", [64 << 20, 40_000])
def test_batches_hold_every_frame_in_order_and_stay_small(tmp_path, segment_max_bytes: int) -> None:
    d = str(tmp_path)
    payloads = _mixed_payloads(3000)
    _write(d, payloads, segment_max_bytes)
    batches = _collect(WalScan(d, 0))
    lsn = 1
    for first, batch in batches:
        assert first == lsn and batch, "batches are consecutive and never empty"
        size = sum(map(len, batch))
        assert len(batch) == 1 or size < 2 * BATCH_BYTES, (first, len(batch), size)
        lsn += len(batch)
    assert [p for _f, b in batches for p in b] == payloads
    assert [p for _lsn, p in iter_frames(d)] == payloads
    # Several batches per segment: the hot loop really ran.
    assert len(batches) > len(nonempty_segments(d)) * 2


@pytest.mark.parametrize("after", [0, 1, 777, 1999, 2000])
def test_batches_start_after_lsn(tmp_path, after: int) -> None:
    d = str(tmp_path)
    payloads = [b"p%d" % i * 40 for i in range(1, 2001)]
    _write(d, payloads)
    scan = WalScan(d, after)
    got = _collect(scan)
    assert [p for _f, b in got for p in b] == payloads[after:]
    if after < 2000:
        assert got[0][0] == after + 1
        assert scan.report.first_lsn == after + 1 and scan.report.frames_applied == 2000 - after
    assert scan.report.last_lsn == 2000


@pytest.mark.parametrize("where", [5, 400, 1500])
def test_nothing_at_or_after_a_damaged_frame_is_handed_over(tmp_path, where: int) -> None:
    """A CRC mismatch with valid frames behind it: earlier frames only, then the error."""
    d = str(tmp_path)
    payloads = [b"x%d" % i * 20 for i in range(1, 2001)]
    _write(d, payloads)
    (seg,) = segments(d)
    offset = frame_offsets(seg)[where - 1]
    flip_bit(seg, offset + 20, 3)  # inside the payload of frame `where`
    got = _collect(WalScan(d, 0))
    assert got[-1] == (-1, []), "the damage must be reported"
    assert [p for _f, b in got[:-1] for p in b] == payloads[: where - 1]


def test_wrong_lsn_with_valid_crc_mid_segment(tmp_path) -> None:
    """A frame that verifies but carries the wrong LSN, where the hot loop reads."""
    d = str(tmp_path)
    payloads = [b"z%d" % i * 20 for i in range(1, 2001)]
    _write(d, payloads)
    (seg,) = segments(d)
    offset = frame_offsets(seg)[999]
    with open(seg, "r+b") as fh:
        fh.seek(offset)
        fh.write(encode_frame(1005, payloads[999]))  # same length, valid CRC, LSN 1005
    got = _collect(WalScan(d, 0))
    assert got[-1] == (-1, [])
    assert [p for _f, b in got[:-1] for p in b] == payloads[:999]
    with pytest.raises(WalCorruptionError, match="LSN 1005, expected 1000"):
        list(iter_frames(d))


def test_torn_last_frame_ends_the_batches(tmp_path) -> None:
    d = str(tmp_path)
    payloads = [b"y%d" % i * 30 for i in range(1, 1501)]
    _write(d, payloads)
    (seg,) = segments(d)
    last_frame = frame_offsets(seg)[-1]
    with open(seg, "r+b") as fh:
        fh.truncate(os.path.getsize(seg) - 7)
    scan = WalScan(d, 0)
    got = _collect(scan)
    assert [p for _f, b in got for p in b] == payloads[:-1]
    assert scan.report.torn is not None and scan.report.torn.offset == last_frame


def test_recover_batches_progress(tmp_path) -> None:
    d = str(tmp_path)
    _write(d, [b"%d" % i for i in range(140_000)])
    calls: list[int] = []
    seen = 0

    def apply(first: int, payloads: list[bytes]) -> None:
        nonlocal seen
        assert first == seen + 1
        seen += len(payloads)

    report = recover_batches(d, apply, progress=lambda n, _b: calls.append(n))
    assert seen == report.frames_applied == 140_000
    assert len(calls) == 2 and 65536 <= calls[0] < 65536 + 4096 and 131072 <= calls[1]


# -- ReplayClient.apply_batch -------------------------------------------------------------


def _server() -> Server:
    server = Server(Config())
    server.keyspace.loading = True
    return server


def _set(db: int, key: bytes, value: bytes) -> bytes:
    return encode_ops([(db, [b"SET", key, value])])


def test_fast_path_agrees_with_handlers_across_dbs_ttl_swap_and_flush() -> None:
    server = _server()
    client = ReplayClient(server)
    frames = [
        _set(0, b"a", b"1"),
        encode_ops([(0, [b"PEXPIREAT", b"a", b"99999999999999"])]),
        _set(0, b"a", b"2"),  # a plain SET drops the TTL (bulk path, expires now non-empty)
        encode_ops([(0, [b"PEXPIREAT", b"a", b"99999999999999"]), (1, [b"set", b"b", b"x"])]),
        _set(1, b"c", b"y"),
        encode_ops([(0, [b"SWAPDB", b"0", b"1"])]),  # the cached dicts must be looked up again
        _set(0, b"d", b"z"),
        _set(1, b"e", b"w"),
        encode_ops([(1, [b"FLUSHDB"])]),
        _set(1, b"f", b"v"),
        encode_ops([(3, [b"SET", b"g", b"u", b"PX", b"100000"])]),
        _set(3, b"g", b"t"),
    ]
    client.apply_batch(frames, 1)
    db0, db1, db3 = (server.keyspace.dbs[i] for i in (0, 1, 3))
    assert db0.data == {b"b": b"x", b"c": b"y", b"d": b"z"} and not db0.expires
    assert db1.data == {b"f": b"v"} and not db1.expires
    assert db3.data == {b"g": b"t"} and not db3.expires
    # One frame at a time gives the same.
    other = _server()
    one = ReplayClient(other)
    for frame in frames:
        apply_payload(other, one, frame)
    assert dataset_digest(other.keyspace) == dataset_digest(server.keyspace)


def test_large_frame_is_fed_in_pieces() -> None:
    ops = [(0, [b"SET", b"k%05d" % i, b"v" * (i % 50)]) for i in range(6000)]
    ops.insert(3000, (0, [b"DEL", b"k00007"]))
    ops.append((2, [b"SET", b"big", os.urandom(3 * FEED_CHUNK + 5)]))
    payload = encode_ops(ops)
    assert len(payload) > 10 * FEED_CHUNK
    server = _server()
    client = ReplayClient(server)
    client.apply_batch([payload], 10)
    data = server.keyspace.dbs[0].data
    assert len(data) == 5999 and b"k00007" not in data and data[b"k05999"] == b"v" * 49
    assert server.keyspace.dbs[2].data[b"big"] == ops[-1][1][2]
    client.apply_batch([_set(0, b"after", b"1")])  # the reader is left clean
    assert data[b"after"] == b"1"


@pytest.mark.parametrize("chunks", [1, 2, 3])
def test_frame_of_exactly_whole_feed_chunks(chunks: int) -> None:
    n = chunks * FEED_CHUNK - 40
    while len(_set(0, b"key", b"v" * n)) < chunks * FEED_CHUNK:
        n += 1
    payload = _set(0, b"key", b"v" * n)
    assert len(payload) == chunks * FEED_CHUNK
    server = _server()
    client = ReplayClient(server)
    client.apply_batch([payload], 1)  # a large frame comes in a batch of its own
    client.apply_batch([_set(0, b"k2", b"x")], 2)
    assert server.keyspace.dbs[0].data == {b"key": b"v" * n, b"k2": b"x"}


@pytest.mark.parametrize(
    "bad",
    [
        b":0\r\n",  # not an op (and equal to False)
        b":-1\r\n",  # looks like FRAME_END
        b"*1\r\n$1\r\n0\r\n",  # no command
        b"*3\r\n$1\r\nx\r\n$3\r\nDEL\r\n$1\r\nk\r\n",  # bad db field
        b"*3\r\n$1\r\n0\r\n$3\r\nDEL\r\n:5\r\n",  # non-bulk argument
        b"*3\r\n$1\r\n0\r\n$3\r\nDEL\r\n",  # ends inside an op
        b"*3\r\n$1\r\n0\r\n$3\r\nDEL\r\n$10\r\nab",  # ends inside a bulk string
        b"?garbage\r\n",  # not RESP
        # hiredis builds a RESP3 map as a dict: an array as key raised TypeError (atheris)
        b"%1\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"*3\r\n$1\r\n0\r\n$3\r\nDEL\r\n%1\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n",
    ],
)
def test_bad_payload_is_refused_and_names_its_frame(bad: bytes) -> None:
    server = _server()
    client = ReplayClient(server)
    before = [_set(0, b"k%d" % i, b"v") for i in range(5)]
    where = "LSN 101..107" if bad == b":-1\r\n" else "LSN 106\\)"
    with pytest.raises(RecordError, match=where):
        client.apply_batch([*before, bad, _set(0, b"z", b"1")], 101)
    # Fed data of the failed batch is dropped: the next batch starts clean.
    client.apply_batch([_set(0, b"fresh", b"1")])
    assert server.keyspace.dbs[0].data[b"fresh"] == b"1"


def test_op_split_across_two_frames_is_refused() -> None:
    """The bytes of the two frames joined are valid ops; each frame alone is not."""
    whole = _set(0, b"key", b"value")
    server = _server()
    with pytest.raises(RecordError, match="LSN 8"):
        ReplayClient(server).apply_batch([whole, whole[:20], whole[20:]], 7)


def test_unknown_command_and_missing_db_fail_recovery() -> None:
    server = _server()
    with pytest.raises(RecoveryFailed, match="unknown command"):
        ReplayClient(server).apply_batch([encode_ops([(0, [b"NOSUCHCMD", b"k"])])])
    with pytest.raises(RecoveryFailed, match="databases"):
        ReplayClient(server).apply_batch([_set(200, b"k", b"v")])


# -- Durability.recover end to end ----------------------------------------------------------


def _live_frames(n: int) -> tuple[Server, list[bytes]]:
    """Run a mixed workload on a live server; return it and the frames it logged."""
    live = Server(Config())
    log = RecordingLog()
    log.attach(live)
    client = Client(live)
    rng = random.Random(3)
    for i in range(n):
        key = b"k%d" % rng.randrange(300)
        roll = rng.randrange(12)
        if roll == 0:
            cmd = [b"DEL", key]
        elif roll == 1:
            cmd = [b"EXPIRE", key, b"1000"]
        elif roll == 2:
            cmd = [b"SELECT", b"%d" % rng.randrange(3)]
        elif roll == 3:
            cmd = [b"INCR", b"n%d" % rng.randrange(5)]
        elif roll == 4:
            cmd = [b"HSET", b"h", key, b"%d" % i]
        elif roll == 5 and i % 97 == 0:
            cmd = [b"SWAPDB", b"0", b"1"]
        elif roll == 6:
            cmd = [b"set", key, b"lower%d" % i]
        else:
            cmd = [b"SET", key, b"v%d" % i]
        client.execute(cmd)
        client.out.clear()
    return live, log.frames


@pytest.mark.parametrize("per_frame", [1, 16])
def test_recover_rebuilds_the_live_dataset(tmp_path, per_frame: int) -> None:
    live, frames = _live_frames(6000)
    # Regroup ops as a server under load would (several commands per frame).
    from sentrykv_server.persistence.records import decode_ops

    ops = [op for frame in frames for op in decode_ops(frame)]
    payloads = [encode_ops(ops[i : i + per_frame]) for i in range(0, len(ops), per_frame)]
    d = str(tmp_path)
    _write(d, payloads, segment_max_bytes=20_000)
    assert len(nonempty_segments(d)) > 3
    server = Server(build_config(["--dir", d]))
    assert Durability.recover(server, d, enabled=False) is None
    assert server.recovery_info["wal_frames"] == len(payloads)
    assert server.last_lsn == len(payloads)
    assert dataset_digest(server.keyspace) == dataset_digest(live.keyspace)
    assert not server.keyspace.loading


def test_recover_reports_an_undecodable_frame_by_lsn(tmp_path) -> None:
    d = str(tmp_path)
    payloads = [_set(0, b"k%d" % i, b"v") for i in range(1, 3001)]
    payloads[2000] = b"*3\r\n$1\r\n0\r\n$3\r\nDEL\r\n"  # valid CRC, not a whole op
    _write(d, payloads)
    server = Server(build_config(["--dir", d]))
    with pytest.raises(RecoveryFailed, match="LSN 2001"):
        Durability.recover(server, d, enabled=False)
    assert not server.keyspace.loading
