"""The snapshot file on its own: every type round-trips, damage is always detected and
named, a damaged file never leaks into the keyspace, the offline verifier reports it."""

from __future__ import annotations

import io
import os
import random

import pytest

from sentrykv_server.persistence import snapshot
from sentrykv_server.persistence.snapshot import SnapshotError, SnapshotWriter
from sentrykv_server.store.hashes import Hash
from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.store.lists import QuickList
from sentrykv_server.store.sets import RedisSet
from sentrykv_server.store.zset import ZSet
from tests.checkpoint.helpers import dump


def sample_keyspace() -> Keyspace:
    """Every registered type, binary and empty keys/values, big values, TTLs, several dbs."""
    rng = random.Random(7)
    ks = Keyspace(16)
    db = ks.dbs[0]
    for i in range(500):
        db.set(b"str:%d" % i, b"value-%d" % i)
    db.set(b"bin\x00\xff\r\nkey", bytes(range(256)))
    db.set(b"", b"")
    db.set(b"big", os.urandom(300_000))
    h = Hash({b"f%d" % i: b"v%d" % i for i in range(50)})
    h[b"\x00"] = b""
    h.big = True
    db.add(b"hash", h)
    db.add(b"small-hash", Hash({b"a": b"1"}))
    db.add(b"list", QuickList([b"x", b"", b"x", bytes([0, 255])]))
    s = RedisSet([b"1", b"2", b"-3"])
    db.add(b"intset", s)
    s2 = RedisSet([b"a", b"\x00b"])
    s2.big = True
    db.add(b"set", s2)
    z = ZSet()
    for i in range(40):
        z.insert(b"m%d" % i, rng.uniform(-1e6, 1e6), 128, 64)
    z.insert(b"inf", float("inf"), 128, 64)
    z.insert(b"-inf", float("-inf"), 128, 64)
    z.insert(b"zero", 0.0, 128, 64)
    db.add(b"zset", z)
    db.set_expire(b"str:1", 4_000_000_000_000)
    db.set_expire(b"hash", 1)  # long expired: still stored, the WAL decides
    ks.dbs[5].set(b"other", b"db5")
    ks.dbs[15].add(b"l15", QuickList([b"only"]))
    ks.dbs[15].set_expire(b"l15", 5_000_000_000_000)
    return ks


def write_snapshot(directory: str, ks: Keyspace, per_block: int = 64, generation: int = 1, lsn: int = 99) -> str:
    table = snapshot.encoders()
    writer = SnapshotWriter(directory, generation, lsn, len(ks.dbs))
    writer.open()
    for db in ks.dbs:
        keys = list(db.data)
        for lo in range(0, len(keys), per_block):
            chunk = keys[lo: lo + per_block]
            values = [db.data[k] for k in chunk]
            idx = [i for i, k in enumerate(chunk) if k in db.expires]
            flags, parts = snapshot.encode_entries(chunk, values, idx, [db.expires[chunk[i]] for i in idx], table)
            writer.write_block(db.id, len(chunk), flags, b"".join(parts))
    writer.finish()
    return writer.path


def test_round_trip_every_type(tmp_path: object) -> None:
    ks = sample_keyspace()
    path = write_snapshot(str(tmp_path), ks)
    assert os.path.basename(path) == "ckpt-0000000001-00000000000000000099.snap"
    fresh = Keyspace(16)
    loaded = snapshot.load_latest(str(tmp_path), fresh)
    assert loaded is not None and loaded.lsn == 99 and loaded.generation == 1
    assert loaded.entries == sum(len(db.data) for db in ks.dbs)
    assert dump(fresh) == dump(ks)
    # Encoding flags and classes survive, not just contents.
    d0 = fresh.dbs[0].data
    assert d0[b"hash"].big and not d0[b"small-hash"].big
    assert d0[b"set"].big and not d0[b"intset"].big
    assert type(d0[b"list"]) is QuickList and type(d0[b"zset"]) is ZSet
    assert list(d0[b"zset"].order) == list(ks.dbs[0].data[b"zset"].order)
    # The expiry heap is rebuilt so active expiry sees loaded TTLs.
    assert (1, 0, b"hash") in fresh.expiry_heap


