"""EVAL & co against redis-server: environment, conversions, errors, RESP2/RESP3.

Every case runs the same command on SentryKV and on the reference
redis-server 7.0.15 and compares the replies with their wire types (see
tests/types/rawresp.py), errors included with their ``script: <sha>, on
@user_script:N.`` suffix.
"""

from __future__ import annotations

import pytest

from tests.scripting.conftest import same
from tests.support.procs import RedisProcess, ServerProcess
from tests.types.diff import Differ

ENVIRONMENT = [
    "local t = {} for k in pairs(_G) do t[#t+1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(string) do t[#t+1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(math) do t[#t+1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(table) do t[#t+1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(coroutine) do t[#t+1] = k end table.sort(t) return t",
    "return _VERSION",
    "return {type(os), type(io)}",
    "return print",
    "return require",
    "return getfenv",
    "return newproxy",
    "return dofile",
    "return x",
    "x = 1",
    "function f() end",
    "local function f() return 1 end return f()",
    "rawset(_G, 'x', 1)",
    "return rawget(_G, 'nosuch')",
    "return rawget(_G, 'string') == string",
    "return type(next(_G))",
    "string.foo = 1",
    "string.sub = nil",
    "redis.call = nil",
    "math.random = function() return 4 end",
    "setmetatable(_G, nil)",
    "setmetatable(string, {})",
    "table.insert(math, 1)",
    "return #string",
    "local mt = getmetatable(_G) mt.__index = nil",
    "return tostring(getmetatable('').__index == string)",
    "local t = getmetatable('') t.__index = nil",
    "getmetatable('').x = 1",
    "KEYS[1] = 'x' return KEYS[1]",
    "KEYS = {}",
    "return _G.x",
    "return _G['string'] ~= nil",
    "return loadstring('return 1')()",
    "return {loadstring(string.dump(function() return 1 end))}",
    "return {load(function() return nil end)}",
    "local co = coroutine.create(function(a) coroutine.yield(a + 1) return 9 end) "
    "local _, a = coroutine.resume(co, 1) local _, b = coroutine.resume(co) return {a, b, coroutine.status(co)}",
    "return coroutine.create(1)",
    "return {pcall(coroutine.create, string.len)}",
    "return tostring(collectgarbage('count') > 0)",
    "return {pcall(error, 'x')}",
    "return {pcall(redis.call, 'nosuch')}",
    "local ok, e = pcall(redis.call, 'nosuch') return type(e)",
    "return {xpcall(function() redis.call('nosuch') end, function(e) return type(e) end)}",
    "local r = redis.pcall('nosuch') return r['err']",
    "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM, redis.LOG_DEBUG, redis.LOG_VERBOSE, "
    "redis.LOG_NOTICE, redis.LOG_WARNING, redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, "
    "redis.REPL_REPLICA, redis.REPL_ALL}",
    "return redis.replicate_commands()",
    "return redis.breakpoint()",
    "return redis.debug('x')",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.set_repl(99)",
    "return redis.set_repl()",
    "return redis.log(redis.LOG_WARNING, 'hello from a script')",
    "return redis.log(99, 'x')",
    "return redis.log('x', 'x')",
    "return redis.log(1)",
    "return redis.acl_check_cmd('set','a','b')",
    "return redis.acl_check_cmd('get')",
    "return redis.acl_check_cmd('nosuch')",
    "return redis.acl_check_cmd()",
    "return redis.sha1hex('')",
    "return redis.sha1hex(12)",
    "return redis.sha1hex()",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.setresp('3')",
    "return math.random(1, 2, 3)",
    "return math.random(0)",
    "return math.random('x')",
    "return math.random(3, 1)",
    "local r = math.random return r(0)",
    "return {pcall(math.random, 0)}",
    "return tostring(math.huge)",
]

