-- Applies the HTTP status a backtest service asks for in its `x-http-code`
-- initial metadata: the codes gRPC has no status for (201 after a create,
-- 204 after a delete, 422 for a validation error). And every 503 gets
-- `Retry-After: 1`: a 503 means a dependency is away for now (a database or
-- queue outage, an upstream down), and clients back off by it.
--
-- envoy.yaml lists this filter before the transcoder. Response filters run
-- in reverse order, so this one sees the response after the transcoder has
-- turned it into JSON and set the status from grpc-status. The local
-- gateway (gateway/transcoder) applies the same rule; keep the two in step.

-- The transcoded status each requested code may replace. A service that
-- sets 201 and then fails still answers with its error: a success code
-- never hides a failure, and 422 only refines the 400 of INVALID_ARGUMENT.
local REPLACES = { ["201"] = "200", ["204"] = "200", ["422"] = "400" }

-- A native gRPC call through the public port is not transcoded: its response
-- is still gRPC (content-type application/grpc...), and a gRPC client needs
-- its 200 and sees `x-http-code` as the initial metadata the service sent. The
-- transcoder turns every REST answer into JSON or the HttpBody's own type first.
local function is_grpc(headers)
  local content_type = headers:get("content-type")
  return content_type ~= nil and string.sub(content_type, 1, 16) == "application/grpc"
end

local RETRY_AFTER_S = "1"

function envoy_on_response(response_handle)
  local headers = response_handle:headers()
  if is_grpc(headers) then
    return
  end
  if headers:get(":status") == "503" and headers:get("retry-after") == nil then
    headers:add("retry-after", RETRY_AFTER_S)
  end
  local wanted = headers:get("x-http-code")
  if wanted == nil then
    return
  end
  -- An internal signal between service and gateway; clients never see it.
  headers:remove("x-http-code")
  if REPLACES[wanted] == nil or REPLACES[wanted] ~= headers:get(":status") then
    return
  end
  headers:replace(":status", wanted)
  if wanted ~= "204" then
    return
  end
  -- google.protobuf.Empty transcodes to "{}", but a 204 has no body.
  local body = response_handle:body()
  if body ~= nil then
    body:setBytes("")
  end
  -- After the body: setBytes may have written a content-length back.
  headers:remove("content-length")
  headers:remove("content-type")
end
