"""The Lua side of the sandbox: Redis 7.0's script environment built in plain Lua 5.1.

Redis runs scripts in a patched Lua whose tables can be made read-only
(``lua_enablereadonlytable``): the globals and every library table reachable
from them refuse changes, so one script cannot redefine ``redis.call`` or
``string.format`` for the next.  lupa embeds an unpatched Lua 5.1, so this
prelude builds the same behaviour from proxies:

* every protected table is an empty *proxy* whose metatable forwards reads to
  the real table and raises "Attempt to modify a readonly table" on writes;
* ``rawset``, ``setmetatable``, ``table.insert/remove/sort/setn`` refuse
  proxies, and ``rawget``, ``next``, ``pairs``, ``ipairs``, ``getmetatable``
  see through them, so scripts observe Redis's tables, not the proxies;
* scripts run with ``setfenv`` on a proxy of the environment (eval and
  functions each have their own), whose misses raise "Script attempted to
  access nonexistent global variable";
* ``loadstring``/``load`` refuse precompiled chunks (Lua 5.1 bytecode is not
  verified: a crafted chunk escapes any sandbox) and give what they compile
  the caller's environment.

Python reaches nothing here but the table this chunk returns; scripts reach
Python only through the callbacks captured as upvalues below (never as
values), so no Python object is ever visible to a script.  Frames of this
chunk are named ``=sentrykv`` and skipped when errors are attributed to a
script line.
"""

from __future__ import annotations

