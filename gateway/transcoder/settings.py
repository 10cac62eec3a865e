"""The gateway's settings, read from the environment (see services.kit.settings)."""

from __future__ import annotations

import dataclasses
import ipaddress
import re

from gateway.transcoder.edge_filters import parse_api_keys
from gateway.transcoder.print_options import DEFAULT_PATH as DEFAULT_PRINT_OPTIONS
from services.kit.settings import setting

MIB = 1024 * 1024

# A full proto service name, then "=", then where it listens.
_UPSTREAM = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+)=([^\s=,]+:\d+)$")


def parse_upstreams(raw: str) -> dict[str, str]:
    """Reads `pkg.Service=host:port,pkg.Other=host:port` into {service: address}."""
    upstreams: dict[str, str] = {}
    bad: list[str] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        match = _UPSTREAM.match(entry)
        if match is None:
            bad.append(entry)
        else:
            upstreams[match.group(1)] = match.group(2)
    if bad:
        raise ValueError(f"expected full.ServiceName=host:port, got {', '.join(map(repr, bad))}")
    if not upstreams:
        raise ValueError("no upstream listed")
    return upstreams


@dataclasses.dataclass(frozen=True)
class GatewaySettings:
    """Everything `python -m gateway.transcoder` needs.

    upstreams: full service name -> host:port; like Envoy's `services`, only these are routed.
    host, port: where the HTTP server listens.
    descriptor: FileDescriptorSet with imports, as `make proto` writes it.
    print_options: JSON file of Envoy's print_options, shared with envoy.yaml.
    api_keys: accepted API keys (comma-separated), as gateway/lua/api_key.lua reads them; none: no check.
    upstream_timeout_s: deadline of every upstream call but downloads (long synchronous executes need minutes).
    max_request_body_bytes: JSON request bodies above this get 413.
    max_upload_bytes: raw `google.api.HttpBody` request bodies (market-data files) above this get 413;
        the default is envoy.yaml's max_request_body_size, below the services' 64 MiB message limit.
    max_response_body_bytes: a unary response above this gets 500, like envoy.yaml's max_response_body_size.
    idle_timeout_s: a connection with no traffic for this long is closed.
    log_level: minimum level of the JSON logs.
    """

    upstreams: dict[str, str] = setting("GATEWAY_UPSTREAMS", parse=parse_upstreams)
    host: str = setting("GATEWAY_HOST", default="127.0.0.1")
    port: int = setting("GATEWAY_PORT", default=8080, parse=int)
    descriptor: str = setting("GATEWAY_DESCRIPTOR", default="gen/descriptor.binpb")
    print_options: str = setting("GATEWAY_PRINT_OPTIONS", default=DEFAULT_PRINT_OPTIONS)
    api_keys: frozenset[str] = setting("GATEWAY_API_KEYS", default=frozenset(), parse=parse_api_keys, secret=True)
    upstream_timeout_s: float = setting("GATEWAY_UPSTREAM_TIMEOUT_S", default=600.0, parse=float)
    max_request_body_bytes: int = setting("GATEWAY_MAX_REQUEST_BODY_BYTES", default=8 * MIB, parse=int)
    max_upload_bytes: int = setting("GATEWAY_MAX_UPLOAD_BYTES", default=60 * MIB, parse=int)
    max_response_body_bytes: int = setting("GATEWAY_MAX_RESPONSE_BODY_BYTES", default=32 * MIB, parse=int)
    idle_timeout_s: float = setting("GATEWAY_IDLE_TIMEOUT_S", default=300.0, parse=float)
    log_level: str = setting("LOG_LEVEL", default="INFO")


def exposure_problem(settings: GatewaySettings) -> str | None:
    """Why these settings must not serve, or None: beyond loopback the API needs keys.

    settings: the parsed gateway settings.
    """
    if settings.api_keys:
        return None
    try:
        loopback = ipaddress.ip_address(settings.host).is_loopback
    except ValueError:  # a host name: only "localhost" is known to stay on this machine
        loopback = settings.host == "localhost"
    if loopback:
        return None
    return f"GATEWAY_HOST={settings.host} is reachable from other machines: set GATEWAY_API_KEYS or bind to 127.0.0.1"
