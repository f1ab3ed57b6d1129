-- Unknown fields in REST JSON bodies are refused: 400 naming the field.
--
-- The transcoder drops unknown JSON fields silently and has no option to refuse them. body_capture.lua
-- (before the transcoder) keeps a copy of the REST body in the dynamic metadata `teei.body`; this
-- script runs after the transcoder, authentication and authorisation, where :path is the gRPC
-- method the transcoder chose, so it checks the body against exactly the message the transcoder
-- parsed it into. The tables are generated from the descriptor set (services/cli/edge_bodies.py)
-- and prepended to this file:
--   METHODS["/pkg.Service/Method"] = "pkg.Body"    -- RPCs with a JSON body (raw bodies are absent)
--   MESSAGES["pkg.Body"] = { name = true | {message = "pkg.Nested"} | {map_of = "pkg.Value"} }
-- `true` is a value not checked here (scalars, enums, well-known types); values are the
-- transcoder's to judge.
--
-- Envoy's Lua has no JSON library, hence this scanner. It reads object keys (decoding escapes, so
-- "\u0062ogus" is "bogus") and skips values; anything that is not JSON (RFC 8259), or nests deeper
-- than MAX_DEPTH, is refused (fail closed).

local MAX_DEPTH = 64
local MAX_NAME_BYTES = 128

local find, sub, byte, char, floor = string.find, string.sub, string.byte, string.char, math.floor

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function invalid(reason, at)
  error({ invalid = reason, at = at }, 0)
end

local function skip_space(s, i)
  local _, last = find(s, "^[ \t\r\n]*", i)
  return (last or i - 1) + 1
end

-- s[i] is the opening quote; returns the index after the closing quote and the raw contents.
local function scan_string(s, i)
  local j = i + 1
  while true do
    local at = find(s, '["\\%z\1-\31]', j)
    if at == nil then
      invalid("unterminated string", i)
    end
    local c = byte(s, at)
    if c == 34 then
      return at + 1, sub(s, i + 1, at - 1)
    elseif c ~= 92 then
      invalid("control character in a string", at)
    end
    local escape = sub(s, at + 1, at + 1)
    if escape == "u" then
      if not find(s, "^%x%x%x%x", at + 2) then
        invalid("bad \\u escape", at)
      end
      j = at + 6
    elseif ESCAPES[escape] ~= nil then
      j = at + 2
    else
      invalid("bad escape", at)
    end
  end
end

