-- LuaBitOp 1.0.2 ("bit") as Redis 7.0 embeds it, in pure Lua 5.1.
--
-- Numbers are normalised the way LuaBitOp does it: add 2^52+2^51 to the double and
-- keep the low 32 bits of its IEEE representation.  For |x| < 2^51 that is x rounded
-- to nearest-even modulo 2^32; larger magnitudes, infinities and NaNs follow the same
-- bit-level rule (computed with frexp).  Results are signed 32-bit numbers.
local S = ...

local type, select, error = type, select, error
local floor, frexp, ldexp, format = math.floor, math.frexp, math.ldexp, string.format
local sub = string.sub
local huge = math.huge
local band2, tonum, typeerror, nan_low32 = S.band32, S.tonum, S.typeerror, S.nan_low32

local MAGIC = 6755399441055744        -- 2^52 + 2^51
local LOW = 4503599627370496          -- 2^52
local HIGH = 9007199254740992         -- 2^53
local W = 4294967296                  -- 2^32

-- Low 32 bits of the IEEE mantissa of v = x + MAGIC, for v outside [2^52, 2^53).
local function mantissa_low32(x, v)
  if v ~= v then return nan_low32(x) end
  if v == huge or v == -huge or v == 0 then return 0 end
  if v < 0 then v = -v end
  local m, e = frexp(v)
  if e < -1021 then return ldexp(v, 1074) % W end      -- subnormal: mantissa = v/2^-1074
  return (m * HIGH) % W
end

-- barg(): argument i of the call as an unsigned 32-bit value.
local function barg(fn, name, i, v, n)
  local x = v
  if type(x) ~= "number" then
    x = tonum(x)
    -- lua_tonumber gives 0 for a non-number, and 0 normalises to 0: that is an error
    if x == nil then typeerror(fn, name, i, "number", v, i <= n) end
  end
  local w = x + MAGIC
  if w >= LOW and w < HIGH then return w % W end
  return mantissa_low32(x, w)
end

local function ret(b)
  if b >= 2147483648 then return b - W end
  return b
end

local bit = {}

local function tobit(...)
  local x = ...
  if type(x) == "number" then
    local w = x + MAGIC
    if w >= LOW and w < HIGH then
      w = w % W
      if w >= 2147483648 then return w - W end
      return w
    end
  end
  return ret(barg(tobit, "tobit", 1, x, select("#", ...)))
end

local function bnot(...)
  return ret(W - 1 - barg(bnot, "bnot", 1, (...), select("#", ...)))
end

-- band/bor/bxor check argument 1 first, then the others from the last one down.
local function fold(fn, name, op, n, ...)
  local acc = barg(fn, name, 1, (...), n)
  local args = { ... }
  for i = n, 2, -1 do
    acc = op(acc, barg(fn, name, i, args[i], n))
  end
  return ret(acc)
end

local function bor2(a, b) return a + b - band2(a, b) end
local function bxor2(a, b) return a + b - 2 * band2(a, b) end

-- band/bor/bxor: a fast path for the usual two in-range numbers, else fold().
local function bitop(name, op2)
  local fn
  fn = function(...)
    local n = select("#", ...)
    if n == 2 then
      local a, b = ...
      if type(a) == "number" and type(b) == "number" then
        local wa, wb = a + MAGIC, b + MAGIC
        if wa >= LOW and wa < HIGH and wb >= LOW and wb < HIGH then
          local r = op2(wa % W, wb % W)
          if r >= 2147483648 then return r - W end
          return r
        end
      end
    end
    local r = fold(fn, name, op2, n, ...)
    return r
  end
  return fn
end

local band, bor, bxor = bitop("band", band2), bitop("bor", bor2), bitop("bxor", bxor2)

-- Shifts take the count modulo 32, as LuaBitOp does (barg(2) & 31).
local function shift_args(fn, name, ...)
  local n = select("#", ...)
  local v, c = ...
  return barg(fn, name, 1, v, n), barg(fn, name, 2, c, n) % 32
end

local lshift, rshift, arshift, rol, ror

lshift = function(...)
  local b, c = shift_args(lshift, "lshift", ...)
  return ret((b * 2 ^ c) % W)
end

rshift = function(...)
  local b, c = shift_args(rshift, "rshift", ...)
  return ret(floor(b / 2 ^ c))
end

arshift = function(...)
  local b, c = shift_args(arshift, "arshift", ...)
  if b >= 2147483648 then b = b - W end
  return ret(floor(b / 2 ^ c) % W)
end

rol = function(...)
  local b, c = shift_args(rol, "rol", ...)
  return ret((b * 2 ^ c) % W + floor(b / 2 ^ (32 - c)) % W)
end

ror = function(...)
  local b, c = shift_args(ror, "ror", ...)
  return ret(floor(b / 2 ^ c) + (b * 2 ^ (32 - c)) % W)
end

local function bswap(...)
  local b = barg(bswap, "bswap", 1, (...), select("#", ...))
  local b1 = b % 256
  local b2 = floor(b / 256) % 256
  local b3 = floor(b / 65536) % 256
  local b4 = floor(b / 16777216)
  return ret(((b1 * 256 + b2) * 256 + b3) * 256 + b4)
end

local function tohex(...)
  local n = select("#", ...)
  local v, w = ...
  local b = barg(tohex, "tohex", 1, v, n)
  local digits = 8
  if n >= 2 then
    digits = barg(tohex, "tohex", 2, w, n)
    if digits >= 2147483648 then digits = digits - W end
  end
  local fmt = "%08x"
  if digits < 0 then
    digits = -digits          -- INT32_MIN is clamped like the other negatives
    fmt = "%08X"
  end
  if digits > 8 then digits = 8 end
  if digits == 0 then return "" end
  return sub(format(fmt, b), 9 - digits)
end

-- Same field order as LuaBitOp's luaL_Reg list, so pairs(bit) iterates as in Redis.
bit = {
  tobit = tobit, bnot = bnot, band = band, bor = bor, bxor = bxor,
  lshift = lshift, rshift = rshift, arshift = arshift, rol = rol, ror = ror,
  bswap = bswap, tohex = tohex,
}
return bit
