"""gRPC status -> HTTP status, as Envoy maps it (source/common/grpc/status.cc).

Every 503 carries `Retry-After` (RETRY_AFTER_S): a 503 means a dependency is
away for now, and clients back off by it (gateway/lua/x_http_code.lua adds
the same header in Envoy).

Also the `x-http-code` rule of gateway/lua/x_http_code.lua: the service's
initial metadata asks for 201 or 204 (replacing a 200) or 422 (replacing the
400 of INVALID_ARGUMENT); any other combination leaves the status alone, so a
success code never hides a failure. A 204 has no body and no content-type.
"""

from __future__ import annotations

import grpc

HTTP_CODE_KEY = "x-http-code"
NO_CONTENT = 204
UNAVAILABLE_STATUS = 503
RETRY_AFTER_S = "1"  # seconds: an outage's first retry soon, then the client's own backoff

_HTTP_BY_GRPC: dict[int, int] = {
    0: 200,  # OK
    1: 499,  # CANCELLED
    2: 500,  # UNKNOWN
    3: 400,  # INVALID_ARGUMENT
    4: 504,  # DEADLINE_EXCEEDED
    5: 404,  # NOT_FOUND
    6: 409,  # ALREADY_EXISTS
    7: 403,  # PERMISSION_DENIED
    8: 429,  # RESOURCE_EXHAUSTED
    9: 400,  # FAILED_PRECONDITION
    10: 409,  # ABORTED
    11: 400,  # OUT_OF_RANGE
    12: 501,  # UNIMPLEMENTED
    13: 500,  # INTERNAL
    14: 503,  # UNAVAILABLE
    15: 500,  # DATA_LOSS
    16: 401,  # UNAUTHENTICATED
}
_MISSING_STATUS = 503  # no grpc-status, or one that is not a code

# The gRPC code a local reply's JSON body carries, so every error body has one shape;
# any other status carries UNKNOWN. envoy.yaml's local_reply_config maps the same
# statuses to the same codes (tests/unit/deploy/test_envoy_schema.py compares them).
LOCAL_REPLY_CODES = {400: 3, 404: 5, 413: 8, 500: 13, 502: 13, 503: 14, 504: 4}
UNKNOWN = 2


def with_retry_after(status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`headers`, plus Retry-After when `status` is 503 and it has none."""
    if status != UNAVAILABLE_STATUS or any(name.lower() == "retry-after" for name, _ in headers):
        return headers
    return [*headers, ("retry-after", RETRY_AFTER_S)]


def grpc_code_number(code: grpc.StatusCode | None) -> int | None:
    """The wire number of a grpc.StatusCode (None stays None)."""
    return None if code is None else code.value[0]


def http_status_for(code: int | None) -> int:
    """The HTTP status Envoy answers for a gRPC status code number (None: missing)."""
    if code is None:
        return _MISSING_STATUS
    return _HTTP_BY_GRPC.get(code, 500)


def grpc_code_for_local_reply(http_status: int) -> int:
    """The gRPC code shown in the body of a reply the gateway makes itself."""
    return LOCAL_REPLY_CODES.get(http_status, UNKNOWN)


# Requested code -> the transcoded status it may replace.
_REPLACES = {"201": 200, "204": 200, "422": 400}


def apply_http_code(status: int, initial_metadata) -> int:
    """The status after the Lua filter applied `x-http-code`.

    status: what the transcoder answered.
    initial_metadata: (key, value) pairs the upstream sent first.
    """
    for key, value in initial_metadata or ():
        if key == HTTP_CODE_KEY and _REPLACES.get(value) == status:
            return int(value)
    return status
