"""A tiny HTTP client bound to one base URL: what a REST client of the platform does, nothing more."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Sync executes block up to the deployment's deadline; a market-data upload
# of a few hundred thousand rows takes seconds.
TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Response:
    """One HTTP response, read in full."""

    status: int
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; fails the test with the raw body when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"HTTP {self.status}: body is not JSON: {self.text[:500]!r}") from None

    def __repr__(self) -> str:  # what pytest shows when an assertion on a response fails
        return f"<HTTP {self.status} {self.text[:800]}>"


class Api:
    """Requests against `base_url` (http://host:port), paths relative to /api/v1 unless absolute."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = TIMEOUT_S) -> None:
        """A client of one gateway.

        base_url: http://host:port of the gateway.
        api_key: sent as x-api-key when set.
        timeout: seconds a request may take before it fails with TimeoutError.
        """
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"gateway URL must look like http://host:port, got {base_url!r}")
        self.base_url = base_url
        self._parsed = parsed
        self._api_key = api_key
        self._timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        from_root: bool = False,
    ) -> Response:
        """Send one request.

        path: "/backtests" (under /api/v1) or an absolute "/api/..." path.
        from_root: `path` is from the gateway's root ("/openapi.json", "/docs"), not the API's.
        json_body: serialised as JSON (content-type application/json).
        body: raw bytes sent as they are, with `content_type`.
        params: query parameters; lists repeat the key.
        """
        target = path if from_root or path.startswith("/api/") else "/api/v1" + path
        if params:
            target += "?" + urllib.parse.urlencode(params, doseq=True)
        sent = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = content_type or "application/json"
        if content_type:
            sent["content-type"] = content_type
        if self._api_key:
            sent["x-api-key"] = self._api_key
        conn_type = http.client.HTTPSConnection if self._parsed.scheme == "https" else http.client.HTTPConnection
        conn = conn_type(self._parsed.hostname, self._parsed.port, timeout=self._timeout)
        try:
            conn.request(method, (self._parsed.path.rstrip("/") + target), body=body, headers=sent)
            raw = conn.getresponse()
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
        finally:
            conn.close()

    def stream_array(self, path: str) -> Iterator[tuple[float, Any]]:
        """GET a streamed JSON array; yields (seconds since the request, element) as each element arrives.

        Fails on a status other than 200. The elements are parsed from the body as its bytes come in,
        so the times say when the gateway wrote each one.
        """
        headers = {"x-api-key": self._api_key} if self._api_key else {}
        conn_type = http.client.HTTPSConnection if self._parsed.scheme == "https" else http.client.HTTPConnection
        conn = conn_type(self._parsed.hostname, self._parsed.port, timeout=self._timeout)
        began = time.monotonic()
        try:
            conn.request("GET", self._parsed.path.rstrip("/") + "/api/v1" + path, headers=headers)
            raw = conn.getresponse()
            if raw.status != 200:
                raise AssertionError(Response(raw.status, dict(raw.getheaders()), raw.read()))
            decoder, buffer, position, opened = json.JSONDecoder(), "", 0, False
            while chunk := raw.read1(65536):
                buffer += chunk.decode()
                while True:
                    position = len(buffer) - len(buffer[position:].lstrip(" \n\r\t,"))
                    if not opened and buffer[position : position + 1] == "[":
                        opened, position = True, position + 1
                        continue
                    if buffer[position : position + 1] in ("", "]"):
                        break
                    try:
                        element, position = decoder.raw_decode(buffer, position)
                    except json.JSONDecodeError:
                        break  # the element's bytes are not all in yet
                    yield time.monotonic() - began, element
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, json_body=json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> Response:
        return self.request("PATCH", path, json_body=json_body, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)
