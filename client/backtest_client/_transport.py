"""HTTP to the gateway: one pooled httpx client, the API key, retries on 503, errors raised as BacktestError.

Only 503 is retried: the platform says it then when it could not take the
request at all (a draining service, an unreachable queue or store), so the
same request can be sent again. Every other failure is final. A
`Retry-After` header (seconds or an HTTP date) sets the wait, capped at
`MAX_WAIT_S`; without one the wait doubles from `BACKOFF_S`.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from backtest_client import errors

API_PREFIX = "/api/v1"
BACKOFF_S = 0.25
MAX_WAIT_S = 30.0
DEFAULT_TIMEOUT_S = 30.0


class Transport:
    """Requests against one gateway.

    base_url: the gateway, e.g. http://127.0.0.1:8080 (the /api/v1 prefix is added here).
    api_key: sent as `x-api-key` when set.
    timeout: seconds to connect, and to wait for each read (long calls pass their own).
    retries: how many times a 503 answer is retried before UnavailableError.
    transport: an httpx transport to use instead of the network (tests, proxies).
    sleep: how to wait between retries.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"user-agent": "backtest-client/0.1"}
        if api_key:
            headers["x-api-key"] = api_key
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None | object = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Sends one request (retrying 503s) and returns the successful answer, or raises BacktestError.

        path: under /api/v1, e.g. "/backtests".
        json: a JSON body. content, content_type: a raw body instead.
        params: query parameters; None values are left out.
        timeout: seconds for this call; None waits as long as it takes.
        """
        headers = {"content-type": content_type} if content_type else None
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(
                    method, path, json=json, params=query, content=content, headers=headers, timeout=timeout
                )
            except httpx.TransportError as err:
                raise errors.ApiConnectionError(
                    f"{method} {API_PREFIX}{path}: cannot reach the API at {self.base_url}: {err or type(err).__name__}"
                ) from err
            if response.status_code != 503 or attempt == self.retries:
                break
            self._sleep(retry_after(response, attempt))
        if response.status_code >= 400:
            raise errors.from_response(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The parsed JSON answer of `request`."""
        return self.request(method, path, **kwargs).json()

    def stream_array(self, path: str) -> Iterator[Any]:
        """The elements of a streamed JSON array (GET), each as soon as its bytes arrive; no read deadline.

        Errors before the stream starts raise as `request` does; a 503 is not retried (the caller may
        watch again).
        """
        try:
            with self._http.stream("GET", path, timeout=httpx.Timeout(self._http.timeout.connect, read=None)) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    raise errors.from_response(answer)
                yield from json_array_elements(answer.iter_text())
        except httpx.TransportError as err:
            raise errors.ApiConnectionError(
                f"GET {API_PREFIX}{path}: cannot reach the API at {self.base_url}: {err or type(err).__name__}"
            ) from err

    def close(self) -> None:
        """Closes the pooled connections."""
        self._http.close()


def json_array_elements(pieces: Iterable[str]) -> Iterator[Any]:
    """Parses a JSON array arriving in pieces; yields each element once it is complete.

    pieces: the array's text in any cut (as a streamed body arrives).
    """
    decoder = json.JSONDecoder()
    buffer, position, opened = "", 0, False
    for piece in pieces:
        buffer += piece
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if not opened and buffer.startswith("[", position):
                opened, position = True, position + 1
                continue
            if position >= len(buffer) or buffer[position] == "]":
                break
            try:
                element, position = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                break  # the rest of this element is still on its way
            yield element
        buffer, position = buffer[position:], 0


def retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying a 503: its Retry-After, else BACKOFF_S doubled per attempt; at most MAX_WAIT_S.

    response: the 503 answer.
    attempt: how many retries came before (0 for the first).
    """
    header = response.headers.get("retry-after")
    wait = None
    if header:
        header = header.strip()
        if header.isdigit():
            wait = float(header)
        else:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                when = when if when.tzinfo else when.replace(tzinfo=UTC)
                wait = (when - datetime.now(UTC)).total_seconds()
    if wait is None:
        wait = BACKOFF_S * 2**attempt
    return max(0.0, min(wait, MAX_WAIT_S))
