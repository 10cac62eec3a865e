"""The one place where platform errors meet gRPC status, in both directions.

Server side, `status_of` turns a `PlatformError` into a `google.rpc.Status`
with details (BadRequest field violations, ResourceInfo), which the error
interceptor (`services.kit.error_interceptor`) ends the call with through
grpcio-status. Client side, `from_rpc_error` turns a failed call back into
the error it came from. The gRPC code of each kind follows Envoy's
gRPC -> HTTP table (docs/api.md): NOT_FOUND 404, ABORTED 409, UNAVAILABLE 503,
DEADLINE_EXCEEDED 504; a validation error is INVALID_ARGUMENT with the
`x-http-code: 422` initial metadata that both gateways apply.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.domain.errors import (
    ConflictError,
    DeadlineError,
    FieldViolation,
    NotFoundError,
    PlatformError,
    UnavailableError,
    ValidationError,
)

HTTP_CODE_KEY = "x-http-code"

# gRPC code for each error kind, most specific first.
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


def code_of(err: PlatformError) -> grpc.StatusCode:
    """The gRPC code an error travels as; INTERNAL for a kind without one of its own."""
    return next((code for kind, code in _CODES if isinstance(err, kind)), grpc.StatusCode.INTERNAL)


def status_of(err: PlatformError) -> status_pb2.Status:
    """The google.rpc.Status of an error: code, message and the details a client can act on."""
    status = status_pb2.Status(code=code_of(err).value[0], message=err.message)
    detail = any_pb2.Any()
    if isinstance(err, ValidationError):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in err.violations
        ]
        detail.Pack(error_details_pb2.BadRequest(field_violations=violations))
        status.details.append(detail)
    elif isinstance(err, NotFoundError):
        detail.Pack(error_details_pb2.ResourceInfo(resource_type=err.kind, resource_name=",".join(err.ids)))
        status.details.append(detail)
    return status


def grpc_status_of(err: PlatformError) -> grpc.Status:
    """The error as grpcio-status hands it to `context.abort_with_status`."""
    return rpc_status.to_status(status_of(err))


def from_rpc_error(err: grpc.RpcError) -> PlatformError:
    """Turns a failed call's status back into the platform error it came from.

    err: a failed call (sync `grpc.RpcError` or `grpc.aio.AioRpcError`; both read synchronously).
    """
    code, message = err.code(), err.details() or ""
    try:
        status = rpc_status.from_call(err)
    except ValueError:  # details that disagree with the code: trust the code
        status = None
    details = list(status.details) if status is not None else []
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        violations = []
        for detail in details:
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        return ValidationError(violations or [FieldViolation("", message)])
    if code == grpc.StatusCode.NOT_FOUND:
        for detail in details:
            info = error_details_pb2.ResourceInfo()
            if detail.Unpack(info):
                return NotFoundError(info.resource_type, info.resource_name.split(","))
        return NotFoundError("record", message)
    simple = {
        grpc.StatusCode.ABORTED: ConflictError,
        grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineError,
        grpc.StatusCode.UNAVAILABLE: UnavailableError,
    }
    if code in simple:
        return simple[code](message)
    return PlatformError(f"{code.name}: {message}")
