"""Differential-fuzzer templates for scripting: EVAL/EVALSHA(_RO), SCRIPT, FUNCTION, FCALL(_RO).

Scripts are assembled from snippets that reach the Redis API with odd arguments (no
arguments, tables, floats, nil, booleans, unknown commands, commands scripts may not run),
return every Lua type, use the bundled libraries (cjson, cmsgpack, struct, bit) on valid
and malformed input, declare shebang flags, or do not compile at all.  Only deterministic
scripts: no TIME, RANDOMKEY, SRANDMEMBER/SPOP/HRANDFIELD, no HGETALL/SMEMBERS whose order
is the hash table's, no reply depending on the clock; ``math.random`` is included since
Redis 7 reseeds its rand48 generator identically before every script.  No endless loops
(a busy script is tests/scripting/test_busy.py's business).

Functions: a few libraries (valid, duplicate names, bad names, flags, errors at load),
FCALL/FCALL_RO on them, FUNCTION LIST/STATS/DELETE/FLUSH/DUMP/RESTORE (a payload
redis-server 7.0.15 wrote, and corrupted copies).
"""

from __future__ import annotations

import hashlib
import random

from tests.fuzz.generators import STRINGS, Argv, key, pick, register

_K = [b"k1", b"k2", b"l1", b"h1", b"z1", b"str", b"nokey", b"x1", b"p1", b"b1"]

