"""Every logged effect re-executes to the same state (the WAL contract, §5).

Generated command sequences run in-process on a server whose write-ahead log
is replaced by a recorder; the recorded frames are then encoded exactly as the
WAL stores them and replayed into a fresh server through the recovery path
(``apply_payload`` with ``keyspace.loading``).  The replayed dataset must have
the same DEBUG DIGEST (contents and expiry) and the same encodings as the
original — including after SPOP / SRANDMEMBER-style random effects, ZMPOP,
HINCRBYFLOAT and the *STORE commands.
"""

from __future__ import annotations

import pickle

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentrykv_server.config import Config
from sentrykv_server.persistence.durability import ReplayClient, apply_payload
from sentrykv_server.persistence.records import encode_ops
from sentrykv_server.protocol.connection import Client
from sentrykv_server.server import Server
from sentrykv_server.store.digest import dataset_digest
from sentrykv_server.store.types import TYPES
from tests.types import strategies as S
from tests.types.conftest import SMALL_LIMITS


class RecordingLog:
    """Records what the WAL would get: each committed unit (one command, or one EXEC),
    encoded as a frame payload.

    It listens on ``server.repl_feed``, the hook ``Server.commit_ops`` calls with exactly
    the ops it hands the WAL, rather than replacing ``server.aof``: that attribute is
    typed ``Durability`` and the compiled build checks it (docs/build.md).
    """

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def attach(self, server: Server) -> None:
        server.repl_feed = self.feed

    def feed(self, ops: list[tuple[int, list[bytes]]], client: object = None) -> None:
        self.frames.append(encode_ops(ops))


def _server() -> Server:
    config = Config()
    config.set_many(list(SMALL_LIMITS.items()))
    return Server(config)


def replay_log(log: RecordingLog, server: Server) -> Server:
    """Apply every recorded frame to ``server`` through the recovery path; returns it."""
    server.keyspace.loading = True
    replay_client = ReplayClient(server)
    for frame in log.frames:
        apply_payload(server, replay_client, frame)
    server.keyspace.loading = False
    return server


def _snapshot(server: Server) -> dict[tuple[int, bytes], str]:
    return {
        (db.id, key): TYPES[type(value)].encoding(value)
        for db in server.keyspace.dbs for key, value in db.data.items()
    }


def _run_and_replay(seq: list[tuple[S.Cmd, int]]) -> None:
    live = _server()
    log = RecordingLog()
    log.attach(live)
    client = Client(live)
    for cmd in S.PRELUDE + [(b"ZADD", b"zl", b"0", b"b")]:
        client.execute(list(cmd))
    for cmd, proto in seq:
        client.resp3 = proto == 3
        client.execute(list(cmd))
        client.out.clear()
    replayed = replay_log(log, _server())
    assert dataset_digest(replayed.keyspace) == dataset_digest(live.keyspace)
    assert _snapshot(replayed) == _snapshot(live)
    # Values survive pickling (a snapshot format may use it) with their encoding.
    for db in live.keyspace.dbs:
        for value in db.data.values():
            vt = TYPES[type(value)]
            clone = pickle.loads(pickle.dumps(value))
            assert type(clone) is type(value)
            assert vt.canonical(clone) == vt.canonical(value)
            assert vt.encoding(clone) == vt.encoding(value)


REPLAY_SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@REPLAY_SETTINGS
@given(seq=S.sequences(st.one_of(S.hash_commands(), S.list_commands())))
def test_hash_and_list_effects_replay_to_the_same_state(seq: list[tuple[S.Cmd, int]]) -> None:
    _run_and_replay(seq)


@REPLAY_SETTINGS
@given(seq=S.sequences(S.set_commands()))
def test_set_effects_replay_to_the_same_state(seq: list[tuple[S.Cmd, int]]) -> None:
    _run_and_replay(seq)


@REPLAY_SETTINGS
@given(seq=S.sequences(S.zset_commands()))
def test_zset_effects_replay_to_the_same_state(seq: list[tuple[S.Cmd, int]]) -> None:
    _run_and_replay(seq)


def test_random_pops_are_logged_as_their_effect() -> None:
    live = _server()
    log = RecordingLog()
    log.attach(live)
    client = Client(live)
    client.execute([b"SADD", b"s", b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"])
    client.execute([b"SPOP", b"s", b"2"])
    client.execute([b"SPOP", b"s"])
    client.execute([b"HINCRBYFLOAT", b"h", b"f", b"0.1"])
    client.execute([b"HINCRBYFLOAT", b"h", b"f", b"0.2"])
    client.execute([b"ZADD", b"z", b"1", b"a", b"2", b"b"])
    client.execute([b"ZMPOP", b"2", b"nokey", b"z", b"MAX", b"COUNT", b"5"])
    client.execute([b"RPUSH", b"l", b"x", b"y"])
    client.execute([b"LMPOP", b"1", b"l", b"LEFT", b"COUNT", b"1"])
    text = b"".join(log.frames)
    assert b"SPOP" not in text.upper()
    assert text.count(b"SREM") == 2
    assert b"HINCRBYFLOAT" not in text.upper()
    assert b"$3\r\n0.3\r\n" in text  # HSET h f 0.3: the printed result
    assert b"ZPOPMAX\r\n$1\r\nz\r\n$1\r\n2" in text
    assert b"LPOP\r\n$1\r\nl\r\n$1\r\n1" in text