ERRORS = [
    "return redis.call('nosuch')",
    "return redis.call('get')",
    "return redis.pcall('get')",
    "return redis.call('get', {})",
    "return redis.call('get', true)",
    "return redis.call('get', nil)",
    "return redis.call('get', 'a', nil)",
    "return redis.call()",
    "return redis.call('multi')",
    "return redis.call('blpop', 'x', 0)",
    "return redis.call('config', 'get', 'maxmemory')",
    "return redis.call('client', 'id')",
    "return redis.call('object')",
    "return redis.call('object', 'nosub')",
    "return redis.call('eval', 'return 1', 0)",
    "return redis.call('incr', 'x', 'y')",
    "redis.call('set', 'x', 'a') return redis.call('lpush', 'x', 'y')",
    "redis.call('set', 'x', 'a') return redis.pcall('lpush', 'x', 'y')",
    "redis.call('set', 'x', 'a') return redis.call('incr', 'x')",
    "return error('boom')",
    "error({err='MY boom'})",
    "error({err=12})",
    "error()",
    "error(123)",
    "error('x', 0)",
    "error({err='-x y'})",
    "return {err='MY boom'}",
    "return redis.error_reply('MY boom')",
    "return redis.error_reply('boom')",
    "return redis.error_reply('ERR')",
    "return redis.error_reply('-ERR')",
    "return redis.error_reply('-MY x\\r\\n')",
    "return redis.error_reply(12)",
    "return redis.error_reply()",
    "return redis.status_reply(12)",
    "local a = 1\nlocal b = 2\nreturn redis.call('nosuch')",
    "local function f()\n  error('deep')\nend\nf()",
    "local function f()\n  return redis.call('nosuch')\nend\nreturn f()",
    "syntax error here",
    "return",
    "#!lua\nreturn redis.call('nosuch')",
    "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
    "#!lua flags=bogus\nreturn 1",
    "#!lua foo=bar\nreturn 1",
    "#!python\nreturn 1",
    "#!lua",
]

CONVERSIONS = [
    "return {1,2,3,'x',nil,4}",
    "return 3.99",
    "return -3.7",
    "return 1e20",
    "return 0/0",
    "return 1/0",
    "return true",
    "return false",
    "return nil",
    "return {ok='x'}",
    "return {ok=12}",
    "return {err=12}",
    "return {1,{2,{3,'a'}},true,false}",
    "return {1, 2, {err='x'}}",
    "return {1, 2, {ok='x'}}",
    "return redis.status_reply('FINE')",
    "return redis.status_reply('a\\r\\nb')",
    "return {double=3.5}",
    "return {double=0/0}",
    "return {double=1/0}",
    "return {double=-1/0}",
    "return {double=3}",
    "return {double='x'}",
    "return {map={a=1}}",
    "return {map={[1]=2}}",
    "return {set={a=true}}",
    "return {set={1,2,3}}",
    "return {big_number='123456789012345678901234567890'}",
    "return {big_number='12\\r\\n3'}",
    "return {big_number=12}",
    "return {verbatim_string={format='txt', string='hello'}}",
    "return {verbatim_string={format='markdown', string='x'}}",
    "return {verbatim_string={format='txt'}}",
    "return function() end",
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "redis.setresp(3) return {true, false}",
    "redis.call('set', 'n', 0.1) return redis.call('get', 'n')",
    "redis.call('set', 'n', 1e20) return redis.call('get', 'n')",
    "redis.call('set', 'n', -0) return redis.call('get', 'n')",
    "redis.call('set', 'n', 1/0) return redis.call('get', 'n')",
    "redis.call('set', 'n', 0/0) return redis.call('get', 'n')",
    "redis.call('set', 'n', 2^53 + 1) return redis.call('get', 'n')",
    "redis.call('set', 'n', 12345678901234567890) return redis.call('get', 'n')",
    "redis.call('set', 'n', -17) return redis.call('get', 'n')",
    "return redis.call('get', 1.5)",
    "return type(redis.call('get', 'nokey'))",
    "redis.setresp(3) return type(redis.call('get', 'nokey'))",
    "redis.setresp(3) return redis.call('get', 'nokey')",
    "return redis.call('set', 'k', 'v')",
    "return redis.call('set', 'k', 'v', 'GET')",
    "return redis.call('ping')",
    "return redis.call('ping', 'x')",
    "redis.call('rpush', 'l', 'a', 'b') return redis.call('lrange', 'l', 0, -1)",
    "redis.call('hset', 'h', 'f', 'v') return redis.call('hgetall', 'h')",
    "redis.setresp(3) redis.call('hset', 'h', 'f', 'v') return redis.call('hgetall', 'h')",
    "redis.setresp(3) redis.call('hset', 'h', 'f', 'v') local r = redis.call('hgetall', 'h') return r.map.f",
    "redis.call('sadd', 's', 'a') return redis.call('smembers', 's')",
    "redis.setresp(3) redis.call('sadd', 's', 'a') return redis.call('smembers', 's')",
    "redis.setresp(3) redis.call('sadd', 's', 'a') return type(redis.call('smembers', 's').set)",
    "redis.call('zadd', 'z', 1.5, 'a') return redis.call('zscore', 'z', 'a')",
    "redis.setresp(3) redis.call('zadd', 'z', 1.5, 'a') return redis.call('zscore', 'z', 'a')",
    "redis.setresp(3) redis.call('zadd', 'z', 1.5, 'a') return redis.call('zscore', 'z', 'a').double",
    "redis.setresp(3) redis.call('zadd', 'z', 1.5, 'a', 2, 'b') return redis.call('zrange', 'z', 0, -1, 'WITHSCORES')",
    "redis.call('zadd', 'z', 1.5, 'a', 2, 'b') return redis.call('zrange', 'z', 0, -1, 'WITHSCORES')",
    "redis.setresp(3) return redis.call('exists', 'nokey')",
    "redis.setresp(3) return redis.call('lpop', 'nokey')",
    "return redis.call('lpop', 'nokey')",
    "redis.setresp(3) return redis.call('object', 'freq', 'nokey')",
    "return redis.call('type', 'nokey')",
    "redis.setresp(3) return redis.call('type', 'nokey')",
    "return redis.call('select', 1)",
    "return {redis.call('select', 3), redis.call('set', 'in3', 'x'), redis.call('get', 'in3')}",
    "redis.call('sadd', 's', 'c', 'a', 'b', 10, 2, 'zz', 'aa') return redis.call('sort', 's', 'BY', 'nosort')",
    "redis.call('sadd', 's', 'c', 'a', 'b', 10, 2) return redis.call('sort', 's', 'BY', 'nosort', 'LIMIT', 1, 2)",
    "redis.call('sadd', 's', 3, 1, 2) return redis.call('sort', 's')",
    "redis.call('rpush', 'l', 'c', 'a', 'b') return redis.call('sort', 'l', 'BY', 'nosort')",
    "return redis.call('pfcount', 'nokey')",
]

