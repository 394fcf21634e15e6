"""The sorted-set structure against a plain sorted-list model.

Rank, positional slices, score and lex spans, pops and range deletion must
agree with the obvious O(n) model after any sequence of inserts, updates and
removals; and they must stay logarithmic (checked on a large set with a time
budget that a linear scan would blow).
"""

from __future__ import annotations

import math
import pickle
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from sentrykv_server.store.zset import ZSet, copy_zset, lex_gte_min, lex_lte_max

MEMBERS = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"ab", b"", b"\xff", b"\x00"])
SCORES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1.5, math.inf, -math.inf, 2.0]),
    st.floats(allow_nan=False, min_value=-1e6, max_value=1e6),
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), MEMBERS, SCORES),
        st.tuples(st.just("rem"), MEMBERS, st.just(0.0)),
        st.tuples(st.just("popmin"), st.just(b""), st.just(0.0)),
        st.tuples(st.just("popmax"), st.just(b""), st.just(0.0)),
    ),
    max_size=40,
)


def _apply(z: ZSet, model: dict[bytes, float], op: tuple[str, bytes, float]) -> None:
    kind, member, score = op
    if kind == "set":
        old = z.scores.get(member)
        if old is None:
            z.insert(member, score, 1 << 30, 1 << 30)
        elif old != score:
            z.update(member, old, score)
        if old is None or old != score:
            model[member] = score
    elif kind == "rem":
        assert z.remove(member) == (member in model)
        model.pop(member, None)
    elif model:
        ordered = sorted((s, m) for m, s in model.items())
        expect = ordered[0] if kind == "popmin" else ordered[-1]
        assert z.pop(0 if kind == "popmin" else -1) == expect
        del model[expect[1]]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(ops=OPS, lo=SCORES, hi=SCORES, lo_ex=st.booleans(), hi_ex=st.booleans(),
       start=st.integers(-3, 12), stop=st.integers(-3, 12))
def test_zset_matches_sorted_list_model(ops: list[tuple[str, bytes, float]], lo: float, hi: float,
                                        lo_ex: bool, hi_ex: bool, start: int, stop: int) -> None:
    z = ZSet()
    z.big = True  # keep -0 as given, like a skiplist
    model: dict[bytes, float] = {}
    for op in ops:
        _apply(z, model, op)
    ordered = sorted((s, m) for m, s in model.items())
    assert len(z) == len(ordered)
    assert list(z.order) == ordered
    for rank, (_s, m) in enumerate(ordered):
        assert z.rank(m) == rank
        assert z.at(rank)[1] == m
    assert z.rank(b"missing") is None
    a, b = max(0, start), max(0, stop)
    assert list(z.islice(a, b)) == ordered[a:b]
    assert list(z.islice(a, b, reverse=True)) == ordered[a:b][::-1]
    # Score span: exactly the members within the (possibly open) interval.
    s0, s1 = z.score_span(lo, lo_ex, hi, hi_ex)

    def inside(s: float) -> bool:
        return (s > lo if lo_ex else s >= lo) and (s < hi if hi_ex else s <= hi)

    assert ordered[s0:s1] == [e for e in ordered if inside(e[0])]
    # Copies and pickles are independent and equal.
    clone = pickle.loads(pickle.dumps(z))
    dup = copy_zset(z)
    assert list(clone.order) == list(dup.order) == ordered
    dup.insert(b"new-member", 0.5, 1 << 30, 1 << 30)
    assert b"new-member" not in z


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(members=st.sets(MEMBERS), lo=st.sampled_from([b"", b"a", b"ab", b"c", b"\xff"]),
       hi=st.sampled_from([b"", b"a", b"ab", b"c", b"\xff"]), lo_kind=st.sampled_from([-1, 0, 0]),
       hi_kind=st.sampled_from([1, 0, 0]), lo_ex=st.booleans(), hi_ex=st.booleans())
def test_lex_span_with_equal_scores(members: set[bytes], lo: bytes, hi: bytes, lo_kind: int,
                                    hi_kind: int, lo_ex: bool, hi_ex: bool) -> None:
    z = ZSet()
    for m in members:
        z.insert(m, 0.0, 128, 64)
    lo_b = (lo_kind, lo, lo_ex)
    hi_b = (hi_kind, hi, hi_ex)
    start, stop = z.lex_span(lo_b, hi_b)
    expect = [m for m in sorted(members) if lex_gte_min(m, lo_b) and lex_lte_max(m, hi_b)]
    assert [m for _s, m in z.islice(start, stop)] == expect


def test_delete_slice_and_listpack_zero() -> None:
    z = ZSet()
    for i in range(10):
        z.insert(b"m%d" % i, float(i), 128, 64)
    assert z.delete_slice(2, 5) == 3
    assert [m for _s, m in z.order] == [b"m0", b"m1", b"m5", b"m6", b"m7", b"m8", b"m9"]
    assert set(z.scores) == {m for _s, m in z.order}
    # A compact (listpack) set stores -0 as the integer 0; a skiplist keeps -0.
    z.insert(b"neg", -0.0, 128, 64)
    assert math.copysign(1, z.scores[b"neg"]) == 1
    big = ZSet()
    big.big = True
    big.insert(b"neg", -0.0, 128, 64)
    assert math.copysign(1, big.scores[b"neg"]) == -1


def test_rank_and_range_are_logarithmic() -> None:
    z = ZSet()
    n = 200_000
    for i in range(n):
        z.insert(b"member:%d" % i, float(i % 1000) + i / n, 128, 64)
    start = time.perf_counter()
    for i in range(0, n, 97):
        assert z.rank(b"member:%d" % i) is not None
        lo, hi = z.score_span(500.0, False, 500.5, True)
        assert hi > lo
        assert len(list(z.islice(n // 2, n // 2 + 10))) == 10
    elapsed = time.perf_counter() - start
    # ~2000 rounds of rank + span + slice: a linear scan each time would take many seconds.
    assert elapsed < 2.0, elapsed
