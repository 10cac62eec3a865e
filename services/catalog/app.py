"""The catalog process assembled: engine, sessions, servicer and gRPC server.

`__main__` runs it until a signal; the integration tests start the very same
assembly in-process on port 0.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from services.adapters.bus import Topology
from services.adapters.object_store import LazyObjectStore, S3Location
from services.catalog import artifact_collection
from services.catalog.db.engine import autocommit_engine, create_engine, session_factory
from services.catalog.execution.service import ExecutionService
from services.catalog.market_data import MarketData
from services.catalog.readiness import Readiness
from services.catalog.run_report import RunReportServicer
from services.catalog.servicer import CatalogServicer
from services.catalog.settings import CatalogSettings
from services.kit.grpc_server import GrpcService


@dataclass
class CatalogApp:
    """The running parts of one catalog process."""

    engine: AsyncEngine
    autocommit: AsyncEngine
    execution: ExecutionService
    servicer: CatalogServicer
    service: GrpcService
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _background: list[asyncio.Task] = field(default_factory=list)

    async def start(self) -> None:
        """Connects the bus and starts serving; `service.port` is the bound port afterwards."""
        await self.execution.start()
        await self.service.start()
        await self.start_background()

    async def start_background(self) -> None:
        """Starts the catalog's background work once it serves.

        Readiness keeps the health service NOT_SERVING while the database or NATS is away
        (services.catalog.readiness); artifact collection runs every ARTIFACT_GC_INTERVAL_S.
        """
        readiness = Readiness(self.engine, self.execution.bus, self.service)
        self._background.append(asyncio.create_task(readiness.run(self._stop)))
        settings = self.servicer.settings
        if settings.artifact_gc_interval_s > 0:
            collection = artifact_collection.run_periodically(
                self.servicer.sessions,
                self.servicer.artifact_store,
                every_s=settings.artifact_gc_interval_s,
                grace_s=settings.artifact_gc_grace_s,
                stop=self._stop,
            )
            self._background.append(asyncio.create_task(collection))

    async def close(self) -> None:
        """Releases what the server leaves behind once drained: the bus and the database pool."""
        self._stop.set()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.execution.stop()
        await self.autocommit.dispose()
        await self.engine.dispose()

    async def stop(self) -> None:
        """Drains the server, then closes."""
        await self.service.stop()
        await self.close()


def build_app(settings: CatalogSettings, *, grace: float = 10.0) -> CatalogApp:
    """Wires the catalog from its settings without starting anything; call it inside the loop that will run it.

    settings: the process configuration; GRPC_LISTEN may use port 0.
    grace: seconds running calls get at shutdown.
    """
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    autocommit = autocommit_engine(engine)
    execution = ExecutionService(
        sessions,
        autocommit=autocommit,
        nats_url=settings.nats_url,
        topology=Topology.of(settings),
        sync_timeout_s=settings.sync_execute_timeout_s,
        orphan_after_s=settings.orphan_run_after_s,
    )
    market_data = MarketData(sessions, S3Location.of(settings))
    artifact_store = LazyObjectStore(S3Location.of(settings))
    servicer = CatalogServicer(
        settings=settings,
        sessions=sessions,
        execution=execution,
        market_data=market_data,
        artifact_store=artifact_store,
    )
    run_report = RunReportServicer(execution, bucket=settings.s3_bucket)
    registrations = [servicer.registration(), run_report.registration()]
    service = GrpcService(registrations, settings.grpc_listen, grace=grace)
    return CatalogApp(engine=engine, autocommit=autocommit, execution=execution, servicer=servicer, service=service)
