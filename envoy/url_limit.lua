-- URL length limit of the edge (414).
--
-- The URL travels to a service twice (as the request line and, once transcoded, as
-- x-envoy-original-path), and Envoy has no limit of its own for it apart from the header limit
-- (431), so a long URL is refused here, first thing. MAX_URL_BYTES is prepended by
-- services/cli/edge.py from EdgeSettings.max_url_bytes; the listener's local reply mapping turns
-- the answer into a JSON google.rpc.Status.

function envoy_on_request(handle)
  local path = handle:headers():get(":path")
  if path ~= nil and #path > MAX_URL_BYTES then
    handle:respond({ [":status"] = "414" }, "request URL too long: at most " .. MAX_URL_BYTES .. " bytes")
  end
end
