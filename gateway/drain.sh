#!/bin/bash
# Drains Envoy before it is stopped: the gateway pod's preStop hook
# (deploy/k8s/gateway.yaml), or by hand before `docker compose stop envoy`.
#
#   drain.sh [MAX_SECONDS]
#
# 1. POST /healthcheck/fail: /healthz answers 503, so readiness fails and the
#    pod leaves the Service; no new client is sent here.
# 2. POST /drain_listeners?graceful: open connections are told to close
#    (HTTP/1.1 `connection: close`, HTTP/2 GOAWAY) as their requests finish.
# 3. Wait until no request is in flight (http.rest.downstream_rq_active, the
#    listener's stat_prefix), at most MAX_SECONDS (default 645: a synchronous
#    execute may take SYNC_EXECUTE_TIMEOUT_S=600 s, its route allows 630 s),
#    then return and let Kubernetes send SIGTERM, which stops Envoy at once.
#
# Envoy's image has bash but no HTTP client, so the admin API (loopback only,
# envoy.yaml's admin port) is spoken to over bash's /dev/tcp.
set -u

MAX_SECONDS=${1:-645}
ADMIN_PORT=${ENVOY_ADMIN_PORT:-9901}
POLL_SECONDS=${DRAIN_POLL_SECONDS:-1}
ACTIVE_STAT=http.rest.downstream_rq_active

# admin METHOD PATH: prints the admin API's response body; fails if it cannot connect.
admin() {
  exec 3<>"/dev/tcp/127.0.0.1/${ADMIN_PORT}" || return 1
  printf '%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$1" "$2" >&3
  sed '1,/^\r\{0,1\}$/d' <&3
  exec 3<&-
}

admin POST /healthcheck/fail >/dev/null || echo "drain: admin API unreachable on port ${ADMIN_PORT}" >&2
admin POST '/drain_listeners?graceful' >/dev/null

deadline=$((SECONDS + MAX_SECONDS))
while ((SECONDS < deadline)); do
  active=$(admin GET "/stats?filter=downstream_rq_active" | sed -n "s/^${ACTIVE_STAT}: \([0-9]*\).*/\1/p")
  if [[ "${active}" == "0" ]]; then
    echo "drain: no request in flight"
    exit 0
  fi
  sleep "${POLL_SECONDS}"
done
echo "drain: ${MAX_SECONDS}s passed with requests still in flight (${active:-unknown})" >&2
exit 0
