"""ACL inside scripts, against redis-server 7.0: redis.call / pcall refused for the caller's
user (and logged with context "lua"), redis.acl_check_cmd, SORT BY from a script."""

from __future__ import annotations

import pytest

from tests.acl.support import AclPair, log_entries

SCRIPTS = [
    ("return redis.call('GET', 'k1')", []),
    ("return redis.call('GET', 'secret')", []),
    ("return redis.call('SET', 'k1', 'v')", []),
    ("return redis.call('HSET', 'k1', 'f', 'v')", []),
    ("return redis.pcall('HSET', 'k1', 'f', 'v')", []),
    ("return redis.call('PUBLISH', 'chan', 'm')", []),
    ("return redis.call('PUBLISH', 'other', 'm')", []),
    ("return redis.call('CONFIG', 'GET', 'maxmemory')", []),
    ("return redis.call('CONFIG', 'SET', 'maxmemory', '0')", []),
    ("return {redis.acl_check_cmd('GET', 'k1'), redis.acl_check_cmd('GET', 'secret'),"
     " redis.acl_check_cmd('HSET', 'k1', 'f', 'v'), redis.acl_check_cmd('CONFIG', 'GET', 'x')}", []),
    ("return redis.acl_check_cmd('NOSUCH')", []),
    ("return redis.acl_check_cmd('CONFIG', 'NOSUCH')", []),
    ("return redis.call('SORT', 'k2', 'BY', 'w_*')", []),
    ("return redis.call('SORT', 'k2', 'BY', 'nosort')", []),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_scripts_run_with_the_callers_permissions(pair: AclPair, proto: int) -> None:
    pair.same("ACL", "SETUSER", "lua", "on", ">pw", "-@all", "+@scripting", "+get", "+set", "+publish", "+sort",
              "+config|get", "~k*", "&chan")
    pair.same("RPUSH", "k2", "2", "1")
    mine, theirs = pair.connect("lua", proto=proto)
    for body, args in SCRIPTS:
        got, want = mine.call("EVAL", body, "0", *args), theirs.call("EVAL", body, "0", *args)
        assert got == want, f"{body} (RESP{proto}):\n  redis:    {want}\n  sentrykv: {got}"
    got, want = pair.both("ACL", "LOG", "100", proto=proto)
    assert log_entries(got, proto) == log_entries(want, proto)
    assert any(entry[b"context"] == ("bulk", b"lua") for entry in log_entries(got, proto))
