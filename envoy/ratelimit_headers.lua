-- One set of rate-limit headers per answer.
--
-- When the edge counts some keys in its own token buckets (the local rate-limit filter) and asks the
-- rate-limit service about the others (the global filter), each filter adds its x-ratelimit-limit,
-- -remaining and -reset to every answer it saw. A client gets one set, as before the split: the one
-- with the fewest requests remaining (the first, the global filter's, on a tie). This script runs on
-- responses after both filters (it sits before them in the filter chain).

local NAMES = { "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset" }

function envoy_on_response(handle)
  local headers = handle:headers()
  local count = headers:getNumValues("x-ratelimit-remaining")
  if count < 2 then
    return
  end
  local chosen, fewest = 0, nil
  for index = 0, count - 1 do
    local remaining = tonumber(headers:getAtIndex("x-ratelimit-remaining", index))
    if remaining ~= nil and (fewest == nil or remaining < fewest) then
      chosen, fewest = index, remaining
    end
  end
  for _, name in ipairs(NAMES) do
    if headers:getNumValues(name) == count then
      headers:replace(name, headers:getAtIndex(name, chosen))
    end
  end
end
