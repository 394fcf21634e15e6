"""COMMAND INFO entries and arity errors of every container command match Redis 7.0."""

from __future__ import annotations

from typing import Any

import redis

from tests.types.conftest import port_of
from tests.types.rawresp import RawConnection, plain

COMMANDS = """
HSET HGET HMSET HMGET HDEL HEXISTS HGETALL HKEYS HVALS HLEN HINCRBY HINCRBYFLOAT HSETNX HSTRLEN
HRANDFIELD HSCAN LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS
LMOVE RPOPLPUSH LMPOP SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER
SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SINTERCARD SSCAN ZADD ZREM ZSCORE ZMSCORE ZINCRBY
ZCARD ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX
ZREVRANGEBYLEX ZRANK ZREVRANK ZPOPMIN ZPOPMAX ZMPOP ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX
ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZRANDMEMBER ZSCAN
SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST
GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUS_RO GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO
GEOSEARCH GEOSEARCHSTORE SORT SORT_RO
""".split()

# Commands whose COMMAND DOCS reply is compared too.
DOCUMENTED = set(COMMANDS[COMMANDS.index("SETBIT"):])


def test_command_info_and_arity_errors(r: redis.Redis, ref: redis.Redis) -> None:
    mine, theirs = RawConnection(port_of(r)), RawConnection(port_of(ref))
    docs_mine, docs_theirs = RawConnection(port_of(r)), RawConnection(port_of(ref))
    docs_mine.call("HELLO", "3")
    docs_theirs.call("HELLO", "3")
    try:
        for name in COMMANDS:
            got = plain(mine.call("COMMAND", "INFO", name))[0]
            want = plain(theirs.call("COMMAND", "INFO", name))[0]
            # name, arity, flags, first key, last key, step
            assert (got[0], got[1], sorted(got[2]), got[3:6]) == \
                (want[0], want[1], sorted(want[2]), want[3:6]), name
            for argv in ([name], [name, "k"], [name, "k", "a", "b", "c", "d", "e"]):
                assert mine.call(*argv) == theirs.call(*argv), argv
            if name in DOCUMENTED:
                # COMMAND DOCS (summary, since, group, arguments...) as Redis documents the command;
                # compared as RESP3 maps, whose field order carries no meaning.
                got = _unordered(docs_mine.call("COMMAND", "DOCS", name))
                assert got == _unordered(docs_theirs.call("COMMAND", "DOCS", name)), name
    finally:
        for conn in (mine, theirs, docs_mine, docs_theirs):
            conn.close()


def _unordered(reply: Any) -> Any:
    tag, payload = reply
    if tag == "map":
        return tag, sorted(((_unordered(k), _unordered(v)) for k, v in payload), key=repr)
    if tag in ("array", "set"):
        return tag, [_unordered(x) for x in payload]
    return reply
