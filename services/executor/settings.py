"""Executor settings, read from the environment once at startup."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from services.domain.engines import engine_names
from services.kit.connection_settings import BusSettings, S3Settings
from services.kit.settings import parse_listen, parse_log_level, parse_non_negative, parse_positive, setting


def _engines(raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = [name for name in names if name not in engine_names()]
    if unknown or not names:
        raise ValueError(f"engines must be a comma-separated subset of {', '.join(engine_names())}")
    return names


def _jobs(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 256:
        raise ValueError("must be an integer from 1 to 256")
    return value


@dataclass(frozen=True, kw_only=True)
class ExecutorSettings(S3Settings, BusSettings):
    """Configuration of one executor process.

    catalog_addr: host:port of the catalog's gRPC server (RunReportService).
    executor_id: unique per process: the registry key and the name in logs.
    engines: engines this executor offers; unset: every installed engine (services.domain.engines).
    heartbeat_s: seconds between in-progress signals during a job.
    health_listen: host:port of a gRPC health endpoint for probes; empty disables it.
    bar_prefetch_mb: MiB of stored bar series (Parquet size; decoded frames take 2-3x that
        in memory) loaded into the bar cache at startup, smallest series first, never more
        series than the cache holds (8); 0 disables.
    outage_window_s: how long a job waits for an unreachable catalog or object store (retrying, its
        results kept) before its runs fail naming the dependency.
    coalesce_jobs: most queued jobs fetched at once; single-run jobs among them that share bars
        and engine are computed, stored and reported together (services.executor.coalescing); 1 turns it off.
    gather_ms: how long a busy executor's fetch waits for more jobs to arrive behind the first
        (services.executor.job_fetch); 0 takes only the jobs queued at that instant.
    log_level: minimum level of the JSON logs.
    """

    catalog_addr: str = setting("CATALOG_ADDR", parse=parse_listen)
    executor_id: str = setting("EXECUTOR_ID", default=f"{socket.gethostname()}-{os.getpid()}")
    engines: tuple[str, ...] = setting("EXECUTOR_ENGINES", default=(), parse=_engines)
    heartbeat_s: float = setting("EXECUTOR_HEARTBEAT_S", default=5.0, parse=parse_positive)
    health_listen: str = setting("HEALTH_LISTEN", default="")
    bar_prefetch_mb: float = setting("BAR_PREFETCH_MB", default=64.0, parse=parse_non_negative)
    outage_window_s: float = setting("EXECUTOR_OUTAGE_WINDOW_S", default=600.0, parse=parse_positive)
    coalesce_jobs: int = setting("EXECUTOR_COALESCE_JOBS", default=16, parse=_jobs)
    gather_ms: float = setting("EXECUTOR_GATHER_MS", default=20.0, parse=parse_non_negative)
    log_level: str = setting("LOG_LEVEL", default="INFO", parse=parse_log_level)

    def __post_init__(self) -> None:
        if not self.engines:
            object.__setattr__(self, "engines", engine_names())

    @property
    def bar_prefetch_bytes(self) -> int:
        """BAR_PREFETCH_MB in bytes."""
        return int(self.bar_prefetch_mb * 1024 * 1024)
