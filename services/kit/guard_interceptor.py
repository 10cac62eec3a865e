"""One server interceptor that runs request_guard before every RPC the gateway exposes.

Registered by grpc_server.GrpcService, so every servicer gets it without a
line of its own. A request with violations never reaches the servicer: it
ends INVALID_ARGUMENT with BadRequest field violations and `x-http-code:
422`, exactly as a servicer's own validation error does (services.kit.status).

Guarded methods are the ones with a google.api.http rule (reachable through
the gateway, and from gRPC clients of the same services). Internal RPCs
(RunReportService) carry the executors' own reports, whose metrics may hold
non-finite numbers that the catalog stores as null on purpose.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import grpc
from google.api import annotations_pb2
from google.protobuf import descriptor_pool

from services.domain.errors import ValidationError
from services.kit.request_guard import request_violations
from services.kit.status import abort


def is_public(method_path: str) -> bool:
    """Whether `/pkg.Service/Method` has a google.api.http rule (in the generated code's descriptor pool)."""
    service, _, name = method_path.lstrip("/").partition("/")
    try:
        method = descriptor_pool.Default().FindMethodByName(f"{service}.{name}")
    except KeyError:
        return False  # health, reflection: not ours
    return method.GetOptions().HasExtension(annotations_pb2.http)


class RequestGuard(grpc.aio.ServerInterceptor):
    """Rejects requests with NUL characters, oversized text or non-finite numbers (see request_guard)."""

    def __init__(self) -> None:
        self._public: dict[str, bool] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if method not in self._public:
            self._public[method] = is_public(method)
        if handler is None or not self._public[method]:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _guard_unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _guard_stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client streams: none of ours


async def _check(request, context: grpc.aio.ServicerContext) -> None:
    violations = request_violations(request)
    if violations:
        await abort(context, ValidationError(violations))


def _guard_unary(behavior):
    async def guarded(request, context):
        await _check(request, context)
        return await behavior(request, context)

    return guarded


def _guard_stream(behavior):
    if inspect.isasyncgenfunction(behavior):

        async def guarded(request, context):
            await _check(request, context)
            async for item in behavior(request, context):
                yield item

        return guarded

    async def writing(request, context):  # a behavior that writes with context.write
        await _check(request, context)
        return await behavior(request, context)

    return writing
