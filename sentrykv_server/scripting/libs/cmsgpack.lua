-- lua-cmsgpack 0.4.0 ("cmsgpack") as Redis 7.0 embeds it (lua_cmsgpack.c), in pure Lua 5.1.
--
-- Encoding: a table whose keys are exactly 1..n is an array, anything else a map (keys
-- in next() order); integral numbers in the int64 range are integers in the smallest
-- msgpack form, other numbers float32 when that is exact, else float64; tables nested
-- 16 deep, functions, userdata and nil are nil.  Decoding understands what Redis's copy
-- understands (no bin/ext types: "Bad data format in input.").  The C library's Lua
-- stack checks (LUAI_MAXCSTACK) are reproduced slot for slot, so the same inputs fail
-- with the same "stack overflow (...)" messages.
local S = ...

local type, select, next, error = type, select, next, error
local byte, char, sub, format = string.byte, string.char, string.sub, string.format
local concat = table.concat
local floor = math.floor
local raise, argerror, checkstring, checkinteger = S.raise, S.argerror, S.checkstring,
  S.checkinteger
local toint32, multret = S.toint32, S.multret
local float_exact, float_be, double_be = S.float_exact, S.float_be, S.double_be
local float_from_be, double_from_be = S.float_from_be, S.double_from_be
local MAXCSTACK = S.MAXCSTACK

local MAX_NESTING = 16
local W = 4294967296
local TWO63 = 9223372036854775808
local INT_MAX = 2147483647

---------------------------------------------------------------------------------------
-- Encoding
---------------------------------------------------------------------------------------

-- Output pieces of the pack() in progress, reused from call to call (packing never runs
-- script code, so it cannot be re-entered).
local buf, nb, busy = {}, 0, false
local packfn               -- the public pack function (for error positions)

local CHR = {}             -- one-byte strings, no string.char call on the hot path
for i = 0, 255 do CHR[i] = char(i) end

local function overflow(what)
  raise(packfn, format("stack overflow (in function %s)", what))
end

local function be32(n)
  return floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256, n % 256
end

local function enc_int(n)
  if n >= 0 then
    if n <= 127 then return CHR[n] end
    if n <= 255 then return char(0xcc, n) end
    if n <= 65535 then return char(0xcd, floor(n / 256), n % 256) end
    if n <= 4294967295 then return char(0xce, be32(n)) end
    local hi = floor(n / W)
    local h1, h2, h3, h4 = be32(hi)
    return char(0xcf, h1, h2, h3, h4, be32(n - hi * W))
  end
  if n >= -32 then return CHR[n + 256] end
  if n >= -128 then return char(0xd0, n + 256) end
  if n >= -32768 then
    local u = n + 65536
    return char(0xd1, floor(u / 256), u % 256)
  end
  if n >= -2147483648 then return char(0xd2, be32(n + W)) end
  local hi = floor(n / W)
  local lo = n - hi * W
  local h1, h2, h3, h4 = be32(hi + W)
  return char(0xd3, h1, h2, h3, h4, be32(lo))
end

local function enc_number(n)
  -- IS_INT64_EQUIVALENT: finite and (int64_t)n == n
  if n == floor(n) and n >= -TWO63 and n < TWO63 then return enc_int(n) end
  if float_exact(n) then return char(0xca, float_be(n)) end
  return char(0xcb, double_be(n))
end

local function str_header(len)
  if len < 32 then return CHR[0xa0 + len] end
  if len <= 0xff then return char(0xd9, len) end
  if len <= 0xffff then return char(0xda, floor(len / 256), len % 256) end
  return char(0xdb, be32(len % W))
end

local function array_header(n)
  if n <= 15 then return CHR[0x90 + n] end
  if n <= 65535 then return char(0xdc, floor(n / 256), n % 256) end
  return char(0xdd, be32(n % W))
end

local function map_header(n)
  if n <= 15 then return CHR[0x80 + n] end
  if n <= 65535 then return char(0xde, floor(n / 256), n % 256) end
  return char(0xdf, be32(n % W))
end

-- table_is_an_array(): only keys 1..n, n being the number of keys.
local function is_array(t)
  local count, max = 0, 0
  for k in next, t do
    if type(k) ~= "number" or k <= 0 or k ~= floor(k) or k > INT_MAX then return false end
    if k > max then max = k end
    count = count + 1
  end
  return max == count
end

local encode

