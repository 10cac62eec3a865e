"""The one place the embedded launcher reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from deploy.embedded.restart import RestartPolicy

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
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    """When a crashed process is restarted, and how many restarts within how long make a crash loop
    (LAUNCHER_RESTART_LIMIT, default 5; LAUNCHER_RESTART_WINDOW_S, default 60)."""
    inherited_env: dict[str, str] = field(default_factory=dict)
    """The rest of the environment (PATH, HOME, locale), passed on to children."""


def load() -> Settings:
    """Read the settings; a malformed number fails here, at startup, naming its variable."""
    env = dict(os.environ)
    gateway_port = _number(env, "GATEWAY_PORT", "8080", int, "a port number")
    limit = _number(env, "LAUNCHER_RESTART_LIMIT", "5", int, "a count of restarts (0 or more)")
    window = _number(env, "LAUNCHER_RESTART_WINDOW_S", "60", float, "seconds (more than 0)")
    try:
        policy = RestartPolicy(limit=limit, window=window)
    except ValueError:
        raise ValueError(
            f"LAUNCHER_RESTART_LIMIT must be 0 or more and LAUNCHER_RESTART_WINDOW_S more than 0, got {limit}, {window}"
        ) from None
    return Settings(
        gateway_port=gateway_port,
        restart_policy=policy,
        log_level=env.get("LOG_LEVEL", "INFO"),
        test_database_url=env.get("TEST_DATABASE_URL") or None,
        nats_url=env.get("NATS_URL") or None,
        inherited_env={k: v for k, v in env.items() if k not in CONTRACT_KEYS},
    )


def _number(env: dict[str, str], name: str, default: str, kind: type, what: str) -> int | float:
    """Variable `name` parsed as int or float, or a ValueError naming it.

    env: the environment.
    name: the variable.
    default: its value when unset.
    kind: int or float.
    what: what the value must be, for the message.
    """
    raw = env.get(name, default)
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {raw!r}") from None
