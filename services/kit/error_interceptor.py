"""Ends every failed call of a service the same way: one server interceptor, no per-method code.

- Request bytes protobuf refuses (a string field that is not UTF-8, from a
  client writing its own bytes) are a validation error naming the field
  (services.kit.undecodable), not gRPC's UNKNOWN naming DecodeError.
- A public RPC's request (one the gateway exposes) is guarded first
  (services.kit.request_guard): NUL characters, oversized text and
  non-finite numbers anywhere in it are a validation error naming each field,
  and the servicer never sees it.
- A `PlatformError` becomes its google.rpc.Status (`services.kit.status`);
  a validation error also sends `x-http-code: 422` first, when initial
  metadata is still unsent (the gateways turn it into the HTTP status).
- An exception showing a dependency is unreachable (`services.kit.outages`)
  becomes UNAVAILABLE naming only the dependency and an error id.
- Anything else is a bug: INTERNAL with an error id, the traceback logged.

The message a client sees never carries exception classes, SQL, hosts or
ports; the id it names finds the full story in the logs.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf.message import DecodeError

from services.domain.errors import PlatformError, UnavailableError, ValidationError
from services.kit.outages import unreachable_dependency
from services.kit.request_guard import is_public, request_violations
from services.kit.status import HTTP_CODE_KEY, grpc_status_of
from services.kit.undecodable import request_type, undecodable_violations

log = logging.getLogger(__name__)

# Raised by gRPC itself or meant for it: a servicer's own abort, cancellation,
# and the generated base class's UNIMPLEMENTED, which set their own status.
_PASS_THROUGH = (grpc.aio.AbortError, NotImplementedError)


def platform_error_of(exc: Exception, method: str) -> PlatformError:
    """The error a client is told about `exc`, raised while serving `method`; logs what it hides."""
    if isinstance(exc, PlatformError):
        return exc
    error_id = uuid.uuid4().hex[:12]
    dependency = unreachable_dependency(exc)
    if dependency is not None:
        log.warning("dependency unavailable", extra={"error_id": error_id, "method": method}, exc_info=exc)
        return UnavailableError(f"the {dependency} is unavailable; retry later (error id {error_id})")
    log.error("unexpected error", extra={"error_id": error_id, "method": method}, exc_info=exc)
    return PlatformError(f"internal error (error id {error_id})")


async def abort(context: grpc.aio.ServicerContext, err: PlatformError) -> None:
    """Ends the call with the error's status; never returns."""
    if isinstance(err, ValidationError):
        try:
            await context.send_initial_metadata(((HTTP_CODE_KEY, "422"),))
        except Exception:  # initial metadata already went out: the status still says 400
            log.warning("could not send x-http-code 422: initial metadata already sent")
    await context.abort_with_status(grpc_status_of(err))


class _Undecodable:
    """What the deserializer hands the behaviour in place of a request protobuf refused."""

    def __init__(self, violations: list) -> None:
        self.violations = violations


def _deserializer(deserialize: Callable | None, method: str) -> Callable | None:
    """`deserialize`, returning an _Undecodable instead of raising: raised, gRPC would answer UNKNOWN."""
    if deserialize is None:
        return None

    def read(data: bytes):
        try:
            return deserialize(data)
        except DecodeError:
            return _Undecodable(undecodable_violations(data, request_type(method)))

    return read


def _guard(request, guarded: bool) -> None:
    if isinstance(request, _Undecodable):
        raise ValidationError(request.violations)
    if guarded:
        violations = request_violations(request)
        if violations:
            raise ValidationError(violations)


def _unary(behaviour: Callable[..., Awaitable], method: str, guarded: bool) -> Callable[..., Awaitable]:
    async def guarded_call(request, context):
        try:
            _guard(request, guarded)
            return await behaviour(request, context)
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            await abort(context, platform_error_of(exc, method))

    return guarded_call


def _stream(behaviour: Callable, method: str, guarded: bool) -> Callable:
    async def guarded_call(request, context):
        try:
            _guard(request, guarded)
            async for item in behaviour(request, context):
                yield item
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            await abort(context, platform_error_of(exc, method))

    return guarded_call


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Wraps unary and server-streaming handlers; client-streaming ones pass as they are."""

    def __init__(self) -> None:
        self._public: dict[str, bool] = {}

    async def intercept_service(self, continuation, handler_call_details):
        """The method's handler, its behaviour wrapped so that failures end the call as above."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if method not in self._public:
            self._public[method] = is_public(method)
        guarded = self._public[method]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, method, guarded),
                request_deserializer=_deserializer(handler.request_deserializer, method),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            return grpc.unary_stream_rpc_method_handler(
                _stream(handler.unary_stream, method, guarded),
                request_deserializer=_deserializer(handler.request_deserializer, method),
                response_serializer=handler.response_serializer,
            )
        return handler