# Bodies using KEYS[1] and ARGV[1..2].
_BODIES = [
    "return redis.call('SET', KEYS[1], ARGV[1])",
    "return redis.call('GET', KEYS[1])",
    "return redis.call('INCR', KEYS[1])",
    "return redis.pcall('INCR', KEYS[1])",
    "return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])",
    "return redis.call('LPUSH', KEYS[1], ARGV[1], ARGV[2])",
    "return redis.call('LRANGE', KEYS[1], 0, -1)",
    "return redis.call('HSET', KEYS[1], 'a', ARGV[1])",
    "return redis.call('HGET', KEYS[1], 'a')",
    "return redis.call('ZADD', KEYS[1], ARGV[1], 'm')",
    "return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    "redis.setresp(3); return redis.call('ZSCORE', KEYS[1], 'a')",
    "redis.setresp(3); return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    "redis.setresp(3); return redis.call('HGET', KEYS[1], 'a')",
    "redis.setresp(3); return {double=3.5}",
    "redis.setresp(3); return {map={a=1}}",
    "redis.setresp(3); return {set={a=true}}",
    "redis.setresp(3); return {big_number='123456789012345678901234567890'}",
    "redis.setresp(4); return 1",
    "redis.setresp(); return 1",
    "return redis.call('XADD', KEYS[1], '7-1', 'f', ARGV[1])",
    "return redis.call('XRANGE', KEYS[1], '-', '+')",
    "return redis.call('PFADD', KEYS[1], ARGV[1])",
    "return redis.call('PFCOUNT', KEYS[1])",
    "return redis.call('SETBIT', KEYS[1], 7, 1)",
    "return redis.call('BITFIELD', KEYS[1], 'INCRBY', 'i5', 0, ARGV[1])",
    "return redis.call('SORT', KEYS[1], 'ALPHA')",
    "return redis.call('EXPIRE', KEYS[1], 100000)",
    "return redis.call('SET', KEYS[1], ARGV[1], 'GET')",
    "redis.call('SET', KEYS[1], 'a'); return redis.call('INCR', KEYS[1])",
    "return #redis.call('KEYS', '*')",
    "return redis.call('TYPE', KEYS[1])",
    "return redis.call('PING')",
    "return redis.call('SELECT', ARGV[1])",
    "return redis.call('GET', KEYS[2])",
    # odd calls
    "return redis.call()",
    "return redis.pcall()",
    "return redis.call('nosuch')",
    "return redis.call('SET', KEYS[1], {})",
    "return redis.call('SET', KEYS[1], 1.5)",
    "return redis.call('SET', KEYS[1], -0.25)",
    "return redis.call('SET', KEYS[1], 1e20)",
    "return redis.call('SET', KEYS[1], nil)",
    "return redis.call('SET', KEYS[1], true)",
    "return redis.call('SET', KEYS[1], ARGV[1], ARGV[2], ARGV[1])",
    "return redis.call(1, 2)",
    "return redis.call('get')",
    "return redis.pcall('SET')",
    "local t = redis.pcall('nosuch'); return t['err']",
    "local ok, e = pcall(redis.call, 'nosuch'); return e",
    "return redis.call('EVAL', 'return 1', 0)",
    "return redis.call('MULTI')",
    "return redis.call('BLPOP', KEYS[1], 0)",
    "return redis.call('SUBSCRIBE', 'c')",
    "return redis.call('FUNCTION', 'FLUSH')",
    "return redis.call('SCRIPT', 'FLUSH')",
    "return redis.call('CLIENT', 'ID') and 1",
    # values of every type
    "return {1, 2, 3.7, 'x', nil, 5}",
    "return {1, {2, {3, {'deep'}}}, -4}",
    "return {err='my error'}",
    "return {err='-WRONGTYPE custom'}",
    "return {ok='fine'}",
    "return redis.error_reply('x')",
    "return redis.error_reply('')",
    "return redis.status_reply('S')",
    "return true", "return false", "return nil", "return 3.99", "return -0.5", "return 1e300",
    "return 0/0", "return math.huge", "return 'a\\0b'", "return {}", "return {a=1}",
    "return tonumber(ARGV[1])",
    "return tostring(ARGV[1]) .. #KEYS .. #ARGV",
    "return redis.sha1hex(ARGV[1])",
    "return redis.sha1hex()",
    "return math.random(100)",
    "return {math.random(), math.random(1, 6)}",
    "return string.format('%d %s %5.2f', 1, 'a', 3.14159)",
    "return string.rep('ab', 5)",
    "return table.concat({'a', 'b'}, ARGV[1])",
    "local c = 0; for i = 1, 2000 do c = c + i end; return c",
    "return redis.REDIS_VERSION_NUM",
    "return redis.REDIS_VERSION",
    "return type(redis.log)",
    "redis.log(redis.LOG_DEBUG, 'fuzz'); return 1",
    "return redis.replicate_commands()",
    "redis.set_repl(redis.REPL_ALL); return 1",
    "redis.set_repl(99); return 1",
    "return redis.breakpoint()",
    "redis.debug('x'); return 1",
    "return redis.acl_check_cmd('SET', KEYS[1], 'v')",
    "return redis.acl_check_cmd('nosuch')",
    # libraries
    "return cjson.encode({1, 2, {a=1}})",
    "return cjson.encode(ARGV[1])",
    "return cjson.encode({[1]=1, [3]=3})",
    "return cjson.decode(ARGV[1])",
    "return cjson.encode(cjson.decode(ARGV[1]))",
    "return cjson.decode('[1,2,{\"a\":[true,null]}]')[3]['a'][1]",
    "return cjson.decode('{\"a\":')",
    "return cmsgpack.pack({1, 2, 'a', {x=1}})",
    "return cmsgpack.unpack(ARGV[1])",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', 3.5, {4}))}",
    "return struct.pack('>I2', 300)",
    "return struct.pack(ARGV[1], 1, 2)",
    "return {struct.unpack(ARGV[1], ARGV[2])}",
    "return struct.size(ARGV[1])",
    "return bit.tohex(tonumber(ARGV[1]) or 0)",
    "return bit.band(0xff, 0x1f0)",
    "return bit.lshift(1, 40)",
    "return bit.bnot(0)",
    "return {bit.rshift(-1, 28), bit.arshift(-256, 4), bit.bxor(5, 3), bit.rol(1, 33)}",
    # errors and the sandbox
    "error('boom')",
    "error({err='custom'})",
    "error()",
    "x = 5",
    "return undefinedvar",
    "return loadstring('return 1')()",
    "return os.time()",
    "return dofile('/etc/passwd')",
    "return redis.call('GET', KEYS[1]) .. nil",
    "local t = setmetatable({}, {__index=function() return 1 end}); return t.x",
    "redis = nil; return 1",
    "return _G.redis ~= nil",
    "KEYS[1] = 'changed'; return KEYS[1]",
    "string.len = nil; return 1",
    # malformed
    "return (", "local", "return 1 +", "end", "return 'unterminated", "return redis.call('SET', KEYS[1]",
    "\x00", "", "#!lua\nreturn 1", "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'x')",
    "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", "#!lua name=x\nreturn 1",
    "#!lua flags=allow-oom,no-cluster\nreturn 1", "#!lua flags=bogus\nreturn 1", "#!notlua\nreturn 1",
    "#!lua flags=allow-stale,allow-cross-slot-keys\nreturn redis.call('INCR', KEYS[1])",
]
_ARGS = [*STRINGS[:12], b"[1,2,3]", b'{"a":1}', b"[1,", b'"x"', b"\x93\x01\x02\x03", b"\xc1", b"\x91",
         b">i4", b"<h", b"!4i", b"c0", b"x", b"Bb", b"\x00\x00\x00\x01", b"1e309", b"0x10", b"7"]
