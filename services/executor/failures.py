"""Sorts a failed attempt into "retry later" or "give up now".

Infrastructure trouble (catalog unreachable, object store hiccups, network)
may pass, so the job is redelivered with backoff. Anything else (an engine or
plugin error on this config and data) would fail the same way again.
"""

from __future__ import annotations

import grpc
import urllib3
from minio.error import S3Error
from nats.errors import Error as NatsError

_RETRYABLE_GRPC = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}
_RETRYABLE_S3 = {"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout"}
MAX_REASON = 500


def is_transient(exc: BaseException) -> bool:
    """Whether a later delivery of the same job could succeed."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in _RETRYABLE_GRPC
    if isinstance(exc, S3Error):
        return exc.code in _RETRYABLE_S3
    return isinstance(exc, (OSError, urllib3.exceptions.HTTPError, NatsError, TimeoutError))


def backoff_seconds(attempt: int) -> float:
    """Delay before redelivering after failed attempt number `attempt` (1-based)."""
    return float(min(2**attempt, 30))


def describe(exc: BaseException) -> str:
    """A short, human-readable reason stored on the failed backtest."""
    if isinstance(exc, grpc.aio.AioRpcError):
        text = f"{exc.code().name}: {exc.details()}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_REASON]
