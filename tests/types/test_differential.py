"""Generated command sequences run on SentryKV and on redis-server must agree.

One test per family.  Every example starts from an empty dataset (plus a
string and a list key for WRONGTYPE paths), runs up to 30 commands, each in
RESP2 or RESP3, compares every reply, then compares the final contents,
encoding and TTL state of every key.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.types import strategies as S
from tests.types.conftest import SMALL_LIMITS
from tests.types.diff import Differ

# CI runs a fixed, derandomized set of examples.  For exploratory fuzzing set
# SENTRYKV_FUZZ=<examples per test> to draw fresh random examples instead.
_FUZZ = int(os.environ.get("SENTRYKV_FUZZ", "0"))

SETTINGS = settings(
    max_examples=_FUZZ or 250,
    deadline=None,
    derandomize=not _FUZZ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

Seq = list[tuple[S.Cmd, int]]


def _run(differ: Differ, seq: Seq, prelude: list[S.Cmd] | None = None) -> None:
    differ.reset(SMALL_LIMITS)
    for cmd in S.PRELUDE + (prelude or []):
        differ.run(cmd)
    for cmd, proto in seq:
        differ.run(cmd, proto)
    differ.compare_state()


@SETTINGS
@given(seq=S.sequences(S.hash_commands()))
def test_hashes_match_redis(differ: Differ, seq: Seq) -> None:
    _run(differ, seq)


@SETTINGS
@given(seq=S.sequences(S.list_commands()))
def test_lists_match_redis(differ: Differ, seq: Seq) -> None:
    _run(differ, seq)


@SETTINGS
@given(seq=S.sequences(S.set_commands()))
def test_sets_match_redis(differ: Differ, seq: Seq) -> None:
    _run(differ, seq)


_ZSET_PRELUDE: list[S.Cmd] = [(b"ZADD", b"zl", b"0", b"b", b"0", b"d")]


@settings(parent=SETTINGS, max_examples=_FUZZ or 400)
@given(seq=S.sequences(S.zset_commands(), max_size=35))
def test_zsets_match_redis(differ: Differ, seq: Seq) -> None:
    _run(differ, seq, _ZSET_PRELUDE)


@SETTINGS
@given(seq=S.sequences(st.one_of(S.hash_commands(), S.list_commands(), S.set_commands(),
                                 S.zset_commands())))
def test_mixed_families_match_redis(differ: Differ, seq: Seq) -> None:
    _run(differ, seq, _ZSET_PRELUDE)
