"""Configuration of the catalog process, read once at startup.

Everything execution will need later (NATS, the object store, the sync
timeout) is declared now, so a misconfigured deployment fails at startup
naming every missing variable instead of on its first execute call.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.connection_settings import BusSettings, S3Settings
from services.kit.settings import parse_listen, parse_log_level, parse_non_negative, parse_positive, setting


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """What migrations need: only the database.

    database_url: SQLAlchemy URL, `postgresql+psycopg://user@host:port/db`.
    """

    database_url: str = setting("DATABASE_URL", secret=True)


@dataclass(frozen=True, kw_only=True)
class CatalogSettings(DatabaseSettings, S3Settings, BusSettings):
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
    orphan_run_after_s: how long a backtest may sit `running` with no queued job before it is failed.
    artifact_gc_interval_s: seconds between collections of artifact objects nothing references; 0 turns them off.
    artifact_gc_grace_s: how old an unreferenced artifact object must be before it is collected.
    """

    grpc_listen: str = setting("GRPC_LISTEN", default="127.0.0.1:50051", parse=parse_listen)
    log_level: str = setting("LOG_LEVEL", default="INFO", parse=parse_log_level)
    sync_execute_timeout_s: float = setting("SYNC_EXECUTE_TIMEOUT_S", default=300.0, parse=parse_positive)
    orphan_run_after_s: float = setting("ORPHAN_RUN_AFTER_S", default=120.0, parse=parse_positive)
    artifact_gc_interval_s: float = setting("ARTIFACT_GC_INTERVAL_S", default=3600.0, parse=parse_non_negative)
    artifact_gc_grace_s: float = setting("ARTIFACT_GC_GRACE_S", default=86400.0, parse=parse_non_negative)