-- `top`: slots in use in the C function's frame with the value on top of it; the
-- luaL_checkstack calls of the C encoder are reproduced against it.
encode = function(v, level, top)
  local t = type(v)
  if t == "string" then
    buf[nb + 1] = str_header(#v); buf[nb + 2] = v
    nb = nb + 2
  elseif t == "number" then
    nb = nb + 1
    if v >= 0 and v <= 127 and v == floor(v) then buf[nb] = CHR[v] else buf[nb] = enc_number(v) end
  elseif t == "boolean" then
    nb = nb + 1; buf[nb] = v and "\195" or "\194"
  elseif t == "table" and level ~= MAX_NESTING then
    if top + 2 > MAXCSTACK then overflow("table_is_an_array") end
    if is_array(v) then
      local n = #v
      nb = nb + 1; buf[nb] = array_header(n)
      if top + 1 > MAXCSTACK then overflow("mp_encode_lua_table_as_array") end
      for j = 1, n do encode(v[j], level + 1, top + 1) end
    else
      if top + 3 > MAXCSTACK then overflow("mp_encode_lua_table_as_map") end
      local n = 0
      for _ in next, v do n = n + 1 end
      nb = nb + 1; buf[nb] = map_header(n)
      for k, x in next, v do
        if type(k) == "string" then
          buf[nb + 1] = str_header(#k); buf[nb + 2] = k
          nb = nb + 2
        else
          encode(k, level + 1, top + 3)
        end
        encode(x, level + 1, top + 2)
      end
    end
  else
    nb = nb + 1; buf[nb] = "\192"
  end
end

local function pack(...)
  local nargs = select("#", ...)
  if nargs == 0 then argerror(pack, "pack", 0, "MessagePack pack needs input.") end
  if nargs + nargs > MAXCSTACK then
    argerror(pack, "pack", 0, "Too many arguments for MessagePack pack.")
  end
  packfn = pack
  if busy then buf = {} end        -- the last call raised: drop what it left behind
  busy, nb = true, 0
  if nargs == 1 then
    encode((...), 0, 2)
  else
    local args = { ... }
    for i = 1, nargs do
      if nargs + i > MAXCSTACK then overflow("mp_check") end
      encode(args[i], 0, nargs + i)
    end
  end
  local out = concat(buf, "", 1, nb)
  if nb > 4096 then buf = {} end   -- do not keep a big call's pieces alive
  busy = false
  return out
end

---------------------------------------------------------------------------------------
-- Decoding
---------------------------------------------------------------------------------------

local unpackfn             -- the public function running (unpack, unpack_one, ...)
local data, dlen           -- input string and its length

local function eof() raise(unpackfn, "Missing bytes in input.") end

local decode

local function decode_array(pos, len, top)
  local t = {}
  if top + 2 > MAXCSTACK then
    raise(unpackfn, "stack overflow (in function mp_decode_to_lua_array)")
  end
  for i = 1, len do
    local v
    v, pos = decode(pos, top + 2)
    t[i] = v
  end
  return t, pos
end

local function decode_map(pos, len, top)
  local t = {}
  for _ = 1, len do
    local k, v
    -- a short string key (the usual case) is read here; anything else by decode()
    local c = byte(data, pos)
    if c and c >= 0xa0 and c < 0xc0 and top + 2 <= MAXCSTACK and pos + c - 0xa0 <= dlen then
      local e = pos + c - 0xa0
      k, pos = sub(data, pos + 1, e), e + 1
    else
      k, pos = decode(pos, top + 1)
    end
    v, pos = decode(pos, top + 2)
    if k == nil then error("table index is nil", 0) end
    if k ~= k then error("table index is NaN", 0) end
    t[k] = v
  end
  return t, pos
end

-- Decode the object at data[pos]; `top` = slots in use before it is pushed.
decode = function(pos, top)
  if pos > dlen then eof() end
  if top + 1 > MAXCSTACK then
    raise(unpackfn, "stack overflow (too many return values at once; " ..
      "use unpack_one or unpack_limit instead.)")
  end
  local c = byte(data, pos)
  if c < 0x80 then return c, pos + 1 end
  if c >= 0xe0 then return c - 256, pos + 1 end
  if c < 0x90 then return decode_map(pos + 1, c - 0x80, top) end
  if c < 0xa0 then return decode_array(pos + 1, c - 0x90, top) end
  if c < 0xc0 then
    local e = pos + c - 0xa0
    if e > dlen then eof() end
    return sub(data, pos + 1, e), e + 1
  end
  if c == 0xc0 then return nil, pos + 1 end
  if c == 0xc2 then return false, pos + 1 end
  if c == 0xc3 then return true, pos + 1 end
  if c == 0xcc or c == 0xd0 then
    if pos + 1 > dlen then eof() end
    local b = byte(data, pos + 1)
    if c == 0xd0 and b >= 128 then b = b - 256 end
    return b, pos + 2
  end
  if c == 0xcd or c == 0xd1 then
    if pos + 2 > dlen then eof() end
    local b1, b2 = byte(data, pos + 1, pos + 2)
    local v = b1 * 256 + b2
    if c == 0xd1 and v >= 32768 then v = v - 65536 end
    return v, pos + 3
  end
  if c == 0xce or c == 0xd2 then
    if pos + 4 > dlen then eof() end
    local b1, b2, b3, b4 = byte(data, pos + 1, pos + 4)
    local v = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    if c == 0xd2 and v >= 2147483648 then v = v - W end
    return v, pos + 5
  end
  if c == 0xcf or c == 0xd3 then
    -- both reach Lua through an int64_t: values >= 2^63 wrap to negative
    if pos + 8 > dlen then eof() end
    local b1, b2, b3, b4, b5, b6, b7, b8 = byte(data, pos + 1, pos + 8)
    local hi = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    local lo = ((b5 * 256 + b6) * 256 + b7) * 256 + b8
    if hi >= 2147483648 then hi = hi - W end
    return hi * W + lo, pos + 9
  end
  if c == 0xca then
    if pos + 4 > dlen then eof() end
    return float_from_be(byte(data, pos + 1, pos + 4)), pos + 5
  end
  if c == 0xcb then
    if pos + 8 > dlen then eof() end
    return double_from_be(byte(data, pos + 1, pos + 8)), pos + 9
  end
  if c == 0xd9 then
    if pos + 1 > dlen then eof() end
    local e = pos + 1 + byte(data, pos + 1)
    if e > dlen then eof() end
    return sub(data, pos + 2, e), e + 1
  end
  if c == 0xda then
    if pos + 2 > dlen then eof() end
    local b1, b2 = byte(data, pos + 1, pos + 2)
    local e = pos + 2 + b1 * 256 + b2
    if e > dlen then eof() end
    return sub(data, pos + 3, e), e + 1
  end
  if c == 0xdb then
    if pos + 4 > dlen then eof() end
    local b1, b2, b3, b4 = byte(data, pos + 1, pos + 4)
    local e = pos + 4 + ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    if e > dlen then eof() end
    return sub(data, pos + 5, e), e + 1
  end
  if c == 0xdc or c == 0xde then
    if pos + 2 > dlen then eof() end
    local b1, b2 = byte(data, pos + 1, pos + 2)
    if c == 0xdc then return decode_array(pos + 3, b1 * 256 + b2, top) end
    return decode_map(pos + 3, b1 * 256 + b2, top)
  end
  if c == 0xdd or c == 0xdf then
    if pos + 4 > dlen then eof() end
    local b1, b2, b3, b4 = byte(data, pos + 1, pos + 4)
    local n = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    if c == 0xdd then return decode_array(pos + 5, n, top) end
    return decode_map(pos + 5, n, top)
  end
  raise(unpackfn, "Bad data format in input.")
end

-- mp_unpack_full(): `limit` and `offset` are lua_Integers; 0/0 means "decode all".
local function unpack_full(fn, s, limit, offset)
  local len = #s
  if offset < 0 or limit < 0 then
    raise(fn, format("Invalid request to unpack with offset of %d and limit of %d.",
      toint32(offset), toint32(len)))
  elseif offset > len then
    raise(fn, format("Start offset %d greater than input length %d.",
      toint32(offset), toint32(len)))
  end
  local decode_all = limit == 0 and offset == 0
  if decode_all then limit = INT_MAX end
  unpackfn, data, dlen = fn, s, len
  local res, cnt = {}, 0
  local pos = offset + 1
  while pos <= len and cnt < limit do
    local v
    v, pos = decode(pos, 1 + cnt)
    cnt = cnt + 1
    res[cnt] = v
  end
  data = nil
  if decode_all then return res, cnt end
  if 1 + cnt + 1 > MAXCSTACK then
    raise(fn, "stack overflow (in function mp_unpack_full)")
  end
  local out = { pos > len and -1 or pos - 1 }
  for i = 1, cnt do out[i + 1] = res[i] end
  return out, cnt + 1
end

local unpack, unpack_one, unpack_limit

unpack = function(...)
  local s = checkstring(unpack, "unpack", 1, (...), select("#", ...))
  local res, n = unpack_full(unpack, s, 0, 0)
  return multret(res, n)
end

unpack_one = function(...)
  local n = select("#", ...)
  local s, offset = ...
  if offset == nil then offset = 0
  else offset = checkinteger(unpack_one, "unpack_one", 2, offset, n) end
  s = checkstring(unpack_one, "unpack_one", 1, s, n)
  local res, cnt = unpack_full(unpack_one, s, 1, offset)
  return multret(res, cnt)
end

unpack_limit = function(...)
  local n = select("#", ...)
  local s, limit, offset = ...
  limit = checkinteger(unpack_limit, "unpack_limit", 2, limit, n)
  if offset == nil then offset = 0
  else offset = checkinteger(unpack_limit, "unpack_limit", 3, offset, n) end
  s = checkstring(unpack_limit, "unpack_limit", 1, s, n)
  local res, cnt = unpack_full(unpack_limit, s, limit, offset)
  return multret(res, cnt)
end

-- Built field by field like luaopen_create(), so pairs() follows Redis's order.
local M = {}
M.pack = pack
M.unpack = unpack
M.unpack_one = unpack_one
M.unpack_limit = unpack_limit
M._NAME = "cmsgpack"
M._VERSION = "lua-cmsgpack 0.4.0"
M._COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo"
M._DESCRIPTION = "MessagePack C implementation for Lua"
return M
