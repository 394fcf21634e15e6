-- Shared helpers of the four libraries Redis embeds (cjson, cmsgpack, struct, bit).
--
-- Loaded once per runtime by sentrykv_server/scripting/libs/__init__.py, which passes
-- the values below and hands the returned table to every library chunk.  Everything a
-- library needs from the standard library is captured here as an upvalue, so a script
-- that rebinds string.format or math.floor cannot change how the libraries behave
-- (Redis's libraries are C code and are not affected either).
--
-- The C libraries report errors through luaL_error/luaL_argerror: the message gets the
-- position of the *calling* Lua function ("user_script:3: ") and argument errors name
-- the function the way the call site spelled it ('band', or '?' when called from C such
-- as pcall).  raise() and argerror() reproduce both from pure Lua with debug.getinfo.
local getinfo, newproxy, py_nan_bits, py_nan_from_bits = ...

local error, type, tostring, tonumber, select = error, type, tostring, tonumber, select
local unpack = unpack
local setmetatable, getmetatable = setmetatable, getmetatable
local format, byte, char = string.format, string.byte, string.char
local floor, ceil, frexp, ldexp = math.floor, math.ceil, math.frexp, math.ldexp
local huge = math.huge

local S = {}

-- Lua 5.1's lua_checkstack refuses to grow a C function's frame past LUAI_MAXCSTACK
-- slots; the libraries' nesting limits and "too many results" errors come from it.
S.MAXCSTACK = 8000

---------------------------------------------------------------------------------------
-- Errors at the caller's position
---------------------------------------------------------------------------------------

-- Stack level (counted from the caller of level_of) of the active call of `fn`.
-- `hint` is tried first so that deep recursions do not walk the whole stack.
local function level_of(fn, hint)
  if hint then
    local info = getinfo(hint + 1, "f")
    if info and info.func == fn then return hint end
  end
  local lvl = 2
  while true do
    local info = getinfo(lvl, "f")
    if not info then return nil end
    if info.func == fn then return lvl - 1 end
    lvl = lvl + 1
  end
end

-- luaL_error raised from inside `fn`: the message gets the position of fn's caller.
function S.raise(fn, msg, hint)
  local lvl = level_of(fn, hint)
  if not lvl then error(msg, 0) end
  error(msg, lvl + 1)
end

-- luaL_argerror raised from inside `fn` (published as field `fname` of its library).
function S.argerror(fn, fname, narg, extramsg, hint)
  local lvl = level_of(fn, hint)
  if not lvl then
    error(format("bad argument #%d to '?' (%s)", narg, extramsg), 0)
  end
  local info = getinfo(lvl, "n")
  local name = info and info.name
  if info and info.namewhat == "method" then
    narg = narg - 1
    if narg == 0 then
      error(format("calling '%s' on bad self (%s)", name, extramsg), lvl + 1)
    end
  end
  if name == nil then
    -- A C function called in tail position still has its caller's frame and so a
    -- name; a Lua function called that way has lost it.  Use the library's own name.
    local up = getinfo(lvl + 1, "S")
    if up and up.what == "tail" then name = fname else name = "?" end
  end
  error(format("bad argument #%d to '%s' (%s)", narg, name, extramsg), lvl + 1)
end

-- luaL_typerror: `got` is the offending value, `present` false for a missing argument.
function S.typeerror(fn, fname, narg, tname, got, present, hint)
  local gotname = present and type(got) or "no value"
  S.argerror(fn, fname, narg, format("%s expected, got %s", tname, gotname), hint)
end

---------------------------------------------------------------------------------------
-- Argument conversion (lauxlib semantics)
---------------------------------------------------------------------------------------

-- lua_tointeger on x86-64: truncation toward zero, out of range and NaN give INT64_MIN.
local function tointeger(x)
  if x ~= x or x >= 9223372036854775808 or x < -9223372036854775808 then
    return -9223372036854775808
  end
  if x >= 0 then return floor(x) end
  return ceil(x) + 0  -- + 0 turns -0 into 0
end
S.tointeger = tointeger

-- lua_tonumber: numbers and numeric strings, nil otherwise.
local function tonum(v)
  local t = type(v)
  if t == "number" then return v end
  if t == "string" then return tonumber(v) end
  return nil
end
S.tonum = tonum

-- luaL_checknumber for argument `narg` (`n` = number of arguments actually passed).
function S.checknumber(fn, fname, narg, v, n, hint)
  local x = tonum(v)
  if x == nil then S.typeerror(fn, fname, narg, "number", v, narg <= n, hint) end
  return x
end

-- luaL_checkinteger (lua_Integer is 64-bit).
function S.checkinteger(fn, fname, narg, v, n, hint)
  local x = tonum(v)
  if x == nil then S.typeerror(fn, fname, narg, "number", v, narg <= n, hint) end
  return tointeger(x)
end

-- luaL_checklstring: strings, and numbers converted the way Lua prints them.
function S.checkstring(fn, fname, narg, v, n, hint)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  S.typeerror(fn, fname, narg, "string", v, narg <= n, hint)
end

-- A C `int` from a lua_Integer (two's complement truncation to 32 bits).
function S.toint32(x)
  x = x % 4294967296
  if x >= 2147483648 then return x - 4294967296 end
  return x
end

-- Return the first n values of t, also when n is close to the C stack limit (unpack's
-- own frame holds its three arguments, so unpack(t, 1, n) alone would refuse n > 7997).
function S.multret(t, n)
  if n <= 7900 then return unpack(t, 1, n) end
  return t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], unpack(t, 9, n)
end

---------------------------------------------------------------------------------------
-- 32-bit AND of two numbers in [0, 2^32) from an 8-bit table (shared by bit and struct)
---------------------------------------------------------------------------------------

local AND8 = {}
do
  local nib = {}
  for a = 0, 15 do
    for b = 0, 15 do
      local r, w, x, y = 0, 1, a, b
      for _ = 1, 4 do
        if x % 2 == 1 and y % 2 == 1 then r = r + w end
        x = (x - x % 2) / 2; y = (y - y % 2) / 2; w = w * 2
      end
      nib[a * 16 + b] = r
    end
  end
  for a = 0, 255 do
    local ah, al = (a - a % 16) / 16, a % 16
    for b = 0, 255 do
      local bh, bl = (b - b % 16) / 16, b % 16
      AND8[a * 256 + b] = nib[ah * 16 + bh] * 16 + nib[al * 16 + bl]
    end
  end
end
S.AND8 = AND8

function S.band32(a, b)
  local a1, b1 = a % 256, b % 256
  local r = AND8[a1 * 256 + b1]
  a = (a - a1) / 256; b = (b - b1) / 256
  a1, b1 = a % 256, b % 256
  r = r + AND8[a1 * 256 + b1] * 256
  a = (a - a1) / 256; b = (b - b1) / 256
  a1, b1 = a % 256, b % 256
  r = r + AND8[a1 * 256 + b1] * 65536
  a = (a - a1) / 256; b = (b - b1) / 256
  return r + AND8[a * 256 + b] * 16777216
end

---------------------------------------------------------------------------------------
-- IEEE 754 binary32 / binary64 <-> bytes, as the C libraries memcpy them
---------------------------------------------------------------------------------------

-- The 8 big-endian bytes of a NaN, payload and sign included.  Pure Lua cannot read a
-- NaN's payload, so this one case asks Python (struct.pack) through a closure upvalue.
local function nan_bytes(x)
  return py_nan_bits(x)
end

-- A double NaN from its two 32-bit halves (Python struct.unpack, exact bits).
local function nan_from(hi, lo)
  return py_nan_from_bits(hi, lo)
end

local function is_negative(x)  -- sign bit of a non-NaN number, -0.0 included
  return x < 0 or (x == 0 and 1 / x < 0)
end

-- Big-endian bytes (b1..b8) of a double.
local function double_be(x)
  if x ~= x then return byte(nan_bytes(x), 1, 8) end
  local sign = 0
  if is_negative(x) then sign = 128; x = -x end
  if x == huge then return sign + 127, 240, 0, 0, 0, 0, 0, 0 end
  if x == 0 then return sign, 0, 0, 0, 0, 0, 0, 0 end
  local m, e = frexp(x)            -- x = m * 2^e, 0.5 <= m < 1
  local expo, mant
  if e < -1021 then                -- subnormal
    expo, mant = 0, ldexp(x, 1074)
  else
    expo, mant = e + 1022, (m * 2 - 1) * 4503599627370496
  end
  local hi = floor(mant / 4294967296)
  local lo = mant - hi * 4294967296
  -- hi holds the top 20 mantissa bits
  local h1 = sign + floor(expo / 16)
  local h2 = (expo % 16) * 16 + floor(hi / 65536)
  local h3 = floor(hi / 256) % 256
  local h4 = hi % 256
  return h1, h2, h3, h4,
    floor(lo / 16777216), floor(lo / 65536) % 256, floor(lo / 256) % 256, lo % 256
end

-- The double whose big-endian bytes are b1..b8.
local function double_from_be(b1, b2, b3, b4, b5, b6, b7, b8)
  local expo = (b1 % 128) * 16 + floor(b2 / 16)
  local hi = ((b2 % 16) * 256 + b3) * 256 + b4          -- top 20 mantissa bits
  local lo = ((b5 * 256 + b6) * 256 + b7) * 256 + b8
  local x
  if expo == 2047 then
    if hi == 0 and lo == 0 then x = huge
    else return nan_from(((b1 * 256 + b2) * 256 + b3) * 256 + b4, lo) end
  elseif expo == 0 then
    x = ldexp(hi * 4294967296 + lo, -1074)
  else
    x = ldexp(4503599627370496 + hi * 4294967296 + lo, expo - 1075)
  end
  if b1 >= 128 then return -x end
  return x
end

-- Bytes of (float)x, rounding to nearest-even as the C conversion does.
local function float_be(x)
  if x ~= x then
    -- x86 keeps the sign and the top payload bits and sets the quiet bit.
    local d1, d2, d3, d4, d5 = byte(nan_bytes(x), 1, 5)
    local sign = d1 >= 128 and 128 or 0
    -- double mantissa bits 51..29 -> float mantissa bits 22..0
    local top = ((d2 % 16) * 256 + d3) * 256 + d4        -- mantissa bits 51..32 (20)
    local mant = top * 8 + floor(d5 / 32)               -- 23 bits
    if mant < 4194304 then mant = mant + 4194304 end    -- quiet bit
    return sign + 127, 128 + floor(mant / 65536) % 128, floor(mant / 256) % 256, mant % 256
  end
  local sign = 0
  if is_negative(x) then sign = 128; x = -x end
  local expo, mant
  if x == huge then
    expo, mant = 255, 0
  elseif x == 0 then
    expo, mant = 0, 0
  else
    local m, e = frexp(x)
    if e < -125 then
      -- subnormal float: units of 2^-149, rounding may carry into the smallest normal
      local y = x * 2 ^ 149
      local r = floor(y)
      local f = y - r
      if f > 0.5 or (f == 0.5 and r % 2 == 1) then r = r + 1 end
      if r >= 8388608 then expo, mant = 1, r - 8388608 else expo, mant = 0, r end
    else
      local y = m * 16777216                            -- 24 significant bits
      local r = floor(y)
      local f = y - r
      if f > 0.5 or (f == 0.5 and r % 2 == 1) then r = r + 1 end
      if r == 16777216 then r = 8388608; e = e + 1 end
      if e > 128 then
        expo, mant = 255, 0                             -- overflow to infinity
      else
        expo, mant = e + 126, r - 8388608
      end
    end
  end
  return sign + floor(expo / 2), (expo % 2) * 128 + floor(mant / 65536),
    floor(mant / 256) % 256, mant % 256
end

-- The number a float with big-endian bytes b1..b4 converts to.
local function float_from_be(b1, b2, b3, b4)
  local expo = (b1 % 128) * 2 + floor(b2 / 128)
  local mant = ((b2 % 128) * 256 + b3) * 256 + b4
  local x
  if expo == 255 then
    if mant == 0 then x = huge
    else
      -- float -> double NaN: quiet bit set, payload moved to the top of the mantissa
      if mant < 4194304 then mant = mant + 4194304 end
      local dm_hi = floor(mant / 8)                     -- double mantissa bits 51..32
      local dm_lo = (mant % 8) * 536870912              -- bits 31..29
      local hi = (b1 >= 128 and 2147483648 or 0) + 2146435072 + dm_hi
      return nan_from(hi, dm_lo)
    end
  elseif expo == 0 then
    x = ldexp(mant, -149)
  else
    x = ldexp(8388608 + mant, expo - 150)
  end
  if b1 >= 128 then return -x end
  return x
end

-- Is x exactly representable as a float (C: `float f = x; x == (double)f`)?
function S.float_exact(x)
  if x ~= x then return false end
  if x == huge or x == -huge or x == 0 then return true end
  if x < 0 then x = -x end
  local m, e = frexp(x)
  if e > 128 or e < -148 then return false end
  local y
  if e < -125 then y = x * 2 ^ 149 else y = m * 16777216 end
  return y == floor(y)
end

S.double_be = double_be
S.double_from_be = double_from_be
S.float_be = float_be
S.float_from_be = float_from_be
S.is_negative = is_negative

-- The low 32 bits of a NaN's payload (LuaBitOp reads them after its 2^52+2^51 trick).
function S.nan_low32(x)
  local b5, b6, b7, b8 = byte(nan_bytes(x), 5, 8)
  return ((b5 * 256 + b6) * 256 + b7) * 256 + b8
end

---------------------------------------------------------------------------------------
-- cjson.null: Redis pushes a NULL lightuserdata.  newproxy(false) is the closest pure
-- Lua value: type() is "userdata", it is a single shared value, and it carries no
-- metatable a script could use.  A metatable is only added for tostring() to print
-- what Redis prints ("userdata: (nil)"); __metatable hides it (getmetatable -> false).
---------------------------------------------------------------------------------------
do
  local null = newproxy(true)
  local mt = getmetatable(null)
  mt.__tostring = function() return "userdata: (nil)" end
  mt.__metatable = false
  S.null = null
end

return S
