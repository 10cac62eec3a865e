"""Configuration of the catalog process, read once at startup.

Everything execution will need later (NATS, the object store, the sync
timeout) is declared now, so a misconfigured deployment fails at startup
naming every missing variable instead of on its first execute call.
"""

from __future__ import annotations

import logging
import re
from dataclasses import Field, dataclass

from services.kit.settings import parse_bool, setting

# S3 bucket naming rules (lowercase, digits, dots, hyphens; 3..63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _secret(field: Field) -> Field:
    """Keeps a credential out of the dataclass repr, so logging settings cannot leak it."""
    field.repr = False
    return field


def _bucket(raw: str) -> str:
    """Accepts a valid S3 bucket name."""
    if not _BUCKET.match(raw):
        raise ValueError("not a valid S3 bucket name")
    return raw


def _listen(raw: str) -> str:
    """Accepts "host:port"; port 0 picks a free port."""
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("expected host:port")
    return raw


def _log_level(raw: str) -> str:
    """Accepts a standard logging level name."""
    if raw.upper() not in logging.getLevelNamesMapping():
        raise ValueError("not a logging level")
    return raw.upper()


def _positive_seconds(raw: str) -> float:
    """Accepts a positive number of seconds."""
    value = float(raw)
    if not value > 0:
        raise ValueError("must be positive")
    return value


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """What migrations need: only the database.

    database_url: SQLAlchemy URL, `postgresql+psycopg://user@host:port/db`.
    """

    database_url: str = _secret(setting("DATABASE_URL"))


@dataclass(frozen=True, kw_only=True)
class CatalogSettings(DatabaseSettings):
    """Everything the catalog process reads from the environment.

    grpc_listen: host:port the gRPC server binds.
    log_level: minimum level of the JSON logs.
    s3_bucket: bucket of the artifact store; artifacts live under `s3://<bucket>/`.
    s3_endpoint: host:port of the S3 API (MinIO or the embedded gateway).
    s3_access_key: access key of the object store.
    s3_secret_key: secret key of the object store.
    s3_secure: whether the S3 endpoint speaks TLS.
    nats_url: NATS server(s) with JetStream, e.g. nats://127.0.0.1:4222.
    sync_execute_timeout_s: how long a synchronous execute waits for its run.
    """

    grpc_listen: str = setting("GRPC_LISTEN", default="127.0.0.1:50051", parse=_listen)
    log_level: str = setting("LOG_LEVEL", default="INFO", parse=_log_level)
    s3_bucket: str = setting("S3_BUCKET", parse=_bucket)
    s3_endpoint: str = setting("S3_ENDPOINT")
    s3_access_key: str = _secret(setting("S3_ACCESS_KEY"))
    s3_secret_key: str = _secret(setting("S3_SECRET_KEY"))
    s3_secure: bool = setting("S3_SECURE", default=False, parse=parse_bool)
    nats_url: str = setting("NATS_URL")
    sync_execute_timeout_s: float = setting("SYNC_EXECUTE_TIMEOUT_S", default=300.0, parse=_positive_seconds)

    @property
    def artifact_store_uri_prefix(self) -> str:
        """Every artifact URI the catalog accepts starts with this."""
        return f"s3://{self.s3_bucket}/"