def test_unjoined_parts_in_batches_beyond_iov_max(tmp_path: object) -> None:
    """write_blocks takes encode_entries parts as they are, several blocks per call, and
    more parts than one writev accepts: the file is the same as block by block."""
    ks = sample_keyspace()
    table = snapshot.encoders()
    writer = SnapshotWriter(str(tmp_path), 1, 99, len(ks.dbs))
    writer.open()
    batch: list[snapshot.Block] = []
    for db in ks.dbs:
        keys = list(db.data)
        for lo in range(0, len(keys), 50):
            chunk = keys[lo: lo + 50]
            idx = [i for i, k in enumerate(chunk) if k in db.expires]
            flags, parts = snapshot.encode_entries(
                chunk, [db.data[k] for k in chunk], idx, [db.expires[chunk[i]] for i in idx], table
            )
            body = b"".join(parts)
            pieces = [body[i: i + 7] for i in range(0, len(body), 7)] + [b""]  # many small parts
            batch.append((db.id, len(chunk), flags, pieces))
    assert sum(len(parts) for *_, parts in batch) > 3 * snapshot.IOV_MAX
    writer.write_blocks(batch[:3])
    writer.write_blocks(batch[3:])
    writer.finish()
    ref = os.path.join(str(tmp_path), "ref")
    os.makedirs(ref)
    by_block = write_snapshot(ref, ks, per_block=50)
    with open(writer.path, "rb") as fa, open(by_block, "rb") as fb:
        a, b = fa.read(), fb.read()
    end = len(b) - snapshot.TRAILER_BLOCK_SIZE  # the trailer's file CRC covers created_ms
    assert len(a) == len(b) and a[snapshot.HEADER_SIZE: end] == b[snapshot.HEADER_SIZE: end]
    fresh = Keyspace(16)
    assert snapshot.load_latest(str(tmp_path), fresh) is not None
    assert dump(fresh) == dump(ks)


def test_newest_generation_wins(tmp_path: object) -> None:
    a, b = Keyspace(16), Keyspace(16)
    a.dbs[0].set(b"k", b"old")
    b.dbs[0].set(b"k", b"new")
    write_snapshot(str(tmp_path), b, generation=2, lsn=10)
    write_snapshot(str(tmp_path), a, generation=1, lsn=10)  # same LSN (appendonly off), older
    fresh = Keyspace(16)
    snapshot.load_latest(str(tmp_path), fresh)
    assert fresh.dbs[0].data[b"k"] == b"new"


def test_no_snapshot_and_leftover_tmp_are_ignored(tmp_path: object) -> None:
    (tmp_path / "ckpt-0000000003-00000000000000000001.snap.tmp").write_bytes(b"half")  # type: ignore[operator]
    (tmp_path / "notes.snap.bak").write_bytes(b"x")  # type: ignore[operator]
    assert snapshot.load_latest(str(tmp_path), Keyspace(16)) is None


def test_every_bit_flip_is_detected(tmp_path: object) -> None:
    ks = Keyspace(16)
    for i in range(20):
        ks.dbs[i % 3].set(b"k%d" % i, b"v%d" % i)
    ks.dbs[0].add(b"h", Hash({b"f": b"v"}))
    ks.dbs[0].set_expire(b"k0", 12345)
    path = write_snapshot(str(tmp_path), ks, per_block=7)
    data = open(path, "rb").read()
    for pos in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[pos] ^= 1 << bit
            with pytest.raises(SnapshotError):
                snapshot.parse(bytes(damaged), path)