_SHAS = [hashlib.sha1(b.encode()).hexdigest().encode() for b in _BODIES[:40]]


def _eval(r: random.Random) -> Argv:
    body = r.choice(_BODIES).encode() if r.random() < 0.9 else b"return " + pick(r, _ARGS)
    nkeys = r.choice([0, 1, 1, 1, 2])
    keys = [key(r, _K) for _ in range(nkeys)]
    numkeys = str(nkeys).encode() if r.random() < 0.93 else pick(r, [b"-1", b"5", b"x", b"9223372036854775808"])
    args = [pick(r, _ARGS) for _ in range(r.randint(0, 2))]
    return (pick(r, [b"EVAL", b"EVAL", b"EVAL", b"EVAL_RO"]), body, numkeys, *keys, *args)


def _evalsha(r: random.Random) -> Argv:
    sha = pick(r, _SHAS) if r.random() < 0.9 else pick(r, [b"x", b"0" * 40, _SHAS[0].upper(), _SHAS[1][:39]])
    keys = [key(r, _K)] if r.random() < 0.8 else []
    return (pick(r, [b"EVALSHA", b"EVALSHA_RO"]), sha, b"%d" % len(keys), *keys, *[pick(r, _ARGS)
                                                                                   for _ in range(r.randint(0, 2))])


def _lib(name: str, *functions: str, extra: str = "") -> bytes:
    regs = "".join("redis.register_function(%s)\n" % f for f in functions)
    return f"#!lua name={name}\n{extra}{regs}".encode()


