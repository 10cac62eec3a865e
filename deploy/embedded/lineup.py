"""The services the stack starts after the servers, in order, and how each one runs.

This list is the one place to change what `make up` and the e2e tests run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class Role(enum.Enum):
    """How a service runs and when it counts as started."""

    TASK = "task"
    """Runs to completion; must exit with code 0."""
    GRPC = "grpc"
    """Serves gRPC on GRPC_LISTEN; ready when its health service says SERVING."""
    EXECUTOR = "executor"
    """Started once per executor with a distinct EXECUTOR_ID; no port."""
    GATEWAY = "gateway"
    """Serves REST on GATEWAY_HOST:GATEWAY_PORT; ready when the port accepts connections."""


@dataclass(frozen=True)
class Service:
    """One entry of the list."""

    name: str
    """Process name and log file name."""
    module: str
    """Run as `python -m <module>` from the repository root."""
    role: Role
    """How it runs."""
    upstream: str | None = None
    """The gRPC service the gateway routes to this process."""
    first_run_only: bool = False
    """Run once per data directory (a task that loads data)."""


SERVICES: tuple[Service, ...] = (
    Service("migrate", "services.catalog.migrate", Role.TASK),
    Service("catalog", "services.catalog", Role.GRPC, upstream="backtest.v1.CatalogService"),
    Service("results", "services.results", Role.GRPC, upstream="backtest.v1.ResultsService"),
    Service("executor", "services.executor", Role.EXECUTOR),
    Service("gateway", "gateway.transcoder", Role.GATEWAY),
    Service("sample-data", "services.catalog.sample_data", Role.TASK, first_run_only=True),
)


def module_file(module: str) -> Path | None:
    """The file `python -m module` would run from the repository, or None.

    module: a dotted module or package name.
    """
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base / "__main__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None
