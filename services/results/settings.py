"""Configuration of the results service, read once at startup from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.connection_settings import S3Settings
from services.kit.settings import parse_listen, parse_log_level, setting


@dataclass(frozen=True, kw_only=True)
class ResultsSettings(S3Settings):
    """Everything the results service reads: the store (S3_*, from S3Settings) plus these.

    grpc_listen: "host:port" the gRPC server binds; port 0 picks a free one.
    catalog_addr: "host:port" of the catalog's gRPC server, where backtest records come from.
    log_level: minimum level of the JSON logs.
    """

    grpc_listen: str = setting("GRPC_LISTEN", default="127.0.0.1:50052", parse=parse_listen)
    catalog_addr: str = setting("CATALOG_ADDR", parse=parse_listen)
    log_level: str = setting("LOG_LEVEL", default="INFO", parse=parse_log_level)
