"""The contract between the HTTP server and the Forwarder: one exchange, its limits, its outcome."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Protocol

from gateway.transcoder.metadata import Headers


class Exchange(Protocol):
    """One HTTP request and its response, as the HTTP server offers them."""

    method: str
    target: str  # the raw request target: path and query, still percent-encoded
    client: str  # the client's IP address
    started: bool  # whether the response head has gone out

    def header(self, name: str) -> str | None:
        """A request header's value (case-insensitive), or None."""

    def header_items(self) -> list[tuple[str, str]]:
        """Every request header."""

    def read_body(self, limit: int) -> bytes:
        """The whole request body; LocalReply 413 above `limit` bytes."""

    def body_pieces(self, piece_bytes: int) -> Iterator[bytes]:
        """The request body in pieces of about `piece_bytes` as it arrives (at least one, maybe empty).

        A body that ends early or stalls raises LocalReply (400, 408) mid-iteration.
        """

    def respond(self, status: int, headers: Headers, body: bytes | None) -> None:
        """Sends a complete response; body None means no body and no content-length."""

    def start_stream(self, status: int, headers: Headers) -> None:
        """Sends the head of a response whose body follows in pieces (chunked)."""

    def write(self, data: bytes) -> None:
        """Sends one piece of a streamed body."""

    def end_stream(self) -> None:
        """Ends a streamed body."""

    def abort(self) -> None:
        """Drops the connection: the client sees a truncated response."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on one request.

    request_body_bytes: largest JSON request body.
    upload_bytes: largest raw google.api.HttpBody request body.
    response_body_bytes: largest unary response (or streamed message) transcoded to JSON.
    upstream_timeout_s: deadline of every upstream call but HttpBody downloads, which have none.
    """

    request_body_bytes: int
    upload_bytes: int
    response_body_bytes: int
    upstream_timeout_s: float


@dataclasses.dataclass
class Outcome:
    """What the access log says about a request.

    status: the HTTP status sent (0 if none could be).
    rpc: the gRPC path called, "" when the gateway answered alone.
    grpc_status: the call's gRPC status code, when it ended before the response did.
    request_id: the x-request-id the call carried.
    """

    status: int
    rpc: str = ""
    grpc_status: int | None = None
    request_id: str | None = None
