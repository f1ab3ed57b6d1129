-- Readiness endpoint of the edge.
--
-- Enabled only on the /health/readiness route (the filter is disabled by default in the
-- listener). The route passes, as the filter context, the ordered list of upstream cluster
-- names and the cluster serving Envoy's admin interface. The script reads the admin
-- `/clusters` page, whose host lines look like
--   profile::127.0.0.1:50052::health_flags::healthy
--   q2q::127.0.0.1:50056::health_flags::/failed_active_hc
-- and answers itself: 200 when every upstream has at least one host that passes its active
-- grpc.health.v1 check, 503 otherwise. The body names every upstream and its state, e.g.
--   {"status":"ready","services":{"gateway":"SERVING","profile":"SERVING"}}
-- A process the launcher's supervisor leaves down (crash loop, restart policy) is set as the
-- runtime key `readiness.down.<name>` in the admin layer, its reason as the value; the body then
-- adds "down":{"<name>":"<reason>"} (services/cli/supervisor.py).

local ADMIN_TIMEOUT_MS = 1000

local function json_string(value)
  local escaped = string.gsub(value, '[%c"\\]', function(c)
    if c == '"' then
      return '\\"'
    elseif c == "\\" then
      return "\\\\"
    end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

-- Returns a table: cluster name -> true when at least one of its hosts is healthy,
-- false when it has hosts but none is healthy. Clusters without hosts are absent.
local function parse_clusters(body)
  local healthy = {}
  for line in string.gmatch(body, "[^\r\n]+") do
    -- Cluster names never contain "::" (the renderer enforces it); host addresses may
    -- (IPv6), hence the lazy match for the name and the anchored match for the flags.
    local name, flags = string.match(line, "^(.-)::.*::health_flags::(%S+)%s*$")
    if name ~= nil then
      healthy[name] = healthy[name] or (flags == "healthy")
    end
  end
  return healthy
end

-- Admin `/runtime` lists entries as "<key>": {"final_value": "<value>", "layer_values": [...]}.
local function down_reasons(handle, admin_cluster)
  local ok, headers, body = pcall(function()
    return handle:httpCall(admin_cluster, {
      [":method"] = "GET",
      [":path"] = "/runtime",
      [":authority"] = admin_cluster,
    }, "", { ["timeout_ms"] = ADMIN_TIMEOUT_MS, ["send_xff"] = false })
  end)
  local parts = {}
  if not ok or headers == nil or headers[":status"] ~= "200" or body == nil then
    return parts
  end
  for name, entry in string.gmatch(body, '"readiness%.down%.([%w_%-]+)"%s*:%s*(%b{})') do
    local reason = string.match(entry, '"final_value"%s*:%s*"([^"]*)"')
    if reason ~= nil and reason ~= "" then
      parts[#parts + 1] = json_string(name) .. ":" .. json_string(reason)
    end
  end
  return parts
end

local function respond(handle, ready, upstreams, states, down)
  local parts = {}
  for i, name in ipairs(upstreams) do
    parts[i] = json_string(name) .. ":" .. json_string(states[name])
  end
  local status = ready and "ready" or "not_ready"
  local body = '{"status":' .. json_string(status) .. ',"services":{' .. table.concat(parts, ",") .. "}"
  if #down > 0 then
    body = body .. ',"down":{' .. table.concat(down, ",") .. "}"
  end
  body = body .. "}"
  handle:respond({
    [":status"] = ready and "200" or "503",
    ["content-type"] = "application/json",
    ["cache-control"] = "no-store",
  }, body)
end

function envoy_on_request(handle)
  local context = handle:filterContext()
  local admin_cluster = context:get("admin_cluster")
  local upstreams = context:get("upstreams") or {}

  local ok, headers, body = pcall(function()
    return handle:httpCall(admin_cluster, {
      [":method"] = "GET",
      [":path"] = "/clusters",
      [":authority"] = admin_cluster,
    }, "", { ["timeout_ms"] = ADMIN_TIMEOUT_MS, ["send_xff"] = false })
  end)

  local states = {}
  local ready = #upstreams > 0
  if not ok or headers == nil or headers[":status"] ~= "200" or body == nil then
    handle:logWarn("readiness: admin /clusters unavailable")
    for _, name in ipairs(upstreams) do
      states[name] = "UNKNOWN"
    end
    respond(handle, false, upstreams, states, {})
    return
  end

  local healthy = parse_clusters(body)
  for _, name in ipairs(upstreams) do
    if healthy[name] then
      states[name] = "SERVING"
    else
      states[name] = "NOT_SERVING"
      ready = false
    end
  end
  respond(handle, ready, upstreams, states, down_reasons(handle, admin_cluster))
end
