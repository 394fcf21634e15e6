-- Roberto Ierusalimschy's struct library as Redis 7.0 embeds it (lua_struct.c), in pure
-- Lua 5.1, for an x86-64 build: native little endian, short 2, int 4, long and size_t 8
-- bytes, maximum alignment 8.  Integers go through the C conversions Redis performs
-- (double -> long / unsigned long, at most 64 significant bits, results as doubles).
local S = ...

local type, select, ipairs = type, select, ipairs
local byte, char, sub, find, format, rep = string.byte, string.char, string.sub,
  string.find, string.format, string.rep
local concat = table.concat
local unpack, reverse = unpack, string.reverse
local floor = math.floor
local tointeger, tonum = S.tointeger, S.tonum
local raise, argerror = S.raise, S.argerror
local checkstring, checknumber, checkinteger = S.checkstring, S.checknumber, S.checkinteger
local band32, multret = S.band32, S.multret
local double_be, double_from_be = S.double_be, S.double_from_be
local float_be, float_from_be = S.float_be, S.float_from_be
local MAXCSTACK = S.MAXCSTACK

local MAXINTSIZE = 32
local MAXALIGN = 8
local W = 4294967296
local TWO63 = 9223372036854775808

local B_ = {}
for _, c in ipairs({ "b", "B", "h", "H", "l", "L", "T", "i", "I", "f", "d", "x", "c", "s",
  " ", ">", "<", "!" }) do B_[c] = byte(c) end
local SIZES = {                      -- fixed sizes of optsize()
  [B_.b] = 1, [B_.B] = 1, [B_.h] = 2, [B_.H] = 2, [B_.l] = 8, [B_.L] = 8, [B_.T] = 8,
  [B_.f] = 4, [B_.d] = 8, [B_.x] = 1,
}
local INTOPT = {
  [B_.b] = true, [B_.B] = true, [B_.h] = true, [B_.H] = true, [B_.l] = true,
  [B_.L] = true, [B_.T] = true, [B_.i] = true, [B_.I] = true,
}
local SIGNED = { [B_.b] = true, [B_.h] = true, [B_.l] = true, [B_.i] = true }

-- The format is a C string: it ends at the first NUL byte.
local function cfmt(fmt)
  local z = find(fmt, "\0", 1, true)
  if z then return sub(fmt, 1, z - 1) end
  return fmt
end

local function isdigit(c) return c and c >= 48 and c <= 57 end

-- getnum(): a decimal size after an option, with the int overflow check.
local function getnum(fn, fmt, i, df)
  local c = byte(fmt, i)
  if not isdigit(c) then return df, i end
  local a = 0
  repeat
    local d = c - 48
    if a > 214748364 or a * 10 > 2147483647 - d then raise(fn, "integral size overflow") end
    a = a * 10 + d
    i = i + 1
    c = byte(fmt, i)
  until not isdigit(c)
  return a, i
end

-- optsize(): bytes taken by option `opt` (0 for options without data).
local function optsize(fn, opt, fmt, i)
  local s = SIZES[opt]
  if s then return s, i end
  if opt == B_.c then return getnum(fn, fmt, i, 1) end
  if opt == B_.i or opt == B_.I then
    local sz
    sz, i = getnum(fn, fmt, i, 4)
    if sz > MAXINTSIZE then
      raise(fn, format("integral size %d is larger than limit of %d", sz, MAXINTSIZE))
    end
    return sz, i
  end
  return 0, i
end

-- gettoalign(): padding before an item of `size` bytes at offset `len`.
local POW2 = { [1] = true, [2] = true, [4] = true, [8] = true, [16] = true, [32] = true }

local function gettoalign(len, align, opt, size)
  if size == 0 or align == 1 or opt == B_.c then return 0 end
  if size > align then size = align end
  if POW2[size] then return (size - len % size) % size end   -- & (size-1) is % size
  local m = size - 1
  return band32(size - band32(len % W, m), m)
end

local function ispow2(x) return x > 0 and band32(x, x - 1) == 0 end

-- controloptions(): ' ', '>', '<', '!n'; anything else is an invalid option.
-- Returns new (little, align, i).
local function controloptions(fn, fname, opt, fmt, i, little, align)
  if opt == B_[" "] then return little, align, i end
  if opt == B_[">"] then return false, align, i end
  if opt == B_["<"] then return true, align, i end
  if opt == B_["!"] then
    local a
    a, i = getnum(fn, fmt, i, MAXALIGN)
    if not ispow2(a) then raise(fn, format("alignment %d is not a power of 2", a)) end
    return little, a, i
  end
  argerror(fn, fname, 1, format("invalid format option '%s'", char(opt)))
