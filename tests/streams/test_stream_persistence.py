"""Streams in the WAL and in snapshots, in-process: every logged effect replays to the same
stream (DEBUG DIGEST covers entries, node layout, counters, groups, PELs with owners,
delivery times and counts, consumers), snapshots keep everything (seen-times too),
damaged encodings are refused, and version-1 snapshot files still load."""

from __future__ import annotations

import os
import random
import shutil

import pytest

from sentrykv_server.config import Config
from sentrykv_server.persistence import snapshot
from sentrykv_server.persistence.durability import ReplayClient, apply_payload
from sentrykv_server.protocol.connection import Client
from sentrykv_server.server import Server
from sentrykv_server.store.digest import dataset_digest
from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.store.stream import Stream
from sentrykv_server.store.types import TYPES
from tests.checkpoint.test_snapshot_format import write_snapshot
from tests.types.test_replay import RecordingLog

DATA = os.path.join(os.path.dirname(__file__), "data")


def _node_entries(seed: int) -> int:
    return [3, 7, 100][seed % 3]


def _workload(seed: int, n: int = 400) -> list[list[bytes]]:
    """A mix of every stream write, with explicit and generated IDs."""
    rnd = random.Random(seed)
    cmds: list[list[str]] = [["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"],
                             ["XGROUP", "CREATE", "s", "h", "$", "ENTRIESREAD", "0"]]
    for _ in range(n):
        op = rnd.random()
        consumer = f"c{rnd.randint(1, 4)}"
        group = rnd.choice(["g", "g", "h"])
        if op < 0.35:
            trim = rnd.choice([[], [], ["MAXLEN", "~", "20"], ["MAXLEN", "30"], ["MINID", "~", "0-5"]])
            cmds.append(["XADD", rnd.choice(["s", "s", "t"]), *trim, "*", "f", str(rnd.random()), "g", "x"])
        elif op < 0.5:
            cmds.append(["XREADGROUP", "GROUP", group, consumer, "COUNT", str(rnd.randint(1, 5)),
                         *(["NOACK"] if rnd.random() < 0.1 else []), "STREAMS", "s", ">"])
        elif op < 0.55:
            cmds.append(["XREADGROUP", "GROUP", group, consumer, "STREAMS", "s", "0"])
        elif op < 0.65:
            cmds.append(["XAUTOCLAIM", "s", group, consumer, "0", "0", "COUNT", str(rnd.randint(1, 4)),
                         *(["JUSTID"] if rnd.random() < 0.3 else [])])
        elif op < 0.7:
            cmds.append(["XCLAIM", "s", group, consumer, "0", "0-1", "1-0", *rnd.choice(
                [[], ["IDLE", "5000"], ["RETRYCOUNT", "9"], ["JUSTID"], ["FORCE"]])])
        elif op < 0.78:
            pel = ["XPENDING", "s", group, "-", "+", "3"]
            cmds.append(pel)
            cmds.append(["XACK_FROM_PENDING", group])
        elif op < 0.83:
            cmds.append(["XDEL_RANDOM"])
        elif op < 0.86:
            cmds.append(["XTRIM", "s", *rnd.choice([["MAXLEN", "~", "10"], ["MAXLEN", "25"], ["MINID", "~", "1"]])])
        elif op < 0.89:
            cmds.append(["XGROUP", rnd.choice(["CREATECONSUMER", "DELCONSUMER"]), "s", group, consumer])
        elif op < 0.91:
            cmds.append(["XGROUP", "SETID", "s", group, rnd.choice(["0", "$"]), "ENTRIESREAD", "-1"])
        elif op < 0.93:
            cmds.append(["XGROUP", "DESTROY", "s", "h"])
            cmds.append(["XGROUP", "CREATE", "s", "h", "0"])
        elif op < 0.95:
            cmds.append(["XSETID_TOP"])
        else:
            cmds.append(["MULTI"])
            cmds.append(["XADD", "s", "*", "m", "1"])
            cmds.append(["XREADGROUP", "GROUP", "g", consumer, "STREAMS", "s", ">"])
            cmds.append(["EXEC"])
    return [[a.encode() for a in c] for c in cmds]


