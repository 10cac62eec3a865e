"""A small REST client over one keep-alive HTTP/1.1 connection (stdlib `http.client`).

One connection for every call, as a real client would hold: timings then
measure the platform, not TCP handshakes. Downloads are read in chunks, never
whole, and can stop early.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

API = "/api/v1"


class RestError(Exception):
    """A response with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:500].decode(errors='replace')}")
        self.status = status
        self.body = body


class RestClient:
    """JSON calls and streamed downloads against the gateway at `base_url`.

    base_url: e.g. http://127.0.0.1:8080
    timeout: seconds a single socket read may block.
    """

    def __init__(self, base_url: str, *, timeout: float = 600.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        """Close the kept-alive connection, if one is open."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, method: str, path: str, body: Any = None) -> http.client.HTTPResponse:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, API + path, body=data, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200, 201, 204)) -> Any:
        """Sends one request and returns the decoded JSON body (None when empty); RestError otherwise."""
        response = self._send(method, path, body)
        payload = response.read()
        if response.status not in expect:
            raise RestError(method, path, response.status, payload)
        return json.loads(payload) if payload else None

    def timed(self, method: str, path: str, body: Any = None) -> tuple[float, Any]:
        """(seconds from sending to the last byte of the body, decoded body)."""
        began = time.perf_counter()
        result = self.call(method, path, body)
        return time.perf_counter() - began, result

    def stream(self, path: str, *, chunk_bytes: int = 1 << 20, max_seconds: float | None = None) -> Iterator[bytes]:
        """Yields a GET response body chunk by chunk.

        max_seconds: stop after this long (the connection is then dropped, since the rest is unread).
        """
        response = self._send("GET", path)
        if response.status != 200:
            raise RestError("GET", path, response.status, response.read())
        began = time.perf_counter()
        complete = False
        try:
            while True:
                chunk = response.read1(chunk_bytes) if hasattr(response, "read1") else response.read(chunk_bytes)
                if not chunk:
                    complete = True
                    return
                yield chunk
                if max_seconds is not None and time.perf_counter() - began > max_seconds:
                    return
        finally:
            if not complete:
                self.close()
