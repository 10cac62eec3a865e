"""The environment of the platform's two shared dependencies: the object store and the job bus.

Each service's settings inherit the bases it needs; the adapters build
their clients from them (`S3Location.of`, `Topology.of`) without knowing
where the values came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.kit.settings import parse_bool, setting

# S3 bucket naming rules (lowercase, digits, dots, hyphens; 3..63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _bucket(raw: str) -> str:
    """Accepts a valid S3 bucket name."""
    if not _BUCKET.match(raw):
        raise ValueError("not a valid S3 bucket name")
    return raw


@dataclass(frozen=True, kw_only=True)
class S3Settings:
    """Environment of every process that reads or writes the store (a base of service settings)."""

    s3_endpoint: str = setting("S3_ENDPOINT")
    s3_access_key: str = setting("S3_ACCESS_KEY", secret=True)
    s3_secret_key: str = setting("S3_SECRET_KEY", secret=True)
    s3_bucket: str = setting("S3_BUCKET", parse=_bucket)
    s3_secure: bool = setting("S3_SECURE", default=False, parse=parse_bool)


@dataclass(frozen=True, kw_only=True)
class BusSettings:
    """Environment of every process on the bus (a base of each service's settings).

    nats_url: NATS server(s) with JetStream.
    bus_namespace: prefix isolating one deployment or test run on a shared server.
    job_ack_wait_s: seconds a job may go without ack or heartbeat before redelivery.
    job_max_deliver: deliveries of one job that may end without an outcome before its runs fail.
    """

    nats_url: str = setting("NATS_URL")
    bus_namespace: str = setting("BUS_NAMESPACE", default="")
    job_ack_wait_s: float = setting("JOB_ACK_WAIT_S", default=30.0, parse=float)
    job_max_deliver: int = setting("JOB_MAX_DELIVER", default=3, parse=int)
