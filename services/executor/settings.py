"""Executor settings, read from the environment once at startup."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from services.adapters.bus import ENGINES, Topology
from services.adapters.object_store import S3Location
from services.kit.settings import parse_bool, setting


def _engines(raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = [name for name in names if name not in ENGINES]
    if unknown or not names:
        raise ValueError(f"engines must be a comma-separated subset of {', '.join(ENGINES)}")
    return names


@dataclass(frozen=True, kw_only=True)
class ExecutorSettings:
    """Configuration of one executor process."""

    nats_url: str = setting("NATS_URL")
    catalog_addr: str = setting("CATALOG_ADDR")
    s3_endpoint: str = setting("S3_ENDPOINT")
    s3_access_key: str = setting("S3_ACCESS_KEY")
    s3_secret_key: str = setting("S3_SECRET_KEY")
    s3_bucket: str = setting("S3_BUCKET")
    s3_secure: bool = setting("S3_SECURE", default=False, parse=parse_bool)
    # Unique per process: registry key and the name in logs.
    executor_id: str = setting("EXECUTOR_ID", default=f"{socket.gethostname()}-{os.getpid()}")
    engines: tuple[str, ...] = setting("EXECUTOR_ENGINES", default=ENGINES, parse=_engines)
    heartbeat_s: float = setting("EXECUTOR_HEARTBEAT_S", default=5.0, parse=float)
    bus_namespace: str = setting("BUS_NAMESPACE", default="")
    job_ack_wait_s: float = setting("JOB_ACK_WAIT_S", default=30.0, parse=float)
    job_max_deliver: int = setting("JOB_MAX_DELIVER", default=3, parse=int)
    # gRPC health endpoint for probes; empty disables it.
    health_listen: str = setting("HEALTH_LISTEN", default="")
    log_level: str = setting("LOG_LEVEL", default="INFO")

    def s3_location(self) -> S3Location:
        return S3Location(self.s3_endpoint, self.s3_access_key, self.s3_secret_key, self.s3_bucket, self.s3_secure)

    def topology(self) -> Topology:
        return Topology(namespace=self.bus_namespace, ack_wait=self.job_ack_wait_s, max_deliver=self.job_max_deliver)
