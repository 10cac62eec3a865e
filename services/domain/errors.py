"""The platform's one error hierarchy.

Domain code raises these; `services.kit.status` is the only place that turns
them into gRPC status (and HTTP codes through the gateway) and back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One bad input: `field` is a dotted path such as `config.start_date`."""

    field: str
    description: str


class PlatformError(Exception):
    """Base of every error the platform reports to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(PlatformError):
    """Input that fails validation: HTTP 422 with BadRequest field violations."""

    def __init__(self, violations: list[FieldViolation] | FieldViolation) -> None:
        if isinstance(violations, FieldViolation):
            violations = [violations]
        self.violations = list(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))

    @classmethod
    def single(cls, field: str, description: str) -> ValidationError:
        """The error of one bad field."""
        return cls([FieldViolation(field, description)])


class NotFoundError(PlatformError):
    """A referenced record does not exist: HTTP 404."""

    def __init__(self, kind: str, ident: str | list[str]) -> None:
        self.kind = kind
        self.ids = [ident] if isinstance(ident, str) else list(ident)
        super().__init__(f"{kind} not found: {', '.join(self.ids)}")


class ConflictError(PlatformError):
    """The record's state forbids the operation (running, referenced, not completed): HTTP 409."""


class UnavailableError(PlatformError):
    """A dependency (queue, object store, executor fleet) cannot serve now: HTTP 503."""


class DeadlineError(PlatformError):
    """A synchronous call outlived its deadline; the work goes on: HTTP 504."""
