"""The catalog's health says whether it can serve: NOT_SERVING while its database or NATS is unreachable.

Probes (Kubernetes readiness, compose health checks) and the executors
(which pull no new job while the catalog cannot take their reports) read
the standard gRPC health service. A process that is up but cut off from
PostgreSQL would otherwise look healthy and answer every call with 503.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.adapters.bus import Bus
from services.kit.grpc_server import GrpcService

log = logging.getLogger(__name__)
CHECK_EVERY_S = 2.0
CHECK_TIMEOUT_S = 2.0


class Readiness:
    """Checks the catalog's dependencies every CHECK_EVERY_S and sets its health to match.

    engine: the database engine. bus: the connected bus (its NATS client). service: the gRPC server.
    """

    def __init__(self, engine: AsyncEngine, bus: Bus, service: GrpcService) -> None:
        self.engine = engine
        self.bus = bus
        self.service = service
        self._serving = True

    async def check(self) -> bool:
        """Whether the database answers and NATS is connected; the health service is set to match."""
        ready = self.bus.nc.is_connected and await self._database_answers()
        if ready != self._serving:
            log.warning("readiness changed", extra={"serving": ready})
            await self.service.set_serving(ready)
            self._serving = ready
        return ready

    async def run(self, stop: asyncio.Event) -> None:
        """Checks until `stop` is set."""
        while not stop.is_set():
            await self.check()
            try:
                await asyncio.wait_for(stop.wait(), timeout=CHECK_EVERY_S)
            except TimeoutError:
                pass

    async def _database_answers(self) -> bool:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception:  # any failure to answer is "not ready": the reason is in the requests' logs
            return False
        return True
