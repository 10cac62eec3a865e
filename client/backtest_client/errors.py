"""The client's one error hierarchy: a base error and one subclass per way a call fails.

`from_response` is the only place an HTTP error becomes an exception. The
platform answers errors as google.rpc.Status JSON
(`{"code", "message", "details": [...]}`); a validation error (422) carries a
`google.rpc.BadRequest` detail whose field violations name each bad field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True)
class FieldViolation:
    """One bad input: `field` is a dotted path such as `config.start_date`."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field}: {self.description}" if self.field else self.description


class BacktestError(Exception):
    """Base of every error the client raises.

    message: what went wrong, naming the request.
    status: the HTTP status, None when no response came.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ValidationError(BacktestError):
    """The platform refused the input (422, or 400 for a malformed request); `violations` names each bad field."""

    def __init__(self, message: str, violations: list[FieldViolation], *, status: int | None = 422) -> None:
        super().__init__(message, status=status)
        self.violations = violations


class AuthenticationError(BacktestError):
    """No API key, or a wrong one (401)."""


class NotFoundError(BacktestError):
    """A record the request names does not exist (404)."""


class ConflictError(BacktestError):
    """The record's state forbids the request (409): a run already running, results of a run not completed."""


class UnavailableError(BacktestError):
    """The platform cannot serve now (503), still so after the client's retries."""


class GatewayTimeoutError(BacktestError):
    """A synchronous call outlived the deployment's deadline (504); the run goes on."""


class ServerError(BacktestError):
    """Any other failure answer (5xx, or a status the client does not expect)."""


class ApiConnectionError(BacktestError):
    """The API could not be reached at all (refused, DNS, TLS, or no answer in time)."""


class RunFailedError(BacktestError):
    """A run ended `failed`; `reason` is the platform's explanation.

    backtest_id: the failed run. task_id: its task, when it ran asynchronously.
    """

    def __init__(self, backtest_id: str, reason: str, *, task_id: str | None = None) -> None:
        super().__init__(f"backtest {backtest_id} failed: {reason}")
        self.backtest_id = backtest_id
        self.reason = reason
        self.task_id = task_id


_BY_STATUS: dict[int, type[BacktestError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    503: UnavailableError,
    504: GatewayTimeoutError,
}


def from_response(response: httpx.Response) -> BacktestError:
    """The error an HTTP error answer stands for, its message naming the request and what was wrong.

    response: an answer with status >= 400 (its body is read here).
    """
    status = response.status_code
    body = _status_body(response)
    text = str(body.get("message") or "").strip() or response.reason_phrase or "no detail"
    where = f"{response.request.method} {response.request.url.path}"
    if status in (400, 422):
        violations = bad_request_violations(body) or [FieldViolation("", text)]
        listed = "; ".join(str(v) for v in violations)
        return ValidationError(f"{where}: invalid request: {listed}", violations, status=status)
    kind = _BY_STATUS.get(status, ServerError)
    return kind(f"{where}: HTTP {status}: {text}", status=status)


def bad_request_violations(body: dict[str, Any]) -> list[FieldViolation]:
    """The field violations of every google.rpc.BadRequest detail of a google.rpc.Status body."""
    found = []
    for detail in body.get("details") or ():
        if isinstance(detail, dict) and detail.get("@type") == BAD_REQUEST_TYPE:
            for violation in detail.get("field_violations") or detail.get("fieldViolations") or ():
                found.append(FieldViolation(str(violation.get("field", "")), str(violation.get("description", ""))))
    return found


def _status_body(response: httpx.Response) -> dict[str, Any]:
    """The google.rpc.Status JSON of an error answer; {"message": <text>} when the body is something else."""
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:500]}
    return body if isinstance(body, dict) else {"message": str(body)[:500]}