end

-- The two 32-bit halves of the C integer value packed for number n:
-- n < 0: (unsigned long)(long)n; otherwise (unsigned long)n as x86-64 gcc converts it.
local function c_uint64(n)
  local v
  if n < 0 then
    v = tointeger(n)
  elseif n < TWO63 then
    v = floor(n)
  elseif n < 2 * TWO63 then
    return floor(n / W), n % W          -- exact: n is an integer here
  elseif n == n then
    return 0, 0                         -- cvttsd2si(n - 2^63) overflows; ^ sign bit -> 0
  else
    v = -TWO63                          -- NaN takes the signed path: INT64_MIN
  end
  local hi = floor(v / W)
  local lo = v - hi * W
  return hi % W, lo
end

local scratch = {}
local P256 = { [0] = 1, 256, 65536, 16777216 }

-- The `size` bytes of the C value (least significant 8 come from hi:lo, the rest are 0).
local function intbytes(n, little, size)
  local hi, lo = c_uint64(n)
  for k = 0, size - 1 do
    local b
    if k < 4 then b = floor(lo / P256[k]) % 256
    elseif k < 8 then b = floor(hi / P256[k - 4]) % 256
    else b = 0 end
    if little then scratch[k + 1] = b else scratch[size - k] = b end
  end
  return char(unpack(scratch, 1, size))
end

-- b_pack() pushes a nil after its arguments (and luaL_Buffer pieces above it), so the
-- first argument past the last one reads as nil, not as "no value": hence nargs + 1.
local function pack(...)
  local nargs = select("#", ...)
  local args = { ... }
  local fmt = cfmt(checkstring(pack, "pack", 1, args[1], nargs))
  local little, align = true, 1
  local arg = 2
  local total = 0
  local out, no = {}, 0
  local i, flen = 1, #fmt
  while i <= flen do
    local opt = byte(fmt, i)
    i = i + 1
    local size
    size, i = optsize(pack, opt, fmt, i)
    local toalign = gettoalign(total, align, opt, size)
    if toalign > 0 then
      no = no + 1; out[no] = rep("\0", toalign)
      total = total + toalign
    end
    if INTOPT[opt] then
      local x = args[arg]
      if type(x) ~= "number" then x = checknumber(pack, "pack", arg, x, nargs + 1) end
      arg = arg + 1
      no = no + 1
      out[no] = intbytes(x, little, size)
    elseif opt == B_.x then
      no = no + 1; out[no] = "\0"
    elseif opt == B_.f or opt == B_.d then
      local x = checknumber(pack, "pack", arg, args[arg], nargs + 1)
      arg = arg + 1
      local s
      if opt == B_.f then s = char(float_be(x)) else s = char(double_be(x)) end
      if little then s = reverse(s) end
      no = no + 1; out[no] = s
    elseif opt == B_.c or opt == B_.s then
      local s = checkstring(pack, "pack", arg, args[arg], nargs + 1)
      arg = arg + 1
      local l = #s
      if size == 0 then size = l end
      if l < size then argerror(pack, "pack", arg, "string too short") end
      no = no + 1; out[no] = sub(s, 1, size)
      if opt == B_.s then
        no = no + 1; out[no] = "\0"
        size = size + 1
      end
    else
      little, align, i = controloptions(pack, "pack", opt, fmt, i, little, align)
    end
    total = total + size
  end
  return concat(out, "", 1, no)
end

-- getinteger(): `size` bytes starting at data[p] as the C code reads them into an
-- unsigned long (only the 8 least significant bytes survive the shifts).
local function getinteger(data, p, little, signed, size)
  local lo, hi = 0, 0
  local n = size < 8 and size or 8               -- bytes that survive the shifts
  for k = 0, n - 1 do
    local b
    if little then b = byte(data, p + k) else b = byte(data, p + size - 1 - k) end
    if k < 4 then lo = lo + b * P256[k] else hi = hi + b * P256[k - 4] end
  end
  if not signed then return hi * W + lo end
  -- mask = ~0 << (size*8 - 1), the shift count taken modulo 64 as x86 does
  local shift = (size * 8 - 1) % 64
  local negative
  if shift >= 32 then
    local unit = 2 ^ (shift - 32)
    negative = hi >= unit
    if negative then hi = hi % unit + (W - unit) end
  else
    local unit = 2 ^ shift
    negative = hi > 0 or lo >= unit
    if negative then hi = W - 1; lo = lo % unit + (W - unit) end
  end
  if hi >= 2147483648 then return (hi - W) * W + lo end
  return hi * W + lo