def test_every_truncation_and_appended_garbage_is_detected(tmp_path: object) -> None:
    ks = Keyspace(16)
    for i in range(30):
        ks.dbs[0].set(b"k%d" % i, b"v" * i)
    path = write_snapshot(str(tmp_path), ks, per_block=8)
    data = open(path, "rb").read()
    for cut in range(len(data)):
        with pytest.raises(SnapshotError) as exc:
            snapshot.parse(data[:cut], path)
        assert path in str(exc.value)
    with pytest.raises(SnapshotError, match="after the trailer|block"):
        snapshot.parse(data + b"\x00", path)


def test_damaged_snapshot_leaves_the_keyspace_untouched(tmp_path: object) -> None:
    ks = sample_keyspace()
    path = write_snapshot(str(tmp_path), ks)
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:  # damage near the end: most blocks decode fine first
        fh.seek(size - 100)
        byte = fh.read(1)
        fh.seek(size - 100)
        fh.write(bytes([byte[0] ^ 0x40]))
    target = Keyspace(16)
    target.dbs[0].set(b"before", b"1")
    with pytest.raises(SnapshotError) as exc:
        snapshot.load_latest(str(tmp_path), target)
    message = str(exc.value)
    assert path in message and "offset" in message and "sentrykv-check" in message
    assert dump(target) == {(0, b"before"): ("string", b"1", None)}


def test_too_few_databases_is_refused(tmp_path: object) -> None:
    ks = Keyspace(16)
    ks.dbs[9].set(b"k", b"v")
    write_snapshot(str(tmp_path), ks)
    with pytest.raises(SnapshotError, match="database 9"):
        snapshot.load_latest(str(tmp_path), Keyspace(4))


def test_renamed_file_is_refused(tmp_path: object) -> None:
    ks = Keyspace(16)
    ks.dbs[0].set(b"k", b"v")
    path = write_snapshot(str(tmp_path), ks, generation=1, lsn=5)
    os.rename(path, os.path.join(str(tmp_path), snapshot.snapshot_name(2, 5)))
    with pytest.raises(SnapshotError, match="file name"):
        snapshot.load_latest(str(tmp_path), Keyspace(16))


def test_separator_and_length_sections() -> None:
    text = [b"a", b"", b"key:1"]
    assert snapshot.encode_section(text)[0][0] == snapshot.MODE_SEP
    both = [b"\x00", b"\xff"]  # both separators taken: lengths
    assert snapshot.encode_section(both)[0][0] == snapshot.MODE_LEN32
    for items in (text, both, [b""], [b"\x00\x00"], [os.urandom(5000) for _ in range(3)]):
        body = b"".join(snapshot.encode_section(items))
        got, end = snapshot._decode_section(body, memoryview(body), 0, len(body), len(items))
        assert got == items and end == len(body)


def test_unknown_types_are_refused_when_encoding() -> None:
    with pytest.raises(TypeError, match="no snapshot encoding"):
        snapshot.encode_entries([b"k"], [object()], [], [], snapshot.encoders())
    assert snapshot.unsupported_types() == []


def test_verify_and_check_report(tmp_path: object) -> None:
    from sentrykv_server.tools.check import CheckContext, check_directory

    ks = sample_keyspace()
    path = write_snapshot(str(tmp_path), ks)
    rep = snapshot.verify(path)
    assert rep.ok and rep.lsn == 99 and rep.entries == sum(len(db.data) for db in ks.dbs)
    assert rep.db_keys == {0: len(ks.dbs[0].data), 5: 1, 15: 1}
    assert rep.types["hash"] == 2 and rep.types["zset"] == 1 and rep.expiring == 3
    out = io.StringIO()
    ctx = CheckContext(str(tmp_path), out)
    snapshot.check_snapshots(ctx)
    assert ctx.base_lsn == 99 and not ctx.problems
    # Damage: the checker names the file and offset and the directory is DAMAGED.
    with open(path, "r+b") as fh:
        fh.seek(60)
        b = fh.read(1)
        fh.seek(60)
        fh.write(bytes([b[0] ^ 1]))
    out = io.StringIO()
    assert check_directory(str(tmp_path), out=out) == 1
    text = out.getvalue()
    assert f"first bad offset: {path}:48" in text and "status: DAMAGED" in text
