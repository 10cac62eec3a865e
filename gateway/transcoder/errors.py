"""The gateway's errors: misconfiguration at startup, and replies it makes itself."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the transcoder raises."""


class ConfigError(GatewayError):
    """The descriptor set or the service list cannot be served; raised at startup."""


class LocalReply(GatewayError):
    """A request the gateway answers itself, as Envoy's sendLocalReply does.

    status: HTTP status to answer with (400, 404, 413, 500, 502).
    message: human-readable reason, sent as the error body's `message`.
    close: whether the connection must close afterwards (e.g. an unread body).
    """

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


class JsonPrintError(GatewayError):
    """A response message cannot be printed as JSON (unknown Any type, bad timestamp)."""