FLAG_SCRIPTS = [
    ("eval_ro", "return redis.call('set', 'x', 1)"),
    ("eval_ro", "return redis.call('get', 'x')"),
    ("eval_ro", "#!lua\nreturn redis.call('get', 'x')"),
    ("eval_ro", "#!lua\nreturn 1"),
    ("eval_ro", "#!lua flags=no-writes\nreturn redis.call('get', 'x')"),
    ("eval_ro", "#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)"),
    ("eval", "#!lua flags=no-writes,allow-oom\nreturn redis.call('expire', 'x', 1)"),
    ("eval", "#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\nreturn 5"),
    ("eval_ro", "return redis.call('publish', 'ch', 'x')"),
    ("eval_ro", "return redis.call('pfcount', 'x')"),
    ("eval_ro", "return redis.call('spublish', 'ch', 'x')"),
]


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("script", ENVIRONMENT)
def test_environment(sdiff: Differ, script: str, proto: int) -> None:
    same(sdiff, "EVAL", script, 0, proto=proto)


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("script", ERRORS)
def test_errors(sdiff: Differ, script: str, proto: int) -> None:
    same(sdiff, "EVAL", script.replace("\\r\\n", "\r\n"), 0, proto=proto)


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("script", CONVERSIONS)
def test_conversions(sdiff: Differ, script: str, proto: int) -> None:
    same(sdiff, "EVAL", script.replace("\\r\\n", "\r\n"), 0, proto=proto)
    sdiff.compare_state()


@pytest.mark.parametrize("command,script", FLAG_SCRIPTS)
def test_read_only_and_flags(sdiff: Differ, command: str, script: str) -> None:
    same(sdiff, "SET", "x", "1")
    same(sdiff, command, script, 0)
    same(sdiff, "GET", "x")


