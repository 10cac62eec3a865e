"""The one place the conformance suite reads the environment.

GATEWAY_URL           base URL of the gateway under test (http://host:port, no
                      path); unset: the embedded stack the session starts.
GATEWAY_API_KEY       sent as x-api-key on every request when set.
SYNC_DEADLINE_S       the deployment's SYNC_EXECUTE_TIMEOUT_S, which the 504
                      test must outlive; unset: the embedded e2e stack's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tests.fixtures.stack import E2E_ENV


@dataclass(frozen=True)
class Target:
    """What the suite knows of the deployment under test."""

    gateway_url: str | None
    """Base URL of an external gateway, or None for the embedded stack."""
    api_key: str | None
    """API key for the gateway's x-api-key check, if it has one."""
    sync_deadline_s: float
    """Seconds a synchronous execute may take before the gateway answers 504."""


def load() -> Target:
    """Read the target from the environment; a malformed SYNC_DEADLINE_S fails here."""
    raw_deadline = os.environ.get("SYNC_DEADLINE_S") or E2E_ENV["SYNC_EXECUTE_TIMEOUT_S"]
    try:
        deadline = float(raw_deadline)
    except ValueError:
        raise ValueError(f"SYNC_DEADLINE_S must be a number of seconds, got {raw_deadline!r}") from None
    return Target(
        gateway_url=(os.environ.get("GATEWAY_URL") or "").rstrip("/") or None,
        api_key=os.environ.get("GATEWAY_API_KEY") or None,
        sync_deadline_s=deadline,
    )
