-- First half of the unknown-field check of REST JSON bodies (the second is body_fields.lua).
--
-- Runs before the transcoder, which consumes the JSON body and forwards protobuf: a REST request's
-- body is copied into the dynamic metadata `teei.body` (key `json`) for body_fields.lua, which runs
-- after the transcoder and so knows the gRPC method the transcoder chose. Native gRPC (its
-- content-type, as the transcoder tells them apart) and bodiless GET/HEAD requests are skipped;
-- the bulk-upload routes (CSV imports, up to 64 MiB) disable this filter. The buffer filter before
-- it has already bounded the body (413).

local function is_grpc(content_type)
  if content_type == nil or string.sub(content_type, 1, 16) ~= "application/grpc" then
    return false
  end
  local next_char = string.sub(content_type, 17, 17)
  return next_char == "" or next_char == "+" or next_char == ";"
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local method = headers:get(":method")
  if method == "GET" or method == "HEAD" or is_grpc(headers:get("content-type")) then
    return
  end
  local body = handle:body()
  if body == nil then
    return
  end
  handle:streamInfo():dynamicMetadata():set("teei.body", "json", body:getBytes(0, body:length()))
end
