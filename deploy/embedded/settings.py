"""The one place the embedded launcher reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Variables the launcher sets for its children; inherited values are dropped
# so a stale one from the user's shell can never leak into a service.
CONTRACT_KEYS = (
    "DATABASE_URL",
    "NATS_URL",
    "S3_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_BUCKET",
    "S3_SECURE",
    "GRPC_LISTEN",
    "CATALOG_ADDR",
    "EXECUTOR_ID",
    "GATEWAY_HOST",
    "GATEWAY_PORT",
    "GATEWAY_DESCRIPTOR",
    "GATEWAY_UPSTREAMS",
    "LOG_LEVEL",
)


@dataclass(frozen=True)
class Settings:
    """What the launcher and the test fixtures take from the environment."""

    gateway_port: int = 8080
    """REST port of `make up` (GATEWAY_PORT)."""
    log_level: str = "INFO"
    """Log level handed to every service (LOG_LEVEL)."""
    test_database_url: str | None = None
    """A PostgreSQL server the tests use instead of an embedded one (TEST_DATABASE_URL)."""
    nats_url: str | None = None
    """A NATS server with JetStream the tests use instead of an embedded one (NATS_URL)."""
    inherited_env: dict[str, str] = field(default_factory=dict)
    """The rest of the environment (PATH, HOME, locale), passed on to children."""


def load() -> Settings:
    """Read the settings; a malformed GATEWAY_PORT fails here, at startup."""
    env = dict(os.environ)
    raw_port = env.get("GATEWAY_PORT", "8080")
    try:
        gateway_port = int(raw_port)
    except ValueError:
        raise ValueError(f"GATEWAY_PORT must be a port number, got {raw_port!r}") from None
    return Settings(
        gateway_port=gateway_port,
        log_level=env.get("LOG_LEVEL", "INFO"),
        test_database_url=env.get("TEST_DATABASE_URL") or None,
        nats_url=env.get("NATS_URL") or None,
        inherited_env={k: v for k, v in env.items() if k not in CONTRACT_KEYS},
    )
