"""The one place where platform errors meet gRPC status codes.

Server side, `translate_errors` wraps servicer methods (unary and
server-streaming) and turns a `PlatformError` into a gRPC status carrying a
`google.rpc.Status` with details; validation errors also send the
`x-http-code: 422` initial metadata that the gateway turns into the HTTP
status. Client side, `from_rpc_error` turns a status back into the error.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from services.domain.errors import (
    ConflictError,
    DeadlineError,
    FieldViolation,
    NotFoundError,
    PlatformError,
    UnavailableError,
    ValidationError,
)

log = logging.getLogger(__name__)

HTTP_CODE_KEY = "x-http-code"
_DETAILS_KEY = "grpc-status-details-bin"

# gRPC code for each error kind. Envoy maps ABORTED to 409, NOT_FOUND to 404.
_CODES: list[tuple[type[PlatformError], grpc.StatusCode]] = [
    (ValidationError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (ConflictError, grpc.StatusCode.ABORTED),
    (UnavailableError, grpc.StatusCode.UNAVAILABLE),
    (DeadlineError, grpc.StatusCode.DEADLINE_EXCEEDED),
]


async def set_http_code(context: grpc.aio.ServicerContext, code: int) -> None:
    """Asks the gateway to answer with `code` (201, 204 or 422): gRPC cannot say these."""
    await context.send_initial_metadata(((HTTP_CODE_KEY, str(code)),))


def to_status(err: PlatformError) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """Maps an error to its gRPC code and a google.rpc.Status with details."""
    code = next((c for kind, c in _CODES if isinstance(err, kind)), grpc.StatusCode.INTERNAL)
    status = status_pb2.Status(code=code.value[0], message=err.message)
    detail = any_pb2.Any()
    if isinstance(err, ValidationError):
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in err.violations
                ]
            )
        )
        status.details.append(detail)
    elif isinstance(err, NotFoundError):
        detail.Pack(error_details_pb2.ResourceInfo(resource_type=err.kind, resource_name=",".join(err.ids)))
        status.details.append(detail)
    return code, status


async def abort(context: grpc.aio.ServicerContext, err: PlatformError) -> None:
    """Ends the call with the error's status; never returns."""
    code, status = to_status(err)
    if isinstance(err, ValidationError):
        try:
            await set_http_code(context, 422)
        except Exception:  # initial metadata already sent: the status still says 400
            log.warning("could not send x-http-code 422: initial metadata already sent")
    await context.abort(code, err.message, trailing_metadata=((_DETAILS_KEY, status.SerializeToString()),))


def translate_errors(method: Callable) -> Callable:
    """Wraps a servicer method so PlatformError becomes a gRPC status (unary or streaming)."""
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream_wrapper(self, request, context):
            try:
                async for item in method(self, request, context):
                    yield item
            except PlatformError as err:
                await abort(context, err)

        return stream_wrapper

    @functools.wraps(method)
    async def unary_wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except PlatformError as err:
            await abort(context, err)

    return unary_wrapper


def from_rpc_error(err: grpc.RpcError) -> PlatformError:
    """Turns a failed call's status back into the platform error it came from."""
    code = err.code()
    message = err.details() or ""
    status = None
    for key, value in err.trailing_metadata() or ():
        if key == _DETAILS_KEY:
            status = status_pb2.Status.FromString(value)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        violations = []
        for detail in status.details if status else ():
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        return ValidationError(violations or [FieldViolation("", message)])
    if code == grpc.StatusCode.NOT_FOUND:
        for detail in status.details if status else ():
            info = error_details_pb2.ResourceInfo()
            if detail.Unpack(info):
                return NotFoundError(info.resource_type, info.resource_name.split(","))
        return NotFoundError("record", message)
    if code == grpc.StatusCode.ABORTED:
        return ConflictError(message)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineError(message)
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnavailableError(message)
    return PlatformError(f"{code.name}: {message}")
