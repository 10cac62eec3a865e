-- Requires an API key on every request that reaches the transcoder.
--
-- Keys come from the GATEWAY_API_KEYS environment variable of the Envoy
-- process (a Kubernetes Secret or the compose .env file), comma-separated so
-- a new key can go live before the old one is withdrawn. Envoy's own config
-- has no environment substitution, and the key must not sit in envoy.yaml,
-- which is committed and mounted from a ConfigMap. The variable is read once,
-- when Envoy loads the script: change it by restarting Envoy.
--
-- A client sends `x-api-key: <key>` or `authorization: Bearer <key>`.
--
-- Fails closed: a variable that is unset, empty or only separators names no
-- key, and then the script refuses to load, so Envoy refuses to start (it runs
-- the script's top level when it loads the config; an error there is a config
-- error). Were the script ever to run without keys all the same, every request
-- is refused. The embedded development stack runs the local gateway, not
-- Envoy, and needs no key there.

local keys = {}
local configured = false
for key in string.gmatch(os.getenv("GATEWAY_API_KEYS") or "", "[^,%s]+") do
  keys[key] = true
  configured = true
end
if not configured then
  error("GATEWAY_API_KEYS names no API key: refusing to serve the API without one")
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
  local headers = request_handle:headers()
  local key = presented_key(headers)
  if configured and key ~= nil and keys[key] then
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