PRELUDE = r"""
local py = ...
local py_call, py_hook, py_log, py_sha1, py_setresp, py_setrepl = py[1], py[2], py[3], py[4], py[5], py[6]
local py_acl, py_register, py_errtext, py_patch = py[7], py[8], py[9], py[10]

local G = _G
local dbg = G.debug
local getinfo, sethook = dbg.getinfo, dbg.sethook
local type, error, tostring, tonumber, select, next = type, error, tostring, tonumber, select, next
local rawget, rawset, rawequal, setmetatable, getmetatable = rawget, rawset, rawequal, setmetatable, getmetatable
local pcall, xpcall, unpack, setfenv, loadstring, load = pcall, xpcall, unpack, setfenv, loadstring, load
local ipairs0, pairs0 = ipairs, pairs
local sbyte, sformat, slower, sdump = string.byte, string.format, string.lower, string.dump
local tconcat = table.concat
local floor = math.floor
local co_create, co_wrap = coroutine.create, coroutine.wrap
local INTERNAL = "=sentrykv"
local RO = "Attempt to modify a readonly table"

-- Proxies -------------------------------------------------------------------------------
local real_of = {}   -- proxy -> the table it stands for
local shown_mt = {}  -- proxy -> what getmetatable() answers for it (nil: no metatable)

local function ro_assign() error(RO, 2) end

local function protect(t)
  local p = {}
  real_of[p] = t
  setmetatable(p, {__index = t, __newindex = ro_assign})
  return p
end

local function copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  return c
end

local function reject_proxy(t)
  if real_of[t] then error(RO, 0) end
end

local function s_rawget(t, k)
  return rawget(real_of[t] or t, k)
end
local function s_rawset(t, k, v)
  reject_proxy(t)
  return rawset(t, k, v)
end
local function s_next(t, k)
  return next(real_of[t] or t, k)
end
local function s_pairs(t)
  if real_of[t] then return s_next, t, nil end
  return pairs0(t)
end
local function s_ipairs(t)
  local real = real_of[t]
  if real then return ipairs0(real) end
  return ipairs0(t)
end
local function s_getmetatable(t)
  if real_of[t] then return shown_mt[t] end
  return getmetatable(t)
end
local function s_setmetatable(t, mt)
  reject_proxy(t)
  return setmetatable(t, mt)
end

-- Library tables --------------------------------------------------------------------------
local function table_writer(fn)
  return function(t, ...)
    reject_proxy(t)
    return fn(t, ...)
  end
end
local tbl = copy(table)
tbl.insert = table_writer(table.insert)
tbl.remove = table_writer(table.remove)
tbl.sort = table_writer(table.sort)
if table.setn then tbl.setn = table_writer(table.setn) end

-- math.random / math.randomseed: Redis's own rand48 (redisLrand48), one sequence per
-- server, never reseeded behind the script's back.  48-bit state as two 24-bit halves
-- so every product stays exact in a double.
local TWO24 = 16777216
local X_HI, X_LO = 0x1234AB, 0xCD330E
local A_HI, A_LO = 0x5DE, 0xECE66D
local RAND_MAX = 2147483647

local function lrand48()
  local lo = A_LO * X_LO + 0xB
  local carry = floor(lo / TWO24)
  lo = lo - carry * TWO24
  local hi = (A_HI * X_LO + A_LO * X_HI + carry) % TWO24
  X_HI, X_LO = hi, lo
  return hi * 128 + floor(lo / 131072)
end

local function trunc(n)
  if n >= 0 then return floor(n) end
  return -floor(-n)
end

local function callee_name(level)
  local info = getinfo(level + 1, "n")
  return (info and info.name) or "?"
end

local function checkint(i, v, level)
  local n = tonumber(v)
  if n == nil then
    local got = v == nil and "no value" or type(v)
    error(sformat("bad argument #%d to '%s' (number expected, got %s)", i, callee_name(level), got), level + 1)
  end
  return trunc(n)
end

local function random(...)
  local r = (lrand48() % RAND_MAX) / RAND_MAX
  local n = select("#", ...)
  if n == 0 then
    return r
  elseif n == 1 then
    local u = checkint(1, (...), 2)
    if u < 1 then error(sformat("bad argument #1 to '%s' (interval is empty)", callee_name(1)), 2) end
    return floor(r * u) + 1
  elseif n == 2 then
    local l, u = ...
    l = checkint(1, l, 2)
    u = checkint(2, u, 2)
    if l > u then error(sformat("bad argument #2 to '%s' (interval is empty)", callee_name(1)), 2) end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 2)
end

local function randomseed(seed)
  local s = checkint(1, seed, 2) % 4294967296
  X_LO = (s % 256) * 65536 + 0x330E
  X_HI = floor(s / 256)
end

local mth = copy(math)
mth.random = random
mth.randomseed = randomseed

-- The count hook: slow-script detection and SCRIPT KILL / FUNCTION KILL ----------------
local hook_mask, hook_count = nil, 0

local function hook()
  local verdict = py_hook()
  -- Raise only in the script's own code: never inside the error handler or a wrapper.
  if verdict and getinfo(2, "S").source ~= INTERNAL then
    -- From now on every line raises again, so pcall cannot swallow the kill.
    hook_mask, hook_count = "l", 0
    sethook(hook, "l")
    error({err = verdict}, 0)
  end
end

local function install_hook()
  if hook_mask then sethook(hook, hook_mask, hook_count) end
end

local function set_hook(count)
  if count and count > 0 then
    hook_mask, hook_count = "", count
    sethook(hook, "", count)
  else
    hook_mask, hook_count = nil, 0
    sethook()
  end
end

-- A new coroutine does not inherit a Lua hook function: give it ours.
local co = copy(coroutine)
local function lua_function(f, fname)
  if type(f) ~= "function" or getinfo(f, "S").what == "C" then
    error(sformat("bad argument #1 to '%s' (Lua function expected)", fname), 3)
  end
end
co.create = function(f)
  lua_function(f, callee_name(1))
  return co_create(function(...) install_hook() return f(...) end)
end
co.wrap = function(f)
  lua_function(f, callee_name(1))
  return co_wrap(function(...) install_hook() return f(...) end)
end

-- The string metatable would hand scripts the real string table.
local P_string = protect(copy(string))
local string_mt = getmetatable("")
string_mt.__index = P_string
local P_string_mt = protect(string_mt)
string_mt.__metatable = P_string_mt

-- The redis API ------------------------------------------------------------------------
local function lib_error(msg) error({err = "ERR " .. msg}) end

local function fmt_args(...)
  local n = select("#", ...)
  local t = {...}
  for i = 1, n do
    if type(t[i]) == "number" then t[i] = sformat("%.17g", t[i]) end
  end
  return unpack(t, 1, n)
end

-- py_call answers the converted reply alone (one value: the common case, no table and
-- no second value to check), or (value, kind) for the rest: kind 1 status, 2 command
-- error (raised by call), 3 library error, 4 "format the numeric arguments in Lua and
-- ask again" (-0, NaN).  A kind is never nil, so a nil second value means "a reply".
local function call_slow(raise, v, kind, ...)
  if kind == 4 then
    v, kind = py_call(fmt_args(...))
    if kind == nil then return v end
  end
  if kind == 1 then return {ok = v} end
  local e
  if kind == 2 then e = {err = v, ignore_error_stats_update = true} else e = {err = v} end
  if raise then error(e) end
  return e
end

local function r_call(...)
  local v, kind = py_call(...)
  if kind == nil then return v end
  if kind == 1 then return {ok = v} end
  return call_slow(true, v, kind, ...)
end

local function r_pcall(...)
  local v, kind = py_call(...)
  if kind == nil then return v end
  if kind == 1 then return {ok = v} end
  return call_slow(false, v, kind, ...)
end

local function r_acl_check_cmd(...)
  local kind, v = py_acl(...)
  if kind == 4 then kind, v = py_acl(fmt_args(...)) end
  if kind == 0 then return v end
  error({err = v})
end

local function r_log(...)
  local n = select("#", ...)
  if n < 2 then lib_error("redis.log() requires two arguments or more.") end
  local level = tonumber((...))
  if level == nil then lib_error("First argument must be a number (log level).") end
  level = trunc(level)
  if level < 0 or level > 3 then lib_error("Invalid debug level.") end
  local parts, first = {}, true
  for i = 2, n do
    local s = select(i, ...)
    local t = type(s)
    if t == "string" or t == "number" then
      if i ~= 2 then parts[#parts + 1] = " " end
      parts[#parts + 1] = tostring(s)
    end
  end
  py_log(level, tconcat(parts))
end

local function r_sha1hex(...)
  if select("#", ...) ~= 1 then lib_error("wrong number of arguments") end
  local s = ...
  if type(s) == "number" then s = tostring(s) elseif type(s) ~= "string" then s = "" end
  return py_sha1(s)
end

-- redis.error_reply / redis.status_reply take exactly one string; otherwise they
-- RETURN (not raise) an error table, as Redis does.
local BAD_REPLY_ARGS = "ERR wrong number or type of arguments"

local function one_string(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then return nil end
  return s
end

local function r_error_reply(...)
  local s = one_string(...)
  if s == nil then return {err = BAD_REPLY_ARGS} end
  return {err = py_errtext(s)}
end

local function r_status_reply(...)
  local s = one_string(...)
  if s == nil then return {err = BAD_REPLY_ARGS} end
  return {ok = s}
end

local function r_setresp(...)
  if select("#", ...) ~= 1 then lib_error("redis.setresp() requires one argument.") end
  local resp = trunc(tonumber((...)) or 0)
  if resp ~= 2 and resp ~= 3 then lib_error("RESP version must be 2 or 3.") end
  py_setresp(resp)
end

local function r_set_repl(...)
  if select("#", ...) ~= 1 then lib_error("redis.set_repl() requires two arguments.") end
  local flags = trunc(tonumber((...)) or 0)
  if flags < 0 or flags > 3 then
    lib_error("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
  end
  py_setrepl(flags)
end

local function redis_api(eval_mode)
  local r = {
    call = r_call, pcall = r_pcall, log = r_log, sha1hex = r_sha1hex,
    error_reply = r_error_reply, status_reply = r_status_reply, setresp = r_setresp,
    set_repl = r_set_repl, acl_check_cmd = r_acl_check_cmd,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = "7.0.15", REDIS_VERSION_NUM = 458767,
    REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  }
  if eval_mode then
    r.breakpoint = function() return false end
    r.debug = function() end
    r.replicate_commands = function() return true end
  end
  return protect(r)
end

-- Errors -------------------------------------------------------------------------------
-- Redis's __redis__err__handler: turn any error into {err=...} and attribute it to the
-- script line that caused it (skipping one C frame, and every frame of this chunk).
local function skip_internal(lvl)
  local i = getinfo(lvl, "Sl")
  while i and (i.source == INTERNAL or i.what == "tail") do
    lvl = lvl + 1
    i = getinfo(lvl, "Sl")
  end
  return lvl, i
end

local function err_handler(err)
  local lvl, i = skip_internal(2)
  if i and i.what == "C" then lvl, i = skip_internal(lvl + 1) end
  if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
  if i then
    err["source"] = i.source
    err["line"] = i.currentline
  end
  return err
end

-- The Redis-compatible pcall: an error table from redis.call comes back as its message.
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == "table" then
    local m = e.err
    if type(m) == "string" or type(m) == "number" then e = m end
  end
  return false, e
end
local function s_pcall(f, ...)
  return pcall_result(pcall(f, ...))
end

-- Compiling: source only, tail calls made ordinary calls (see scripting/bytecode.py).
local function binary(s)
  return type(s) == "string" and sbyte(s, 1) == 27
end

local function compile(code, name, env)
  if binary(code) then return nil, "binary chunks are not allowed" end
  local f, e = loadstring(code, name)
  if not f then return nil, e end
  f = loadstring(py_patch(sdump(f)), name)
  setfenv(f, env)
  return f
end

-- Environments -------------------------------------------------------------------------
local function missing_global(...)
  -- Redis's luaProtectedTableError, which a script can also call directly.
  if select("#", ...) ~= 2 then error("Wrong number of arguments to luaProtectedTableError", 2) end
  local _, k = ...
  if type(k) ~= "string" and type(k) ~= "number" then
    error("Second argument to luaProtectedTableError must be a string or number", 2)
  end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

local function environment(eval_mode, libs)
  local env = setmetatable({}, {__index = missing_global})
  local P_G = {}
  local G_mt = {__index = env, __newindex = ro_assign}
  setmetatable(P_G, G_mt)
  real_of[P_G] = env
  shown_mt[P_G] = protect({__index = missing_global})

  local function s_loadstring(s, name)
    if type(s) == "number" then s = tostring(s) end
    if type(s) ~= "string" then
      error(sformat("bad argument #1 to '%s' (string expected, got %s)", callee_name(1), type(s)), 2)
    end
    return compile(s, name or s, P_G)
  end
  local function s_load(reader, name)
    if type(reader) ~= "function" then
      error(sformat("bad argument #1 to '%s' (function expected, got %s)", callee_name(1), type(reader)), 2)
    end
    -- Lua's own load reads the chunk piece by piece (a reader that never ends meets a
    -- syntax error, not an endless loop); only a binary first piece is cut short.
    local first, is_binary = true, false
    local function guarded()
      if is_binary then return nil end
      local piece = reader()
      if first and piece ~= nil and piece ~= "" then
        first = false
        if binary(piece) then is_binary = true return nil end
      end
      return piece
    end
    local f, e = load(guarded, name)
    if is_binary then return nil, "binary chunks are not allowed" end
    if not f then return nil, e end
    f = loadstring(py_patch(sdump(f)), name or "=(load)")
    setfenv(f, P_G)
    return f
  end

  env._G = P_G
  env._VERSION = G._VERSION
  env.assert = G.assert
  env.collectgarbage = G.collectgarbage
  env.error = error
  env.gcinfo = G.gcinfo
  env.getmetatable = s_getmetatable
  env.ipairs = s_ipairs
  env.load = s_load
  env.loadstring = s_loadstring
  env.next = s_next
  env.pairs = s_pairs
  env.pcall = s_pcall
  env.rawequal = rawequal
  env.rawget = s_rawget
  env.rawset = s_rawset
  env.select = select
  env.setmetatable = s_setmetatable
  env.tonumber = tonumber
  env.tostring = tostring
  env.type = type
  env.unpack = unpack
  env.xpcall = xpcall
  env.coroutine = protect(co)
  env.math = protect(mth)
  env.string = P_string
  env.table = protect(tbl)
  env.redis = redis_api(eval_mode)
  for name, lib in next, libs do env[name] = lib end
  if eval_mode then env.__redis__err__handler = err_handler end
  return env, P_G, G_mt
end

-- The four libraries (cjson, cmsgpack, struct, bit) were installed into the real
-- globals by sentrykv_server.scripting.libs.install before this chunk ran.
local libs = {}
for _, name in ipairs0({"bit", "cjson", "cmsgpack", "struct"}) do
  local lib = rawget(G, name)
  if type(lib) == "table" then libs[name] = protect(copy(lib)) else libs[name] = lib end
end

local eval_env, eval_G = environment(true, libs)
local func_env, func_G, func_G_mt = environment(false, libs)

-- FUNCTION LOAD sees only redis.register_function, redis.log and the version fields.
local load_api = setmetatable({}, {__index = missing_global})
local load_redis_real = setmetatable({
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = "7.0.15", REDIS_VERSION_NUM = 458767, log = r_log,
}, {__index = missing_global})
local load_redis = protect(load_redis_real)
load_api.redis = load_redis

local function lower_key(k)
  if type(k) == "string" or type(k) == "number" then return slower(tostring(k)) end
  return nil
end

local FLAGS = {["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
               ["no-cluster"] = true, ["allow-cross-slot-keys"] = true}

local function read_flags(t)
  local out, j = {}, 1
  while true do
    local f = t[j]
    if f == nil then break end
    if type(f) ~= "string" and type(f) ~= "number" then return nil end
    f = slower(tostring(f))
    if not FLAGS[f] then return nil end
    out[#out + 1] = f
    j = j + 1
  end
  return out
end

local function register_function(...)
  local n = select("#", ...)
  if n < 1 or n > 2 then lib_error("wrong number of arguments to redis.register_function") end
  local name, desc, callback, flags
  if n == 1 then
    local args = ...
    if type(args) ~= "table" then
      lib_error("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for k, v in next, args do
      local key = lower_key(k)
      if key == nil then lib_error("named argument key given to redis.register_function is not a string") end
      if key == "function_name" then
        if type(v) ~= "string" and type(v) ~= "number" then
          lib_error("function_name argument given to redis.register_function must be a string")
        end
        name = tostring(v)
      elseif key == "description" then
        if type(v) ~= "string" and type(v) ~= "number" then
          lib_error("description argument given to redis.register_function must be a string")
        end
        desc = tostring(v)
      elseif key == "callback" then
        if type(v) ~= "function" then
          lib_error("callback argument given to redis.register_function must be a function")
        end
        callback = v
      elseif key == "flags" then
        if type(v) ~= "table" then
          lib_error("flags argument to redis.register_function must be a table representing function flags")
        end
        flags = read_flags(v)
        if flags == nil then lib_error("unknown flag given") end
      else
        lib_error("unknown argument given to redis.register_function")
      end
    end
    if name == nil then lib_error("redis.register_function must get a function name argument") end
    if callback == nil then lib_error("redis.register_function must get a callback argument") end
  else
    local a, b = ...
    if type(a) ~= "string" and type(a) ~= "number" then
      lib_error("first argument to redis.register_function must be a string")
    end
    if type(b) ~= "function" then
      lib_error("second argument to redis.register_function must be a function")
    end
    name, callback = tostring(a), b
  end
  local problem = py_register(name, desc, callback, unpack(flags or {}))
  if problem then lib_error(problem) end
end
load_redis_real.register_function = register_function

-- Entry points for Python ----------------------------------------------------------------
local api = {}

function api.compile_eval(body, chunkname)
  local f, e = compile(body, chunkname, eval_G)
  if not f then return nil, e end
  return f, false
end

-- KEYS and ARGV from the arguments after nkeys (two fresh tables per call, as Redis
-- makes them: a script may keep or change them); the hook (re)installed when it changed.
-- KEYS is built by the table constructor and its tail moved to ARGV: every slot past
-- nkeys is nil, so #KEYS, ipairs and next see exactly the keys.
local function prepare(hook, nkeys, ...)
  if hook ~= hook_count or hook_mask ~= "" then set_hook(hook) end
  local keys, args = {...}, {}
  local n = select("#", ...)
  for i = nkeys + 1, n do
    args[i - nkeys] = keys[i]
    keys[i] = nil
  end
  return keys, args
end

-- Success answers the script's value alone; failure answers (false, error table), so
-- Python tells them apart by the type of what it gets (a tuple only on failure).
function api.run_eval(fn, hook, nkeys, ...)
  local keys, args = prepare(hook, nkeys, ...)
  eval_env.KEYS = keys  -- eval_env's metatable has no __newindex: a plain store
  eval_env.ARGV = args
  local ok, res = xpcall(fn, err_handler)
  if ok then return res end
  return false, res
end

-- One trampoline for every FCALL (xpcall passes no arguments in Lua 5.1): scripts never
-- nest, so the current call lives in these upvalues.
local cur_fn, cur_keys, cur_args
local function call_function()
  return cur_fn(cur_keys, cur_args)
end

function api.run_function(fn, hook, nkeys, ...)
  cur_fn = fn
  cur_keys, cur_args = prepare(hook, nkeys, ...)
  local ok, res = xpcall(call_function, err_handler)
  cur_fn, cur_keys, cur_args = nil, nil, nil
  if ok then return res end
  return false, res
end

-- Compile and run a library's code with the load-time API; the callbacks it registers
-- reach Python through py_register.  ok, nil on success; nil, message on failure.
function api.load_library(code, hook)
  local f, e = compile(code, "@user_function", func_G)
  if not f then return nil, "Error compiling function: " .. tostring(e) end
  func_G_mt.__index = load_api
  set_hook(hook)
  local ok, res = xpcall(f, err_handler)
  set_hook(0)
  func_G_mt.__index = func_env
  if not ok then
    local msg = type(res) == "table" and res.err or res
    return nil, "Error registering functions: " .. tostring(msg)
  end
  return true, false
end

function api.error_info(e)
  if type(e) ~= "table" then return nil, nil, nil end
  local m, s, l = rawget(e, "err"), rawget(e, "source"), rawget(e, "line")
  if type(m) == "number" then m = tostring(m) end
  if type(m) ~= "string" then m = nil end
  if type(s) ~= "string" then s = nil end
  if type(l) == "number" then l = tostring(l) end
  if type(l) ~= "string" then l = nil end
  return m, s, l
end

function api.memory()
  return collectgarbage("count")
end

-- Nothing outside this chunk keeps the real globals' dangerous entries.
for _, name in ipairs0({"python", "os", "io", "package", "debug", "require", "module", "dofile",
                        "loadfile", "print", "newproxy", "getfenv", "setfenv"}) do
  rawset(G, name, nil)
end
return api
"""
