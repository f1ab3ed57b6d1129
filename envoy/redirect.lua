-- Redirects asked for by a service.
--
-- A gRPC method cannot answer with an HTTP status of its own, so a service that must send the
-- browser elsewhere (the gateway's SSO login and callback) sets the response metadata
--   x-teei-http-status: 302
--   location: https://idp.example/authorize?...
-- This script runs on every response after the transcoder (it sits before it in the filter
-- chain). For a REST answer it turns that metadata into a real redirect; a native gRPC client
-- keeps its 200 and reads `location` from the metadata. x-teei-http-status never leaves the edge.

local REDIRECT_STATUSES = { ["301"] = true, ["302"] = true, ["303"] = true, ["307"] = true, ["308"] = true }

local function is_grpc(content_type)
  return content_type ~= nil and string.sub(content_type, 1, 16) == "application/grpc"
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local status = headers:get("x-teei-http-status")
  if status == nil then
    return
  end
  headers:remove("x-teei-http-status")
  if is_grpc(headers:get("content-type")) or headers:get(":status") ~= "200" then
    return
  end
  local location = headers:get("location")
  if REDIRECT_STATUSES[status] and location ~= nil and location ~= "" then
    headers:replace(":status", status)
  else
    handle:logWarn("redirect: ignored x-teei-http-status " .. status .. " without a usable location")
  end
end