def test_keys_and_argv(sdiff: Differ) -> None:
    script = "return {#KEYS, #ARGV, KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]}"
    same(sdiff, "EVAL", script, 2, "k1", "k2", "a1", "a2")
    same(sdiff, "EVAL", script, 0)
    same(sdiff, "EVAL", script, 0, "a1")
    same(sdiff, "EVAL", script, -1)
    same(sdiff, "EVAL", script, 3, "a")
    same(sdiff, "EVAL", script, "abc")
    same(sdiff, "EVAL", script, "1.5", "a")


def test_evalsha_and_script_commands(sdiff: Differ) -> None:
    body = "return redis.call('incr', KEYS[1])"
    sha = same(sdiff, "SCRIPT", "LOAD", body)[1]
    same(sdiff, "EVALSHA", sha, 1, "counter")
    same(sdiff, "EVALSHA", sha.upper(), 1, "counter")
    same(sdiff, "EVALSHA_RO", sha, 1, "counter")
    same(sdiff, "SCRIPT", "EXISTS", sha, sha.upper(), "0" * 40, "nope")
    same(sdiff, "EVALSHA", "deadbeef", 0)
    same(sdiff, "EVALSHA", "0" * 40, 0)
    same(sdiff, "EVALSHA", "deadbeef", -1)
    same(sdiff, "EVALSHA", "0" * 40, "x")
    same(sdiff, "SCRIPT", "FLUSH", "bogus")
    same(sdiff, "SCRIPT", "FLUSH", "SYNC", "x")
    same(sdiff, "SCRIPT", "FLUSH", "ASYNC")
    same(sdiff, "SCRIPT", "EXISTS", sha)
    same(sdiff, "EVALSHA", sha, 1, "counter")
    same(sdiff, "SCRIPT", "LOAD", "syntax error")
    same(sdiff, "SCRIPT", "LOAD", "#!bogus\nreturn 1")
    same(sdiff, "SCRIPT", "LOAD", "return 1", "x")
    same(sdiff, "SCRIPT", "EXISTS")
    same(sdiff, "SCRIPT", "NOSUCH")
    same(sdiff, "SCRIPT", "KILL")
    same(sdiff, "SCRIPT", "DEBUG", "maybe")
    same(sdiff, "SCRIPT", "DEBUG", "NO")
    same(sdiff, "SCRIPT", "FLUSH")
    same(sdiff, "EVAL", "return 1", 0)
    same(sdiff, "SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    sdiff.compare_state()


def test_select_inside_script_does_not_leak(sdiff: Differ) -> None:
    same(sdiff, "EVAL", "redis.call('select', 2) redis.call('set', 'k', 'in2') return redis.call('get', 'k')", 0)
    same(sdiff, "GET", "k")
    same(sdiff, "SELECT", "2")
    same(sdiff, "GET", "k")
    same(sdiff, "EVAL", "return redis.call('get', 'k')", 0)
    same(sdiff, "SELECT", "0")
    sdiff.compare_state()


def test_multi_exec_with_scripts(sdiff: Differ) -> None:
    for proto in (2, 3):
        same(sdiff, "MULTI", proto=proto)
        same(sdiff, "SET", "a", "1", proto=proto)
        same(sdiff, "EVAL", "return redis.call('incr', KEYS[1])", 1, "a", proto=proto)
        same(sdiff, "EVAL", "return {redis.call('get', 'a'), {ok='x'}, {err='E r'}}", 0, proto=proto)
        same(sdiff, "EVAL", "return redis.call('blpop', 'l', 0)", 0, proto=proto)
        same(sdiff, "EVAL", "return x", 0, proto=proto)
        same(sdiff, "EXEC", proto=proto)
    same(sdiff, "MULTI")
    same(sdiff, "EVAL", "return 1", "notanumber")
    same(sdiff, "EXEC")
    same(sdiff, "MULTI")
    same(sdiff, "EVAL")
    same(sdiff, "EXEC")
    sdiff.compare_state()


def test_watched_key_touched_by_script(sdiff: Differ) -> None:
    watcher = (sdiff.skv.conn(3), sdiff.ref.conn(3))
    for key, script in (("w", "return redis.call('set', 'w', 'changed')"),
                        ("w2", "return redis.call('get', 'w2')")):
        for conn in watcher:
            assert conn.call("WATCH", key)[0] == "status"
            assert conn.call("MULTI")[0] == "status"
            assert conn.call("GET", key)[0] == "status"
        same(sdiff, "EVAL", script, 0)
        got, want = (conn.call("EXEC") for conn in watcher)
        assert got == want


def test_client_reply_modes(sdiff: Differ) -> None:
    conns = (sdiff.skv.conn(2), sdiff.ref.conn(2))
    for conn in conns:
        conn.send("CLIENT", "REPLY", "SKIP")
        conn.send("EVAL", "return redis.call('set', 'r', 'skipped')", "0")
    same(sdiff, "EVAL", "return redis.call('get', 'r')", 0)
    for conn in conns:
        conn.send("CLIENT", "REPLY", "OFF")
        conn.send("EVAL", "return redis.call('set', 'r', 'off')", "0")
        conn.send("EVAL", "return x", "0")
    got, want = (conn.call("CLIENT", "REPLY", "ON") for conn in conns)
    assert got == want
    same(sdiff, "EVAL", "return redis.call('get', 'r')", 0)


def test_math_random_sequence_matches_redis() -> None:
    """redisLrand48: the same sequence as a fresh redis-server, across EVALs and seeds."""
    skv = ServerProcess(args=["--appendonly", "no"]).start()
    ref = RedisProcess().start()
    d = Differ(skv.port, ref.port)
    try:
        for _ in range(3):
            same(d, "EVAL", "return tostring(math.random())", 0)
        same(d, "EVAL", "local t = {} for i = 1, 50 do t[i] = math.random(1000) end return t", 0)
        same(d, "EVAL", "local t = {} for i = 1, 50 do t[i] = math.random(-5, 5) end return t", 0)
        same(d, "EVAL", "math.randomseed(42) return {tostring(math.random()), math.random(100)}", 0)
        same(d, "EVAL", "math.randomseed(-7) return {tostring(math.random()), math.random(7, 9)}", 0)
        same(d, "EVAL", "math.randomseed(2^31 + 5) return tostring(math.random())", 0)
        same(d, "EVAL", "return tostring(math.random())", 0)
    finally:
        d.close()
        skv.stop()
        skv.cleanup()
        ref.stop()
        ref.cleanup()


def _sorted_subcommands(reply: object) -> object:
    tag, entries = reply  # type: ignore[misc]
    out = []
    for entry in entries:
        fields = list(entry[1])
        fields[9] = ("array", sorted(fields[9][1], key=repr))
        out.append(fields)
    return tag, out


def _unordered(reply: object) -> object:
    """Arrays of field/value pairs compared as sets of pairs, recursively."""
    if isinstance(reply, tuple) and reply and reply[0] == "array":
        items = [_unordered(x) for x in reply[1]]
        if len(items) % 2 == 0 and all(isinstance(k, tuple) and k[0] == "bulk" for k in items[0::2]):
            return sorted(zip(items[0::2], items[1::2], strict=True), key=repr)
        return items
    return reply


def test_info_and_command_table(sdiff: Differ) -> None:
    for side in (sdiff.skv, sdiff.ref):
        side.call("SCRIPT", "LOAD", "return 1")
        side.call("SCRIPT", "LOAD", "return 2")
    infos = [side.call("INFO", "memory")[1].decode() for side in (sdiff.skv, sdiff.ref)]
    fields = [dict(line.split(":", 1) for line in info.splitlines() if ":" in line) for info in infos]
    lua_fields = [k for k in fields[1] if "lua" in k or "script" in k or "function" in k or "vm_" in k]
    assert lua_fields and all(k in fields[0] for k in lua_fields), lua_fields
    assert [k for k in fields[0] if k in lua_fields] == lua_fields  # same order
    assert fields[0]["number_of_cached_scripts"] == fields[1]["number_of_cached_scripts"] == "2"
    for name in ("eval", "evalsha", "eval_ro", "evalsha_ro", "script", "fcall", "fcall_ro", "function"):
        got, want = sdiff.both("COMMAND", "INFO", name)
        # (subcommands come in Redis's hash-table order, which changes with its hash seed)
        assert _sorted_subcommands(got) == _sorted_subcommands(want), name
        got, want = sdiff.both("COMMAND", "DOCS", name)
        # (the order of the fields inside an argument's map is a COMMAND DOCS matter, not ours)
        assert _unordered(got) == _unordered(want), name