end

-- (size_t)d for the c0 length, as x86-64 gcc converts a double to an unsigned long.
local function c_size(d)
  if d ~= d then return nil end          -- INT64_MIN pattern: far beyond any string
  if d < TWO63 then
    local v = tointeger(d)
    if v < 0 then return nil end         -- wraps to a huge size_t
    return v
  end
  if d < 2 * TWO63 then return nil end
  return 0
end

local function unpack_(...)
  local nargs = select("#", ...)
  local fmt, data, init = ...
  fmt = cfmt(checkstring(unpack_, "unpack", 1, fmt, nargs))
  data = checkstring(unpack_, "unpack", 2, data, nargs)
  local p = 1
  if init ~= nil then p = checkinteger(unpack_, "unpack", 3, init, nargs) end
  if p == 0 then argerror(unpack_, "unpack", 3, "offset must be 1 or greater") end
  local ld = #data
  local pos = p - 1                      -- a negative pos stands for a huge size_t
  local little, align = true, 1
  local res, nres = {}, 0
  local i, flen = 1, #fmt
  local moved = false
  while i <= flen do
    local opt = byte(fmt, i)
    i = i + 1
    local size
    size, i = optsize(unpack_, opt, fmt, i)
    pos = pos + gettoalign(pos % 32, align, opt, size)
    moved = true
    if size > ld or pos < 0 or pos > ld - size then
      argerror(unpack_, "unpack", 2, "data string too short")
    end
    if nargs + nres + 2 > MAXCSTACK then raise(unpack_, "stack overflow (too many results)") end
    if INTOPT[opt] then
      nres = nres + 1
      res[nres] = getinteger(data, pos + 1, little, SIGNED[opt], size)
    elseif opt == B_.x then
      -- padding: nothing to return
    elseif opt == B_.f then
      local b1, b2, b3, b4 = byte(data, pos + 1, pos + 4)
      if little then b1, b2, b3, b4 = b4, b3, b2, b1 end
      nres = nres + 1
      res[nres] = float_from_be(b1, b2, b3, b4)
    elseif opt == B_.d then
      local b1, b2, b3, b4, b5, b6, b7, b8 = byte(data, pos + 1, pos + 8)
      if little then b1, b2, b3, b4, b5, b6, b7, b8 = b8, b7, b6, b5, b4, b3, b2, b1 end
      nres = nres + 1
      res[nres] = double_from_be(b1, b2, b3, b4, b5, b6, b7, b8)
    elseif opt == B_.c then
      if size == 0 then
        local prev = nres > 0 and tonum(res[nres]) or nil
        if prev == nil then raise(unpack_, "format 'c0' needs a previous size") end
        res[nres] = nil
        nres = nres - 1
        size = c_size(prev)
        if size == nil or size > ld or pos > ld - size then
          argerror(unpack_, "unpack", 2, "data string too short")
        end
      end
      nres = nres + 1
      res[nres] = sub(data, pos + 1, pos + size)
    elseif opt == B_.s then
      local e = find(data, "\0", pos + 1, true)
      if not e then raise(unpack_, "unfinished string in data") end
      size = e - pos
      nres = nres + 1
      res[nres] = sub(data, pos + 1, e - 1)
    else
      little, align, i = controloptions(unpack_, "unpack", opt, fmt, i, little, align)
    end
    pos = pos + size
  end
  nres = nres + 1
  if moved then res[nres] = pos + 1 else res[nres] = p end
  return multret(res, nres)
end

local function isalnum(c)
  return (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122)
end

local function size(...)
  local nargs = select("#", ...)
  local fmt = cfmt(checkstring(size, "size", 1, (...), nargs))
  local align = 1
  local pos = 0
  local i, flen = 1, #fmt
  while i <= flen do
    local opt = byte(fmt, i)
    i = i + 1
    local sz
    sz, i = optsize(size, opt, fmt, i)
    pos = pos + gettoalign(pos, align, opt, sz)
    if opt == B_.s then
      argerror(size, "size", 1, "option 's' has no fixed size")
    elseif opt == B_.c and sz == 0 then
      argerror(size, "size", 1, "option 'c0' has no fixed size")
    end
    if not isalnum(opt) then
      local _
      _, align, i = controloptions(size, "size", opt, fmt, i, true, align)
    end
    pos = pos + sz
  end
  return pos
end

-- luaL_register(L, "struct", ...) presizes the table for its three functions.
return { pack = pack, unpack = unpack_, size = size }
