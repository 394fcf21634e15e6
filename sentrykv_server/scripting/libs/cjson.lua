-- Lua CJSON 2.1.0 ("cjson") as Redis 7.0 embeds it (lua_cjson.c), in pure Lua 5.1.
--
-- Encoding follows the C library step by step: strings escaped with its table (control
-- characters, '"', '\', '/' and DEL), numbers printed with "%.<precision>g" (14 by
-- default), a table is an array when every key is an integer >= 1 and it is not
-- "excessively sparse", an empty table is "{}", keys of objects come in next() order.
-- Decoding reproduces its tokenizer: strtod()'s grammar for numbers (hex, inf, nan
-- when decode_invalid_numbers is on), the escape rules, the UTF-16 guard, and the
-- error messages with their character positions.  Nesting limits count Lua stack
-- slots the way the C code's lua_checkstack calls do.
local S = ...

local type, select, next, error, tostring, tonumber, rawget = type, select, next, error,
  tostring, tonumber, rawget
local byte, char, sub, find, gsub, format, lower = string.byte, string.char, string.sub,
  string.find, string.gsub, string.format, string.lower
local concat = table.concat
local floor = math.floor
local huge = math.huge
local raise, argerror, typeerror = S.raise, S.argerror, S.typeerror
local checkstring, checkinteger, toint32 = S.checkstring, S.checkinteger, S.toint32
local null = S.null
local MAXCSTACK = S.MAXCSTACK
local INT_MAX = 2147483647

-- Encoding escapes (char2escape[] of lua_cjson.c).
local ESC = {}
for i = 0, 31 do ESC[char(i)] = format("\\u%04x", i) end
ESC["\b"] = "\\b"; ESC["\t"] = "\\t"; ESC["\n"] = "\\n"; ESC["\f"] = "\\f"
ESC["\r"] = "\\r"; ESC['"'] = '\\"'; ESC["\\"] = "\\\\"; ESC["/"] = "\\/"
ESC["\127"] = "\\u007f"
local ESC_PAT = '[%z\1-\31"\\/\127]'