local function utf8(code)
  if code < 0x80 then
    return char(code)
  elseif code < 0x800 then
    return char(0xC0 + floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return char(0xE0 + floor(code / 0x1000), 0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return char(
    0xF0 + floor(code / 0x40000),
    0x80 + floor(code / 0x1000) % 0x40,
    0x80 + floor(code / 0x40) % 0x40,
    0x80 + code % 0x40
  )
end

-- The text of a string scanned by scan_string (so every escape in it is well-formed).
local function decode(raw)
  if not find(raw, "\\", 1, true) then
    return raw
  end
  local out, i = {}, 1
  while true do
    local at = find(raw, "\\", i, true)
    if at == nil then
      out[#out + 1] = sub(raw, i)
      return table.concat(out)
    end
    out[#out + 1] = sub(raw, i, at - 1)
    local escape = sub(raw, at + 1, at + 1)
    if escape == "u" then
      local code = tonumber(sub(raw, at + 2, at + 5), 16)
      i = at + 6
      local low = sub(raw, i, i + 1) == "\\u" and tonumber(sub(raw, i + 2, i + 5), 16) or nil
      if code >= 0xD800 and code <= 0xDBFF and low ~= nil and low >= 0xDC00 and low <= 0xDFFF then
        code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
        i = i + 6
      end
      out[#out + 1] = utf8(code)
    else
      out[#out + 1] = ESCAPES[escape]
      i = at + 2
    end
  end
end

local function scan_number(s, i)
  local _, last = find(s, "^-?%d+", i)
  if last == nil or (byte(s, i) == 48 and last > i) or (byte(s, i) == 45 and byte(s, i + 1) == 48 and last > i + 1) then
    invalid("unexpected value", i)
  end
  local _, fraction = find(s, "^%.%d+", last + 1)
  last = fraction or last
  local _, exponent = find(s, "^[eE][-+]?%d+", last + 1)
  return (exponent or last) + 1
end

local LITERALS = { [116] = "true", [102] = "false", [110] = "null" }

local scan_value

-- s[i] is "{". `fields`: the accepted names (nil: any name); `values`: the spec of every value
-- when any name is accepted (a map).
local function scan_object(s, i, fields, values, path, depth)
  i = skip_space(s, i + 1)
  if byte(s, i) == 125 then
    return i + 1
  end
  while true do
    if byte(s, i) ~= 34 then
      invalid("expected a field name", i)
    end
    local raw
    i, raw = scan_string(s, i)
    local name = decode(raw)
    local name_path = path == "" and name or path .. "." .. name
    local spec = values or true
    if fields ~= nil then
      spec = fields[name]
      if spec == nil then
        error({ unknown = name_path }, 0)
      end
    end
    i = skip_space(s, i)
    if byte(s, i) ~= 58 then
      invalid("expected ':'", i)
    end
    i = skip_space(s, scan_value(s, skip_space(s, i + 1), spec, name_path, depth))
    local c = byte(s, i)
    if c == 125 then
      return i + 1
    elseif c ~= 44 then
      invalid("expected ',' or '}'", i)
    end
    i = skip_space(s, i + 1)
  end
end

local function scan_array(s, i, spec, path, depth)
  i = skip_space(s, i + 1)
  if byte(s, i) == 93 then
    return i + 1
  end
  local index = 0
  while true do
    local c = byte(s, i)
    -- Only objects need the path (to name an unknown field in them).
    local element_path = (c == 123 or c == 91) and path .. "[" .. index .. "]" or path
    i = skip_space(s, scan_value(s, i, spec, element_path, depth))
    c = byte(s, i)
    if c == 93 then
      return i + 1
    elseif c ~= 44 then
      invalid("expected ',' or ']'", i)
    end
    i = skip_space(s, i + 1)
    index = index + 1
  end
end

-- Returns the index after the value at s[i]. `spec`: true (not checked) or a field spec.
function scan_value(s, i, spec, path, depth)
  local c = byte(s, i)
  if c == 123 or c == 91 then
    if depth >= MAX_DEPTH then
      invalid("nested more than " .. MAX_DEPTH .. " levels deep", i)
    end
    if c == 91 then
      return scan_array(s, i, spec, path, depth + 1)
    end
    local fields, values = nil, nil
    if spec ~= true and spec.message ~= nil then
      fields = MESSAGES[spec.message]
    elseif spec ~= true then
      values = { message = spec.map_of }
    end
    return scan_object(s, i, fields, values, path, depth + 1)
  elseif c == 34 then
    return (scan_string(s, i))
  end
  local literal = LITERALS[c]
  if literal ~= nil then
    if sub(s, i, i + #literal - 1) ~= literal then
      invalid("unexpected value", i)
    end
    return i + #literal
  end
  return scan_number(s, i)
end

-- nil when the body names only known fields, else the answer's message.
local function problem(body, message)
  local ok, err = pcall(function()
    local i = skip_space(body, 1)
    if i > #body then
      return
    end
    i = skip_space(body, scan_value(body, i, { message = message }, "", 0))
    if i <= #body then
      invalid("unexpected data after the value", i)
    end
  end)
  if ok then
    return nil
  elseif type(err) == "table" and err.unknown ~= nil then
    local name = err.unknown
    if #name > MAX_NAME_BYTES then
      -- Cut before a character, not inside one (continuation bytes are 0x80-0xBF).
      local cut = MAX_NAME_BYTES
      while cut > 0 and byte(name, cut + 1) >= 0x80 and byte(name, cut + 1) < 0xC0 do
        cut = cut - 1
      end
      name = sub(name, 1, cut) .. "..."
    end
    return 'unknown field "' .. name .. '" in the request body'
  elseif type(err) == "table" then
    return "the request body is not valid JSON: " .. err.invalid .. " at byte " .. (err.at - 1)
  end
  error(err)
end

function envoy_on_request(handle)
  local captured = handle:streamInfo():dynamicMetadata():get("teei.body")
  if captured == nil or captured.json == nil then
    return
  end
  local message = METHODS[string.match(handle:headers():get(":path") or "", "^[^?]*")]
  if message == nil then
    return
  end
  local ok, answer = pcall(problem, captured.json, message)
  if not ok then
    handle:logErr("body_fields: " .. tostring(answer))
    answer = "the request body could not be checked"
  end
  if answer ~= nil then
    handle:respond({ [":status"] = "400" }, answer)
  end
end
