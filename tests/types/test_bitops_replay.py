"""The logged effects of bitmap, HyperLogLog, geo and SORT writes replay to the same bytes.

Generated sequences run in-process on a server whose log is a recorder; the
frames, encoded as the WAL stores them, are replayed into a fresh server
through the recovery path.  Contents, expiry and encodings must be equal --
and every string byte for byte, which is what matters for HyperLogLogs.  The
recovering server uses the default hll-sparse-max-bytes while the live one may
have changed it: writes that went through the sparse encoding are logged as
their bytes, so the setting at recovery does not matter.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentrykv_server.config import Config
from sentrykv_server.protocol.connection import Client
from sentrykv_server.server import Server
from sentrykv_server.store.digest import dataset_digest
from sentrykv_server.store.types import TYPES
from tests.types.test_replay import RecordingLog, replay_log

Cmd = tuple[bytes, ...]

KEYS = st.sampled_from([b"a", b"b", b"c"])
SMALL = st.sampled_from([b"0", b"1", b"7", b"9", b"64", b"300", b"-1"])
ELEMENTS = st.lists(st.sampled_from([b"x%d" % i for i in range(40)]), min_size=0, max_size=6)
COORDS = st.sampled_from([(b"13.36", b"38.11"), (b"15.08", b"37.50"), (b"13.36", b"38.11"),
                          (b"-0.1", b"51.5"), (b"179.9", b"-85")])

COMMANDS: st.SearchStrategy[Cmd] = st.one_of(
    st.tuples(st.just(b"SETBIT"), KEYS, SMALL, st.sampled_from([b"0", b"1"])),
    st.builds(lambda k, o, v: (b"BITFIELD", k, b"OVERFLOW", b"FAIL", b"INCRBY", b"u4", o, v,
                               b"SET", b"i8", b"#1", v), KEYS, SMALL, SMALL),
    st.builds(lambda op, d, s: (b"BITOP", op, d, *s), st.sampled_from([b"AND", b"OR", b"XOR"]), KEYS,
              st.lists(KEYS, min_size=1, max_size=3)),
    st.builds(lambda k, e: (b"PFADD", b"h" + k, *e), KEYS, ELEMENTS),
    st.builds(lambda k, e: (b"PFADD", b"h" + k, *e), KEYS, st.lists(st.sampled_from(
        [b"y%d" % i for i in range(3000)]), min_size=20, max_size=120)),
    st.builds(lambda k: (b"PFCOUNT", b"h" + k), KEYS),
    st.builds(lambda d, s: (b"PFMERGE", b"h" + d, *(b"h" + x for x in s)), KEYS, st.lists(KEYS, max_size=3)),
    st.builds(lambda k: (b"PFDEBUG", b"TODENSE", b"h" + k), KEYS),
    st.sampled_from([(b"CONFIG", b"SET", b"hll-sparse-max-bytes", v) for v in (b"60", b"400", b"3000")]),
    st.builds(lambda k, c, m: (b"GEOADD", b"g" + k, c[0], c[1], m), KEYS, COORDS, st.sampled_from([b"p", b"q", b"r"])),
    st.builds(lambda s, d, r: (b"GEOSEARCHSTORE", b"g" + d, b"g" + s, b"FROMLONLAT", b"14", b"38",
                               b"BYRADIUS", r, b"km", b"STOREDIST"), KEYS, KEYS, st.sampled_from([b"1", b"300"])),
    st.builds(lambda s, d: (b"GEORADIUS", b"g" + s, b"14", b"38", b"500", b"km", b"STORE", b"g" + d), KEYS, KEYS),
    st.builds(lambda k, e: (b"RPUSH", b"l" + k, *e), KEYS, st.lists(SMALL, min_size=1, max_size=4)),
    st.builds(lambda k, e: (b"SADD", b"s" + k, *e), KEYS, st.lists(SMALL, min_size=1, max_size=4)),
    st.builds(lambda s, d, o: (b"SORT", s, *o, b"STORE", b"l" + d),
              st.sampled_from([b"la", b"lb", b"sa", b"gc", b"nokey"]), KEYS,
              st.sampled_from([[], [b"DESC"], [b"BY", b"nosort"], [b"ALPHA", b"LIMIT", b"1", b"2"]])),
    st.builds(lambda k: (b"SORT_RO", b"g" + k, b"ALPHA"), KEYS),
    st.builds(lambda k: (b"EXPIRE", k, b"1000"), st.sampled_from([b"a", b"ha", b"ga", b"la"])),
)


def _server() -> Server:
    return Server(Config())


def _strings(server: Server) -> dict[tuple[int, bytes], bytes]:
    return {(db.id, k): v for db in server.keyspace.dbs for k, v in db.data.items() if type(v) is bytes}


def _encodings(server: Server) -> dict[tuple[int, bytes], str]:
    return {(db.id, k): TYPES[type(v)].encoding(v) for db in server.keyspace.dbs for k, v in db.data.items()}


def run_and_replay(seq: list[Cmd]) -> Server:
    live = _server()
    log = RecordingLog()
    log.attach(live)
    client = Client(live)
    for cmd in seq:
        client.execute(list(cmd))
        client.out.clear()
    replayed = replay_log(log, _server())
    assert dataset_digest(replayed.keyspace) == dataset_digest(live.keyspace)
    assert _strings(replayed) == _strings(live)
    assert _encodings(replayed) == _encodings(live)
    return live


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seq=st.lists(COMMANDS, min_size=5, max_size=30))
def test_effects_replay_to_the_same_bytes(seq: list[Cmd]) -> None:
    run_and_replay(seq)


def test_hll_bytes_survive_a_changed_sparse_limit() -> None:
    """Written under a small sparse limit (promoted early), recovered under the default."""
    seq: list[Cmd] = [(b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"50")]
    seq += [(b"PFADD", b"h", *[b"e%d" % (i * 7 + j) for j in range(3)]) for i in range(40)]
    seq += [(b"PFCOUNT", b"h"), (b"PFADD", b"h2", b"a", b"b"), (b"PFMERGE", b"h3", b"h2", b"h")]
    live = run_and_replay(seq)
    assert live.keyspace.dbs[0].data[b"h"][4] == 0  # dense: promoted under the small limit


def test_write_logs_are_effects() -> None:
    live = _server()
    log = RecordingLog()
    log.attach(live)
    client = Client(live)
    for cmd in ([b"RPUSH", b"src", b"b", b"a"], [b"SORT", b"src", b"ALPHA", b"STORE", b"dst"],
                [b"GEOADD", b"g", b"13.361389", b"38.115556", b"Palermo"],
                [b"GEOSEARCHSTORE", b"gd", b"g", b"FROMLONLAT", b"13", b"38", b"BYRADIUS", b"100", b"km"],
                [b"SETBIT", b"bits", b"3", b"1"], [b"SETBIT", b"bits", b"3", b"1"]):
        client.execute(cmd)
    text = b"".join(log.frames)
    assert b"SORT" not in text.replace(b"SORT_RO", b"").upper()
    assert b"RPUSH\r\n$3\r\ndst\r\n$1\r\na\r\n$1\r\nb" in text
    assert b"GEOSEARCHSTORE" not in text.upper()
    assert b"ZADD\r\n$2\r\ngd\r\n$16\r\n3479099956230698\r\n$7\r\nPalermo" in text
    assert text.upper().count(b"SETBIT") == 1  # the second one changed nothing
