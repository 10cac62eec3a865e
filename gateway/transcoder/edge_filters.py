"""What envoy.yaml does to a request before the transcoder sees it.

- The connection manager rejects header names with underscores
  (headers_with_underscores_action: REJECT_REQUEST), resolves `.` and `..`
  path segments (normalize_path) and merges repeated slashes (merge_slashes).
- The health_check filter answers GET /healthz itself, before any API key:
  200, or 503 once the gateway is draining.
- gateway/lua/api_key.lua: when keys are configured (GATEWAY_API_KEYS), a
  request needs `x-api-key: <key>` or `authorization: Bearer <key>`, else
  401; the credential is not forwarded to the services.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

HEALTH_PATH = "/healthz"
API_KEY_REJECTION = b'{"code":16,"message":"missing or invalid API key","details":[]}'
API_KEY_CHALLENGE = ("www-authenticate", 'Bearer realm="backtest"')
_CREDENTIAL_HEADERS = frozenset(("x-api-key", "authorization"))
_BEARER = re.compile(r"[Bb]earer\s+(\S+)\s*")
_SLASHES = re.compile(r"/{2,}")


def parse_api_keys(raw: str) -> frozenset[str]:
    """The keys in GATEWAY_API_KEYS: separated by commas and/or whitespace, as the Lua script splits them."""
    return frozenset(re.findall(r"[^,\s]+", raw))


def normalize_path(path: str) -> str:
    """The path with `.`/`..` segments resolved and repeated slashes merged."""
    segments = path.split("/")[1:]
    if "." not in segments and ".." not in segments:
        return _SLASHES.sub("/", path)
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    trailing = "/" if segments and segments[-1] in (".", "..") else ""
    return _SLASHES.sub("/", "/" + "/".join(kept) + trailing)


def has_underscore_header(headers: Iterable[tuple[str, str]]) -> bool:
    """Whether any header name contains "_" (Envoy rejects those requests with 400)."""
    return any("_" in name for name, _ in headers)


class ApiKeys:
    """The API key check of gateway/lua/api_key.lua.

    keys: accepted keys; none means every request passes, as in the embedded dev stack.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = frozenset(keys)

    def admits(self, header: Callable[[str], str | None]) -> bool:
        """Whether the request presents an accepted key.

        header: looks up a request header by name (case-insensitive).
        """
        if not self._keys:
            return True
        key = header("x-api-key")
        if key is None:
            authorization = header("authorization")
            match = _BEARER.fullmatch(authorization) if authorization is not None else None
            key = match.group(1) if match else None
        return key is not None and key in self._keys

    def forwarded(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The headers to forward: without the credential once a key was checked."""
        if not self._keys:
            return headers
        return [(name, value) for name, value in headers if name.lower() not in _CREDENTIAL_HEADERS]