def _server(seed: int = 0) -> Server:
    """A server with small stream nodes (the setting is configuration, not logged: the
    replaying server must have the same, as in Redis)."""
    config = Config()
    config.set_many([("stream-node-max-entries", str(_node_entries(seed)))])
    return Server(config)


def _run(server: Server, commands: list[list[bytes]], seed: int) -> None:
    """Execute the workload on ``server`` (the few pseudo-commands pick real IDs first)."""
    rnd = random.Random(seed)
    client = Client(server)
    for argv in commands:
        name = argv[0]
        if name == b"XACK_FROM_PENDING":
            s = server.keyspace.dbs[0].data.get(b"s")
            group = s.groups.get(argv[1]) if s is not None else None
            if group is None or not group.pel:
                continue
            ids = [b"%d-%d" % (p >> 64, p & (2**64 - 1)) for p in list(group.pel)[: rnd.randint(1, 3)]]
            argv = [b"XACK", b"s", argv[1], *ids]
        elif name == b"XDEL_RANDOM":
            s = server.keyspace.dbs[0].data.get(b"s")
            if s is None or not s.length:
                continue
            entries = list(s.entries())
            packed = rnd.choice(entries)[0]
            argv = [b"XDEL", b"s", b"%d-%d" % (packed >> 64, packed & (2**64 - 1))]
        elif name == b"XSETID_TOP":
            s = server.keyspace.dbs[0].data.get(b"s")
            if s is None:
                continue
            argv = [b"XSETID", b"s", b"%d-%d" % ((s.last_id >> 64) + 1, 0)]
        client.execute(argv)
        client.out.clear()


def _replayed(frames: list[bytes], seed: int) -> Server:
    replayed = _server(seed)
    replayed.keyspace.loading = True
    replay_client = ReplayClient(replayed)
    for frame in frames:
        apply_payload(replayed, replay_client, frame)
    replayed.keyspace.loading = False
    return replayed


@pytest.mark.parametrize("seed", range(8))
def test_replaying_the_log_reproduces_every_stream(seed: int) -> None:
    live = _server(seed)
    log = RecordingLog()
    log.attach(live)
    commands = _workload(seed)
    _run(live, commands, seed)
    s = live.keyspace.dbs[0].data[b"s"]
    assert s.groups and any(g.pel for g in s.groups.values()), "the workload left nothing pending"
    replayed = _replayed(log.frames, seed)
    assert dataset_digest(replayed.keyspace) == dataset_digest(live.keyspace)
    # Every frame decodes to commands the handlers accept: the log holds no XREADGROUP.
    assert not any(b"XREADGROUP" in frame or b"XAUTOCLAIM" in frame for frame in log.frames)


def _stream_state(s: Stream) -> tuple[bytes, dict[bytes, dict[bytes, int]]]:
    seen = {g: {c: con.seen_time for c, con in group.consumers.items()} for g, group in s.groups.items()}
    return TYPES[Stream].canonical(s), seen


def test_snapshot_keeps_every_piece_of_stream_state(tmp_path: object) -> None:
    live = _server(3)
    _run(live, _workload(3), 3)
    ks = live.keyspace
    directory = str(tmp_path)
    write_snapshot(directory, ks, per_block=1)
    fresh = Keyspace(16)
    snapshot.load_latest(directory, fresh)
    for key in (b"s", b"t"):
        before, after = ks.dbs[0].data[key], fresh.dbs[0].data[key]
        assert type(after) is Stream
        assert _stream_state(after) == _stream_state(before)
        assert [(n.master, n.last, n.deleted, n.size, n.fields) for n in after.nodes] == \
            [(n.master, n.last, n.deleted, n.size, n.fields) for n in before.nodes]
    assert dataset_digest(fresh) == dataset_digest(ks)
    report = snapshot.verify(snapshot.list_snapshots(directory)[-1][2])
    assert report.ok and report.types.get("stream") == 2