_LIBS = [
    _lib("lib1", "'f1', function(keys, args) return redis.call('GET', keys[1]) end",
         "'f2', function(keys, args) return redis.call('INCR', keys[1]) end"),
    _lib("lib1", "'f1', function(keys, args) return 'replaced' end"),
    _lib("lib2", "{function_name='ro', callback=function(keys, args) return redis.call('SET', keys[1], 'v') end, "
                 "flags={'no-writes'}}",
         "{function_name='ro2', callback=function(keys, args) return #args end, flags={'no-writes', 'allow-stale'}}"),
    _lib("lib3", "'f1', function() return 1 end"),  # f1 again: already exists in lib1
    _lib("lib4", "'bad name', function() return 1 end"),
    _lib("lib4", "'g', function() return 1 end", "'g', function() return 2 end"),
    _lib("lib5", "{function_name='h', callback=function() return 1 end, flags={'bogus'}}"),
    _lib("lib5", "{function_name='h', callback='notafunction'}"),
    _lib("lib5", "{function_name='h', callback=function() return 1 end, extra=1}"),
    _lib("lib6", extra="redis.call('PING')\n"),
    _lib("lib6", extra="return 1\n"),
    _lib("lib7", "'e', function(keys, args) error('in function') end",
         "'t', function(keys, args) return {keys[1], args[1], redis.setresp(3), redis.call('HGET', keys[1], 'a')} end"),
    _lib("lib8", extra="local x = (\n"),
    b"#!lua\nredis.register_function('n', function() return 1 end)",
    b"#!lua name=lib9 engine=x\n", b"#!js name=lib9\n", b"no shebang", b"#!lua name=\n", b"#!lua name=a b\n",
    _lib("lib10", "'math', function(keys, args) return math.random(10) end",
         "'k', function(keys, args) return redis.call('FCALL', 'f1', 0) end"),
]
_FUNCS = [b"f1", b"f2", b"ro", b"ro2", b"g", b"h", b"e", b"t", b"math", b"k", b"nosuch", b""]
_FDUMP = bytes.fromhex("f5404923216c7561206e616d653d646c0a72656469732e72656769737465725f66756e6374696f6e2827646c66272c20"
                       "66756e6374696f6e286b2c2061292072657475726e203120656e64290a00a16f1267a6c8af2a")
_FDUMPS = [_FDUMP, _FDUMP[:-1] + b"\x2b", _FDUMP[:20], b"", b"x"]


register("scripting", [
    _eval, _eval, _eval, _eval, _evalsha,
    lambda r: (b"SCRIPT", b"LOAD", r.choice(_BODIES).encode()),
    lambda r: (b"SCRIPT", b"EXISTS", *[pick(r, _SHAS + [b"x"]) for _ in range(r.randint(1, 3))]),
    lambda r: (b"SCRIPT", b"FLUSH", *r.choice([[], [], [b"ASYNC"], [b"SYNC"], [b"x"]])) if r.random() < 0.2
    else (b"SCRIPT", b"EXISTS", pick(r, _SHAS)),
    # (not SCRIPT DEBUG: it changes the connection's mode, and Redis refuses it in a pipeline)
    lambda r: (b"SCRIPT", pick(r, [b"KILL", b"HELP", b"NOSUCH"]), *r.choice([[], [b"NO"], [b"x"]])),
], weight=3)

register("functions", [
    lambda r: (b"FUNCTION", b"LOAD", *r.choice([[], [], [b"REPLACE"], [b"replace"]]), pick(r, _LIBS)),
    lambda r: (pick(r, [b"FCALL", b"FCALL", b"FCALL_RO"]), pick(r, _FUNCS), *r.choice(
        [[b"0"], [b"1", key(r, _K)], [b"1", key(r, _K), pick(r, _ARGS)], [b"2", key(r, _K)], [b"-1"], [b"x"]])),
    lambda r: (pick(r, [b"FCALL", b"FCALL_RO"]), pick(r, _FUNCS), b"1", key(r, _K)),
    lambda r: (b"FUNCTION", b"LIST", *r.choice([[], [b"WITHCODE"], [b"LIBRARYNAME", pick(r, [b"lib*", b"lib1", b"x"])],
                                               [b"LIBRARYNAME"], [b"WITHCODE", b"LIBRARYNAME", b"lib2"]])),
    lambda r: (b"FUNCTION", b"DELETE", pick(r, [b"lib1", b"lib2", b"lib7", b"lib10", b"nolib"])),
    lambda r: (b"FUNCTION", b"FLUSH", *r.choice([[], [b"ASYNC"], [b"x"]])) if r.random() < 0.15
    else (b"FUNCTION", b"STATS"),
    lambda r: (b"FUNCTION", b"RESTORE", pick(r, _FDUMPS), *r.choice([[], [b"FLUSH"], [b"APPEND"], [b"REPLACE"], [b"x"]])),
    lambda r: (b"FUNCTION", pick(r, [b"KILL", b"HELP", b"NOSUCH", b"DUMP"])),
], weight=2)
