-- Requires an API key on every request that reaches the transcoder.
--
-- Keys come from the GATEWAY_API_KEYS environment variable of the Envoy
-- process (a Kubernetes Secret or the compose .env file), comma-separated so
-- a new key can go live before the old one is withdrawn. Envoy's own config
-- has no environment substitution, and the key must not sit in envoy.yaml,
-- which is committed and mounted from a ConfigMap. The variable is read once,
-- when Envoy loads the script: change it by restarting Envoy.
--
-- A client sends `x-api-key: <key>` or `authorization: Bearer <key>`. With no
-- key configured every request passes, which only the embedded development
-- stack should do; the deployment manifests make the variable mandatory.

local keys = {}
local configured = false
for key in string.gmatch(os.getenv("GATEWAY_API_KEYS") or "", "[^,%s]+") do
  keys[key] = true
  configured = true
end

-- The same google.rpc.Status shape convert_grpc_status gives other errors
-- (code 16 is UNAUTHENTICATED), so clients parse one error format.
local REJECTION = '{"code":16,"message":"missing or invalid API key","details":[]}'

local function presented_key(headers)
  local key = headers:get("x-api-key")
  if key ~= nil then
    return key
  end
  local authorization = headers:get("authorization")
  if authorization == nil then
    return nil
  end
  return string.match(authorization, "^[Bb]earer%s+(%S+)%s*$")
end

function envoy_on_request(request_handle)
  if not configured then
    return
  end
  local headers = request_handle:headers()
  local key = presented_key(headers)
  if key ~= nil and keys[key] then
    -- The services have no use for the credential; keep it out of their logs.
    headers:remove("x-api-key")
    headers:remove("authorization")
    return
  end
  request_handle:respond({
    [":status"] = "401",
    ["content-type"] = "application/json",
    ["www-authenticate"] = 'Bearer realm="backtest"',
  }, REJECTION)
end
