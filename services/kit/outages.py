"""Which dependency an unexpected exception says is unreachable, if any.

A request that fails because PostgreSQL, NATS, the object store or another
service cannot be reached is an outage, not a bug: the client is told 503
and to retry, and nothing about hosts, ports, SQL or exception classes
leaves the process (docs/reliability.md, "Outages"). Everything else that
escapes a servicer is a bug and is reported as INTERNAL.
"""

from __future__ import annotations

import asyncio

import grpc
import nats.errors
import urllib3.exceptions
from minio.error import S3Error
from sqlalchemy import exc as sa_exc

from services.domain.errors import UnavailableError

DATABASE, QUEUE, OBJECT_STORE, SERVICE = "database", "job queue", "object store", "internal service"
# S3 error codes that mean "the store is struggling", not "the request is wrong".
_S3_OUTAGE_CODES = {"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout", "ServerBusy"}
_GRPC_OUTAGE_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def unreachable_dependency(exc: BaseException) -> str | None:
    """The name of the dependency `exc` shows to be unreachable, or None when it is not an outage.

    exc: an exception that escaped request handling; its causes are examined too.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify(exc: BaseException) -> str | None:
    # SQLAlchemy wraps driver errors: an OperationalError or InterfaceError is
    # the connection, not the statement (those are ProgrammingError,
    # IntegrityError, DataError); a pool timeout means no connection came back.
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return DATABASE
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return DATABASE
    if isinstance(exc, nats.errors.Error):
        return QUEUE
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return OBJECT_STORE
    if isinstance(exc, S3Error) and exc.code in _S3_OUTAGE_CODES:
        return OBJECT_STORE
    if isinstance(exc, grpc.RpcError) and exc.code() in _GRPC_OUTAGE_CODES:
        return SERVICE
    if isinstance(exc, (ConnectionError, asyncio.TimeoutError, UnavailableError)):
        return SERVICE
    return None