-- Decoding escapes (escape2char[]); 'u' is handled separately.
local UNESC = {
  [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [116] = "\t", [110] = "\n",
  [102] = "\f", [114] = "\r",
}

-- Escaped forms of recently seen strings (object keys repeat from call to call).  The
-- escaping depends on nothing but the string, so one cache serves every instance; it
-- is emptied when it grows past CACHE_MAX entries.
local CACHE_MAX = 2048
local escaped, n_escaped = {}, 0

local function escape(s)
  local e = escaped[s]
  if e then return e end
  e = s
  if find(s, ESC_PAT) then e = gsub(s, ESC_PAT, ESC) end
  if n_escaped >= CACHE_MAX then escaped, n_escaped = {}, 0 end
  escaped[s] = e
  n_escaped = n_escaped + 1
  return e
end

local function utf8(cp)
  if cp <= 0x7f then return char(cp) end
  if cp <= 0x7ff then
    return char(floor(cp / 64) + 0xc0, cp % 64 + 0x80)
  end
  if cp <= 0xffff then
    return char(floor(cp / 4096) + 0xe0, floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
  end
  return char(floor(cp / 262144) + 0xf0, floor(cp / 4096) % 64 + 0x80,
    floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
end

local new

new = function()
  -- json_config_t, with Redis's defaults
  local sparse_convert = 0
  local sparse_ratio = 2
  local sparse_safe = 10
  local encode_max_depth = 1000
  local decode_max_depth = 1000
  local encode_invalid = 0          -- 0 off, 1 on, 2 null
  local decode_invalid = 1
  local keep_buffer = 1
  local precision = 14
  local numfmt = "%.14g"

  local M = {}
  local encode, decode

  -----------------------------------------------------------------------------------
  -- Configuration
  -----------------------------------------------------------------------------------

  -- json_arg_init(): at most `max` arguments.
  local function arg_init(fn, name, max, n)
    if n > max then argerror(fn, name, max + 1, "found too many arguments") end
  end

  -- json_enum_option(): returns the new setting and the value to report.
  local function enum_option(fn, name, idx, v, setting, options, bool_true)
    if v ~= nil then
      if bool_true and type(v) == "boolean" then
        setting = v and bool_true or 0
      else
        local s = checkstring(fn, name, idx, v, idx)
        local found = nil
        for i = 0, #options do
          if options[i] == s then found = i; break end
        end
        if found == nil then
          argerror(fn, name, idx, format("invalid option '%s'", s))
        end
        setting = found
      end
    end
    if bool_true and (setting == 0 or setting == bool_true) then
      return setting, setting ~= 0
    end
    return setting, options[setting]
  end

  local BOOL_OPTIONS = { [0] = "off", "on" }
  local INVALID_OPTIONS = { [0] = "off", "on", "null" }

  -- json_integer_option(): the range error always names argument 1, as in the C code.
  local function integer_option(fn, name, idx, v, setting, min, max)
    if v ~= nil then
      local value = toint32(checkinteger(fn, name, idx, v, idx))
      if value < min or value > max then
        argerror(fn, name, 1, format("expected integer between %d and %d", min, max))
      end
      setting = value
    end
    return setting
  end

  local function cfg_sparse(...)
    local n = select("#", ...)
    arg_init(cfg_sparse, "encode_sparse_array", 3, n)
    local convert, ratio, safe = ...
    local f = cfg_sparse
    local rc
    sparse_convert, rc = enum_option(f, "encode_sparse_array", 1, convert, sparse_convert,
      BOOL_OPTIONS, 1)
    sparse_ratio = integer_option(f, "encode_sparse_array", 2, ratio, sparse_ratio, 0, INT_MAX)
    sparse_safe = integer_option(f, "encode_sparse_array", 3, safe, sparse_safe, 0, INT_MAX)
    return rc, sparse_ratio, sparse_safe
  end

  -- Options taking one argument: json_arg_init(l, 1), then an integer or an enum
  -- option; `get`/`set` reach the setting (an upvalue of this instance).
  local function int_cfg(name, min, max, get, set)
    local fn
    fn = function(...)
      arg_init(fn, name, 1, select("#", ...))
      set(integer_option(fn, name, 1, (...), get(), min, max))
      return get()
    end
    return fn
  end

  local function enum_cfg(name, options, get, set)
    local fn
    fn = function(...)
      arg_init(fn, name, 1, select("#", ...))
      local setting, reported = enum_option(fn, name, 1, (...), get(), options, 1)
      set(setting)
      return reported
    end
    return fn
  end

  local numcache, n_numcache          -- formatted numbers, see fmtnum()

  local cfg_encode_depth = int_cfg("encode_max_depth", 1, INT_MAX,
    function() return encode_max_depth end, function(v) encode_max_depth = v end)
  local cfg_decode_depth = int_cfg("decode_max_depth", 1, INT_MAX,
    function() return decode_max_depth end, function(v) decode_max_depth = v end)
  local cfg_precision = int_cfg("encode_number_precision", 1, 14,
    function() return precision end,
    function(v)
      if v ~= precision then
        precision, numfmt = v, "%." .. v .. "g"
        numcache, n_numcache = {}, 0
      end
    end)
  local cfg_keep_buffer = enum_cfg("encode_keep_buffer", BOOL_OPTIONS,
    function() return keep_buffer end, function(v) keep_buffer = v end)
  local cfg_encode_invalid = enum_cfg("encode_invalid_numbers", INVALID_OPTIONS,
    function() return encode_invalid end, function(v) encode_invalid = v end)
  local cfg_decode_invalid = enum_cfg("decode_invalid_numbers", BOOL_OPTIONS,
    function() return decode_invalid end, function(v) decode_invalid = v end)

  -----------------------------------------------------------------------------------
  -- Encoding
  -----------------------------------------------------------------------------------

  -- Output pieces, reused from call to call (encode never runs script code, so it
  -- cannot be re-entered while the buffer is in use).
  local buf, nb, busy = {}, 0, false

  -- Formatted numbers, reset with the precision; 0 is left out (0 and -0 are one key).
  numcache, n_numcache = {}, 0

  local function fmtnum(x)
    local s = numcache[x]
    if s then return s end
    s = format(numfmt, x)
    if x ~= 0 then
      if n_numcache >= CACHE_MAX then numcache, n_numcache = {}, 0 end
      numcache[x] = s
      n_numcache = n_numcache + 1
    end
    return s
  end

  local function number(x, what)
    if x ~= x or x == huge or x == -huge then
      if encode_invalid == 0 then
        raise(encode, "Cannot serialise " .. what .. ": must not be NaN or Inf")
      elseif encode_invalid == 1 then
        if x ~= x then return "nan" end
      else
        return "null"
      end
    end
    return fmtnum(x)
  end

  -- lua_array_length(): -1 for an object, else the array size (int semantics).
  local function array_length(t)
    local max, items = 0, 0
    for k in next, t do
      if type(k) == "number" and k >= 1 and floor(k) == k then
        if k > max then
          if k >= 2147483648 then max = -2147483648 else max = k end
        end
        items = items + 1
      else
        return -1
      end
    end
    if sparse_ratio > 0 and max > toint32(items * sparse_ratio) and max > sparse_safe then
      if sparse_convert == 0 then
        raise(encode, "Cannot serialise table: excessively sparse array")
      end
      return -1
    end
    return max
  end

  local append

  -- `slots`: Lua stack slots the C encoder uses with this value on top (its
  -- lua_checkstack limit).
  append = function(v, depth, slots)
    local t = type(v)
    if t == "string" then
      if find(v, ESC_PAT) then v = gsub(v, ESC_PAT, ESC) end
      buf[nb + 1] = '"'; buf[nb + 2] = v; buf[nb + 3] = '"'
      nb = nb + 3
    elseif t == "number" then
      nb = nb + 1; buf[nb] = number(v, "number")
    elseif t == "boolean" then
      nb = nb + 1; buf[nb] = v and "true" or "false"
    elseif t == "table" then
      depth = depth + 1
      if depth > encode_max_depth or slots + 3 > MAXCSTACK then
        raise(encode, format("Cannot serialise, excessive nesting (%d)", depth))
      end
      local len = array_length(v)
      if len > 0 then
        nb = nb + 1; buf[nb] = "["
        for i = 1, len do
          if i > 1 then nb = nb + 1; buf[nb] = "," end
          append(rawget(v, i), depth, slots + 1)
        end
        nb = nb + 1; buf[nb] = "]"
      else
        nb = nb + 1; buf[nb] = "{"
        local first = true
        for k, x in next, v do
          if first then first = false else nb = nb + 1; buf[nb] = "," end
          local kt = type(k)
          if kt == "string" then
            buf[nb + 1] = '"'; buf[nb + 2] = escape(k); buf[nb + 3] = '":'
            nb = nb + 3
          elseif kt == "number" then
            buf[nb + 1] = '"'; buf[nb + 2] = number(k, "number"); buf[nb + 3] = '":'
            nb = nb + 3
          else
            raise(encode, "Cannot serialise " .. kt .. ": table key must be a number or string")
          end
          append(x, depth, slots + 2)
        end
        nb = nb + 1; buf[nb] = "}"
      end
    elseif t == "nil" or v == null then
      nb = nb + 1; buf[nb] = "null"
    else
      raise(encode, "Cannot serialise " .. t .. ": type not supported")
    end
  end

  encode = function(...)
    local n = select("#", ...)
    if n ~= 1 then argerror(encode, "encode", 1, "expected 1 argument") end
    local v = ...
    local t = type(v)
    -- scalars need no buffer
    if t == "string" then
      if find(v, ESC_PAT) then v = gsub(v, ESC_PAT, ESC) end
      return '"' .. v .. '"'
    elseif t == "number" then
      local s = number(v, "number")
      return s
    end
    if busy then buf = {} end        -- the last call raised: drop what it left behind
    busy, nb = true, 0
    append(v, 0, 1)
    local out = concat(buf, "", 1, nb)
    if nb > 4096 then buf = {} end   -- do not keep a big call's pieces alive
    busy = false
    return out
  end

  -----------------------------------------------------------------------------------
  -- Decoding
  -----------------------------------------------------------------------------------

  local js, jlen          -- the JSON text (cut at its first NUL) and its length

  -- json_is_invalid_number(): inputs strtod() accepts but strict JSON does not.
  local function is_invalid_number(p)
    local c = byte(js, p)
    if c == 43 then return true end                     -- '+'
    if c == 45 then p = p + 1; c = byte(js, p) end      -- '-'
    if c == 48 then                                     -- '0'
      local c2 = byte(js, p + 1)
      return c2 ~= nil and (c2 == 120 or c2 == 88 or (c2 >= 48 and c2 <= 57))
    end
    if c == nil or c <= 57 then return false end
    local w = lower(sub(js, p, p + 2))
    return w == "inf" or w == "nan"
  end

  -- strtod's mantissa and exponent from j: digits (`digits` pattern), an optional
  -- point and more digits (at least one digit in all), then an exponent letter, sign
  -- and decimal digits, taken only when a digit follows.  nil without any digit.
  local function scan_float(j, digits, e_lower, e_upper)
    local _, e = find(js, digits, j)
    local n = e - j + 1
    j = e + 1
    if byte(js, j) == 46 then
      local _, e2 = find(js, digits, j + 1)
      local frac = e2 - j
      if n + frac > 0 then j = e2 + 1; n = n + frac end
    end
    if n == 0 then return nil end
    local c = byte(js, j)
    if c == e_lower or c == e_upper then
      local k = j + 1
      local sc = byte(js, k)
      if sc == 43 or sc == 45 then k = k + 1 end
      local _, e3 = find(js, "^%d+", k)
      if e3 then j = e3 + 1 end
    end
    return j
  end

  -- End (exclusive) of the longest prefix at p that glibc's strtod() converts; p if none.
  local function strtod_end(p)
    local i = p
    local c = byte(js, i)
    if c == 43 or c == 45 then i = i + 1; c = byte(js, i) end
    if c == 105 or c == 73 then                         -- inf, infinity
      if lower(sub(js, i, i + 2)) ~= "inf" then return p end
      if lower(sub(js, i + 3, i + 7)) == "inity" then return i + 8 end
      return i + 3
    end
    if c == 110 or c == 78 then                         -- nan, nan(chars)
      if lower(sub(js, i, i + 2)) ~= "nan" then return p end
      if byte(js, i + 3) == 40 then
        local _, e = find(js, "^[%w_]*%)", i + 4)
        if e then return e + 1 end
      end
      return i + 3
    end
    if c == 48 and (byte(js, i + 1) == 120 or byte(js, i + 1) == 88) then
      return scan_float(i + 2, "^%x*", 112, 80) or (i + 1)    -- hex, 'p'; else just "0"
    end
    return scan_float(i, "^%d*", 101, 69) or p                 -- decimal, 'e'
  end

  local function number_token(p)
    local e = strtod_end(p)
    if e == p then return "ERR", "invalid number", p, p end
    return "T_NUMBER", tonumber(sub(js, p, e - 1)), p, e
  end

  local function hex4(p)
    local h = sub(js, p, p + 3)
    if #h < 4 or find(h, "%X") then return nil end
    return tonumber(h, 16)
  end

  -- The string token starting at the quote at p.
  local function string_token(p)
    local i = p + 1
    local e = find(js, '["\\]', i)
    if e and byte(js, e) == 34 then return "T_STRING", sub(js, i, e - 1), p, e + 1 end
    local parts, np = {}, 0
    while true do
      if not e then return "ERR", "unexpected end of string", jlen + 1, jlen + 1 end
      if e > i then np = np + 1; parts[np] = sub(js, i, e - 1) end
      if byte(js, e) == 34 then return "T_STRING", concat(parts, "", 1, np), p, e + 1 end
      local c = byte(js, e + 1)
      if c == 117 then                                  -- \uXXXX
        local cp = hex4(e + 2)
        if cp == nil then return "ERR", "invalid unicode escape code", e, e end
        local len = 6
        if cp >= 0xd800 and cp <= 0xdfff then
          if cp >= 0xdc00 then return "ERR", "invalid unicode escape code", e, e end
          if byte(js, e + 6) ~= 92 or byte(js, e + 7) ~= 117 then
            return "ERR", "invalid unicode escape code", e, e
          end
          local low = hex4(e + 8)
          if low == nil or low < 0xdc00 or low > 0xdfff then
            return "ERR", "invalid unicode escape code", e, e
          end
          cp = (cp - 0xd800) * 1024 + (low - 0xdc00) + 0x10000
          len = 12
        end
        np = np + 1; parts[np] = utf8(cp)
        i = e + len
      else
        local r = c and UNESC[c]
        if not r then return "ERR", "invalid escape code", e, e end
        np = np + 1; parts[np] = r
        i = e + 2
      end
      e = find(js, '["\\]', i)
    end
  end

  local SINGLE = {
    [123] = "T_OBJ_BEGIN", [125] = "T_OBJ_END", [91] = "T_ARR_BEGIN", [93] = "T_ARR_END",
    [44] = "T_COMMA", [58] = "T_COLON",
  }
  local UNKNOWN = {                     -- characters needing more than one look
    [102] = true, [105] = true, [73] = true, [110] = true, [78] = true, [116] = true,
    [43] = true,
  }

  -- json_next_token(): type, value, 1-based position, next position.
  local function token(p)
    local c = byte(js, p)
    if c == 32 or c == 9 or c == 10 or c == 13 then
      p = find(js, "[^ \t\n\r]", p + 1) or (jlen + 1)
      c = byte(js, p)
    end
    if c == nil then return "T_END", nil, p, p end
    local single = SINGLE[c]
    if single then return single, nil, p, p + 1 end
    if c == 34 then return string_token(p) end
    if c == 45 or (c >= 48 and c <= 57) then
      if decode_invalid == 0 and is_invalid_number(p) then
        return "ERR", "invalid number", p, p
      end
      return number_token(p)
    end
    if UNKNOWN[c] then
      if sub(js, p, p + 3) == "true" then return "T_BOOLEAN", true, p, p + 4 end
      if sub(js, p, p + 4) == "false" then return "T_BOOLEAN", false, p, p + 5 end
      if sub(js, p, p + 3) == "null" then return "T_NULL", null, p, p + 4 end
      if decode_invalid ~= 0 and is_invalid_number(p) then return number_token(p) end
    end
    return "ERR", "invalid token", p, p
  end

  local function parse_error(expected, tt, v, tp)
    local found = tt
    if tt == "ERR" then found = v end
    raise(decode, format("Expected %s but found %s at character %d", expected, found, tp))
  end

  local parse_value

  local function descend(depth, slots, need, p)
    if depth > decode_max_depth or slots + need > MAXCSTACK then
      raise(decode, format("Found too many nested data structures (%d) at character %d",
        depth, p - 1))
    end
  end

  -- The fast paths below read the common shapes (a key without escapes and its colon,
  -- a plain string, a plain decimal number, a separator right after a value) with one
  -- pattern match each.  Whenever one does not apply they fall back to token() at the
  -- same position, which also produces every error, so results and messages stay
  -- those of the C tokenizer.
  local KEY_COLON = '^[ \t\n\r]*"([^"\\]*)"[ \t\n\r]*:'
  local parse_object, parse_array

  local function value_at(p, depth, slots)
    local c = byte(js, p)
    if c == 34 then
      local _, e, s = find(js, '^"([^"\\]*)"', p)
      if e then return s, e + 1 end
    elseif c == 123 then
      return parse_object(p + 1, depth, slots)
    elseif c == 91 then
      return parse_array(p + 1, depth, slots)
    elseif c == 116 then
      if sub(js, p, p + 3) == "true" then return true, p + 4 end
    elseif c == 102 then
      if sub(js, p, p + 4) == "false" then return false, p + 5 end
    elseif c == 110 then
      if sub(js, p, p + 3) == "null" then return null, p + 4 end
    elseif c and (c == 45 or (c >= 48 and c <= 57)) and decode_invalid ~= 0 then
      local _, e = find(js, "^-?%d+%.?%d*", p)
      if e then
        local nc = byte(js, e + 1)
        if nc ~= 101 and nc ~= 69 and nc ~= 120 and nc ~= 88 then  -- e E x X
          return tonumber(sub(js, p, e)), e + 1
        end
      end
    end
    local tt, v, tp
    tt, v, tp, p = token(p)
    return parse_value(tt, v, tp, p, depth, slots)
  end

  -- After a value: ',' goes on (false), the closing bracket ends (true), anything else
  -- is read as a token, which is the closer, a comma, or an error.
  local function after_value(p, closer, closer_token, expected)
    local c = byte(js, p)
    if c == 44 then return false, p + 1 end
    if c == closer then return true, p + 1 end
    local tt, v, tp
    tt, v, tp, p = token(p)
    if tt == closer_token then return true, p end
    if tt ~= "T_COMMA" then parse_error(expected, tt, v, tp) end
    return false, p
  end

  parse_object = function(p, depth, slots)
    depth = depth + 1
    descend(depth, slots, 3, p)
    local t = {}
    if byte(js, p) == 125 then return t, p + 1 end
    local first = true
    local tt, v, tp
    while true do
      local _, e, key = find(js, KEY_COLON, p)
      if e then
        p = e + 1
      else
        tt, v, tp, p = token(p)
        if first and tt == "T_OBJ_END" then return t, p end
        if tt ~= "T_STRING" then parse_error("object key string", tt, v, tp) end
        key = v
        tt, v, tp, p = token(p)
        if tt ~= "T_COLON" then parse_error("colon", tt, v, tp) end
      end
      first = false
      v, p = value_at(p, depth, slots + 2)
      t[key] = v
      local done
      done, p = after_value(p, 125, "T_OBJ_END", "comma or object end")
      if done then return t, p end
    end
  end

  parse_array = function(p, depth, slots)
    depth = depth + 1
    descend(depth, slots, 2, p)
    local t = {}
    local c = byte(js, p)
    if c == 93 then return t, p + 1 end
    if c == 32 or c == 9 or c == 10 or c == 13 then
      local tt, _, _, np = token(p)
      if tt == "T_ARR_END" then return t, np end
    end
    local i, v, done = 1, nil, nil
    while true do
      v, p = value_at(p, depth, slots + 1)
      t[i] = v
      done, p = after_value(p, 93, "T_ARR_END", "comma or array end")
      if done then return t, p end
      i = i + 1
    end
  end

  parse_value = function(tt, v, tp, p, depth, slots)
    if tt == "T_STRING" or tt == "T_NUMBER" or tt == "T_BOOLEAN" or tt == "T_NULL" then
      return v, p
    end
    if tt == "T_OBJ_BEGIN" then return parse_object(p, depth, slots) end
    if tt == "T_ARR_BEGIN" then return parse_array(p, depth, slots) end
    parse_error("value", tt, v, tp)
  end

  decode = function(...)
    local n = select("#", ...)
    if n ~= 1 then argerror(decode, "decode", 1, "expected 1 argument") end
    local s = checkstring(decode, "decode", 1, (...), n)
    local len = #s
    if len >= 2 and (byte(s, 1) == 0 or byte(s, 2) == 0) then
      raise(decode, "JSON parser does not support UTF-16 or UTF-32")
    end
    local z = find(s, "\0", 1, true)
    if z then s = sub(s, 1, z - 1) end
    js, jlen = s, #s
    local value, p = value_at(1, 0, 1)
    local tt, v, tp = token(p)
    if tt ~= "T_END" then parse_error("the end", tt, v, tp) end
    js = nil
    return value
  end

  -- Fields in the order of lua_cjson_new()'s luaL_Reg list, then null/_NAME/_VERSION.
  M.encode = encode
  M.decode = decode
  M.encode_sparse_array = cfg_sparse
  M.encode_max_depth = cfg_encode_depth
  M.decode_max_depth = cfg_decode_depth
  M.encode_number_precision = cfg_precision
  M.encode_keep_buffer = cfg_keep_buffer
  M.encode_invalid_numbers = cfg_encode_invalid
  M.decode_invalid_numbers = cfg_decode_invalid
  M.new = new
  M.null = null
  M._NAME = "cjson"
  M._VERSION = "2.1.0"
  return M
end

return new()
