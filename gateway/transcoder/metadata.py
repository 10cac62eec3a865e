"""HTTP headers <-> gRPC metadata, as Envoy passes them between client and service."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

from gateway.transcoder.status_mapping import HTTP_CODE_KEY

Headers = list[tuple[str, str]]
Metadata = list[tuple[str, str | bytes]]

# Request headers about the HTTP/1.1 connection or body rather than the call;
# user-agent is left out because grpc replaces it with its own anyway.
_NOT_FORWARDED = frozenset(
    ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "host",
     "content-length", "content-type", "expect", "http2-settings", "trailer", "user-agent", "x-request-id")
)  # fmt: skip
_METADATA_KEY = re.compile(r"[0-9a-z_.\-]+")
# Response metadata that must not become a header: framing is ours, x-http-code the Lua filter's.
_NOT_HEADERS = frozenset(
    (HTTP_CODE_KEY, "content-type", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
     "trailer", "upgrade")
)  # fmt: skip
# grpc-message is percent-encoded on the wire except for printable ASCII.
_MESSAGE_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if c != ord("%"))


def request_metadata(headers: Headers, *, method: str, target: str, client: str, request_id: str) -> Metadata:
    """The metadata of the upstream call for a request's headers.

    headers: the request headers (after the API key filter removed credentials).
    method, target: the client's method and (normalized) path, kept as x-envoy-original-*.
    client: the client's IP, appended to x-forwarded-for (use_remote_address).
    request_id: the request's x-request-id (the client's, or one made up as Envoy does).
    """
    metadata: Metadata = []
    forwarded_for = None
    for name, value in headers:
        key = name.lower()
        if key in _NOT_FORWARDED or key.startswith(("grpc-", "x-envoy-")) or not _METADATA_KEY.fullmatch(key):
            continue  # Envoy at the edge drops x-envoy-* from clients; grpc-* are the call's own
        if key == "x-forwarded-for":
            forwarded_for = value
        elif key.endswith("-bin"):
            try:
                metadata.append((key, base64.b64decode(value + "=" * (-len(value) % 4))))
            except ValueError:
                continue
        elif value.isascii() and value.isprintable():
            metadata.append((key, value))
    metadata.append(("x-forwarded-for", f"{forwarded_for}, {client}" if forwarded_for else client))
    metadata.append(("x-forwarded-proto", "http"))
    metadata.append(("x-envoy-original-path", target))
    metadata.append(("x-envoy-original-method", method))
    metadata.append(("x-request-id", request_id))
    return metadata


def response_headers(metadata) -> Headers:
    """Initial metadata as response headers, as Envoy passes upstream headers through.

    metadata: (key, value) pairs; binary (-bin) values go out base64-encoded as on the wire.
    """
    headers = []
    for key, value in metadata or ():
        if key in _NOT_HEADERS or key.startswith(":"):
            continue
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii").rstrip("=")
        headers.append((key, value))
    return headers


def grpc_status_headers(code: int, text: str) -> Headers:
    """grpc-status and grpc-message as Envoy copies them into the response headers."""
    headers = [("grpc-status", str(code))]
    if text:
        headers.append(("grpc-message", quote(text, safe=_MESSAGE_SAFE)))
    return headers
