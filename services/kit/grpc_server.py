"""Builds and runs an asyncio gRPC server the same way for every service.

Every server ends failed calls through the error interceptor (which also
guards every public RPC's request: services.kit.request_guard), serves the
standard health service (SERVING once started, NOT_SERVING while draining)
and reflection, and shuts down gracefully on SIGTERM or SIGINT: new calls
are refused and running ones get `grace` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.kit.error_interceptor import ErrorInterceptor

log = logging.getLogger(__name__)

# Registers a servicer on a server: the generated add_XServicer_to_server.
Registration = tuple[Callable[[object, grpc.aio.Server], None], object, str]

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # market-data imports arrive as one message


class GrpcService:
    """A gRPC server with health and reflection.

    registrations: (add_to_server, servicer, full service name) triples.
    listen: "host:port" to bind; port 0 picks a free one (see `port`).
    grace: seconds running calls get at shutdown.
    """

    def __init__(self, registrations: Iterable[Registration], listen: str, *, grace: float = 10.0) -> None:
        self.registrations = list(registrations)
        self.listen = listen
        self.grace = grace
        self.health = health.aio.HealthServicer()
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        # Every failed call ends through one interceptor: see services.kit.error_interceptor.
        self.server = grpc.aio.server(options=options, interceptors=[ErrorInterceptor()])
        self.port = 0

    async def start(self) -> None:
        """Binds, starts serving and marks every service SERVING."""
        names = [name for _, _, name in self.registrations]
        for add, servicer, _ in self.registrations:
            add(servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self.port = self.server.add_insecure_port(self.listen)
        if self.port == 0:
            raise OSError(f"cannot bind gRPC server to {self.listen}")
        await self.server.start()
        for name in ["", *names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"listen": self.listen, "port": self.port, "services": names})

    async def set_serving(self, serving: bool) -> None:
        """Marks every service SERVING or NOT_SERVING (a dependency of the process is away)."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *(name for _, _, name in self.registrations)]:
            await self.health.set(name, status)

    async def stop(self) -> None:
        """Drains: NOT_SERVING first so load balancers stop sending, then waits for calls."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.grace)
        log.info("stopped")


async def run_until_signalled(
    service: GrpcService,
    *,
    before_start: Callable[[], Awaitable[None]] | None = None,
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Starts `service`, waits for SIGTERM/SIGINT, then shuts everything down.

    before_start: awaited before the server starts (connections the RPCs need).
    on_start: awaited after the server started (background loops, subscriptions).
    on_stop: awaited after the server drained (close pools and connections).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if before_start is not None:
        await before_start()
    await service.start()
    if on_start is not None:
        await on_start()
    await stop.wait()
    log.info("shutting down")
    await service.stop()
    if on_stop is not None:
        await on_stop()