def test_damaged_stream_encoding_is_refused() -> None:
    live = _server(5)
    _run(live, _workload(5, 150), 5)
    s = live.keyspace.dbs[0].data[b"s"]
    code, encode = snapshot.encoders()[Stream]
    decode = snapshot.decoders()[code]
    blob = encode(s)
    assert TYPES[Stream].canonical(decode(blob)) == TYPES[Stream].canonical(s)
    for cut in (0, 10, len(blob) // 2, len(blob) - 1):
        with pytest.raises((ValueError, IndexError)):
            decode(blob[:cut])
    with pytest.raises(ValueError):
        decode(blob + b"\x00")


def test_version_1_snapshot_still_loads(tmp_path: object) -> None:
    """A file written by the version-1 code (before streams) loads unchanged."""
    name = "ckpt-0000000001-00000000000000000042.snap"
    with open(os.path.join(DATA, name), "rb") as fh:
        assert int.from_bytes(fh.read(12)[8:12], "little") == 1
    shutil.copy(os.path.join(DATA, name), str(tmp_path))
    ks = Keyspace(16)
    loaded = snapshot.load_latest(str(tmp_path), ks)
    assert loaded is not None and loaded.lsn == 42
    db = ks.dbs[0]
    assert db.data[b"str:7"] == b"value-7" and db.expires[b"str:3"] == 4_000_000_000_000
    assert dict(db.data[b"hash"]) == {b"f": b"v", b"g": b"w"}
    assert list(db.data[b"list"]) == [b"a", b"b", b""]
    assert set(db.data[b"set"]) == {b"1", b"2"}
    assert dict(db.data[b"zset"].scores) == {b"m": 1.5, b"n": -2.0}
    assert ks.dbs[3].data[b"other"] == b"db3"
    assert snapshot.verify(os.path.join(str(tmp_path), name)).ok


def test_copy_is_independent_and_fully_functional() -> None:
    """Stream.copy (what a checkpoint keeps before a write) shares the immutable pending
    tuples and copies sortedcontainers' sublists directly: both sides must stay usable and
    independent, with enough entries to span many sublists."""
    live = _server(7)
    client = Client(live)
    client.execute([b"XGROUP", b"CREATE", b"s", b"g", b"0", b"MKSTREAM"])
    for i in range(1, 5001):
        client.execute([b"XADD", b"s", b"%d-1" % i, b"f", b"%d" % i])
    client.execute([b"XREADGROUP", b"GROUP", b"g", b"a", b"COUNT", b"3000", b"STREAMS", b"s", b">"])
    client.execute([b"XREADGROUP", b"GROUP", b"g", b"b", b"STREAMS", b"s", b">"])
    original = live.keyspace.dbs[0].data[b"s"]
    before = TYPES[Stream].canonical(original)
    copy = original.copy()
    assert TYPES[Stream].canonical(copy) == before
    for argv in ([b"XACK", b"s", b"g", b"1-1", b"2500-1", b"4999-1"], [b"XCLAIM", b"s", b"g", b"b", b"0", b"10-1"],
                 [b"XGROUP", b"DELCONSUMER", b"s", b"g", b"a"], [b"XADD", b"s", b"9000-1", b"f", b"v"],
                 [b"XDEL", b"s", b"4000-1"], [b"XTRIM", b"s", b"MAXLEN", b"100"]):
        client.execute(argv)
    assert TYPES[Stream].canonical(copy) == before  # the copy kept the cut-time state
    group = copy.groups[b"g"]
    assert group.pel.keys()[0] == 1 << 64 | 1 and group.pel.keys()[-1] == 5000 << 64 | 1
    assert list(group.consumers[b"a"].pel.irange(2999 << 64, 3001 << 64)) == [2999 << 64 | 1, 3000 << 64 | 1]
    assert group.ack(1 << 64 | 1) and not group.ack(1 << 64 | 1)
    group.assign(7 << 64 | 1, group.consumers[b"b"], 5, 9)
    assert group.consumers[b"b"].pel.index(7 << 64 | 1) == 0 and len(group.pel) == 4999
    assert len(original.groups[b"g"].pel) == 2000  # b: 3001..5000 - 4999 acked + 10 claimed from a
