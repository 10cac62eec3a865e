"""`python -m services.executor`: warm up, register, consume jobs until SIGTERM."""

from __future__ import annotations

# Before anything starts a thread (numpy, pyarrow): every thread shares one heap. With an
# arena per thread, the first run on each new worker thread faulted in that thread's own
# heap (about 9,200 page faults, 20-125 ms of system CPU: the million-bar execute's slow tail).
from services.kit.allocator import one_heap, reuse_large_buffers

one_heap()

import asyncio  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import grpc  # noqa: E402
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse  # noqa: E402
from grpc_health.v1.health_pb2_grpc import HealthStub  # noqa: E402

from backtest.v1.run_report_pb2_grpc import RunReportServiceStub  # noqa: E402
from services.adapters.bus import Bus, ExecutorRecord, Topology  # noqa: E402
from services.adapters.object_store import ObjectStore, S3Location  # noqa: E402
from services.domain.engines import descriptor  # noqa: E402
from services.domain.errors import UnavailableError  # noqa: E402
from services.executor.bars import BarCache  # noqa: E402
from services.executor.outages import CATALOG, OBJECT_STORE, Dependencies  # noqa: E402
from services.executor.plugins import advertised  # noqa: E402
from services.executor.registry import announce  # noqa: E402
from services.executor.settings import ExecutorSettings  # noqa: E402
from services.executor.warm_up import warm_up  # noqa: E402
from services.executor.worker import Worker  # noqa: E402
from services.kit.grpc_server import GrpcService  # noqa: E402
from services.kit.settings import SettingsError, load_settings  # noqa: E402
from services.kit.structured_logging import configure_logging  # noqa: E402

log = logging.getLogger("services.executor")


def _version(engines: tuple[str, ...]) -> str:
    """What the registry shows as this executor's version: each offered engine's, from its descriptor."""
    return ",".join(f"{name}={descriptor(name).version()}" for name in engines)


async def _serving(health: HealthStub) -> None:
    """Raises (as an outage) unless the catalog says it is SERVING."""
    answer = await health.Check(HealthCheckRequest(service=""), timeout=5)
    if answer.status != HealthCheckResponse.SERVING:
        raise UnavailableError("the catalog is not serving")


async def serve(settings: ExecutorSettings) -> None:
    """Warms up, registers and consumes jobs until SIGTERM or SIGINT, then stops cleanly."""
    began = time.perf_counter()
    store = ObjectStore(S3Location.of(settings))
    channel = grpc.aio.insecure_channel(settings.catalog_addr)
    bars = BarCache(store)
    # Warm-up comes before the first pull: the first job must run at steady-state speed,
    # its bars already in the cache when they are among the smallest stored series.
    reporter = RunReportServiceStub(channel)
    await warm_up(
        settings.engines,
        channel=channel,
        store=store,
        reporter=reporter,
        bars=bars,
        prefetch_bytes=settings.bar_prefetch_bytes,
    )
    bus = await Bus.connect(settings.nats_url, Topology.of(settings), name=f"executor-{settings.executor_id}")
    # Cancelled tasks, kept in memory: their jobs are acked unrun (Celery's revoked set).
    revoked = await bus.watch_revoked()
    catalog_health = HealthStub(channel)
    dependencies = Dependencies(
        {
            # The catalog answers NOT_SERVING while its database or NATS is away (services.catalog.readiness).
            CATALOG: lambda: _serving(catalog_health),
            OBJECT_STORE: lambda: asyncio.to_thread(store.client.bucket_exists, store.bucket),
        }
    )
    worker = Worker(
        bus=bus,
        store=store,
        bars=bars,
        # Model-output series files, kept as bytes: a run reads one symbol's rows of them.
        series_files=BarCache(store, decode=bytes),
        reporter=reporter,
        executor_id=settings.executor_id,
        heartbeat_s=settings.heartbeat_s,
        dependencies=dependencies,
        outage_window_s=settings.outage_window_s,
        revoked=revoked,
        coalesce_jobs=settings.coalesce_jobs,
        gather_s=settings.gather_ms / 1000,
    )
    health = GrpcService([], settings.health_listen) if settings.health_listen else None
    if health:
        await health.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    record = ExecutorRecord(settings.executor_id, list(settings.engines), _version(settings.engines), advertised())
    tasks = [asyncio.create_task(announce(bus, record, stop))]
    tasks += [asyncio.create_task(worker.consume(engine, stop)) for engine in settings.engines]
    log.info(
        "ready",
        extra={
            "executor_id": settings.executor_id,
            "engines": list(settings.engines),
            "startup_seconds": round(time.perf_counter() - began, 3),
        },
    )
    await asyncio.gather(*tasks)
    if health:
        await health.stop()
    await channel.close()
    await revoked.stop()
    await bus.close()
    log.info("stopped", extra={"jobs_done": worker.jobs_done})


def main() -> int:
    """Reads the settings (exit 2 naming every bad variable), then serves; returns the exit status."""
    try:
        settings = load_settings(ExecutorSettings)
    except SettingsError as err:
        print(err, file=sys.stderr)
        return 2
    configure_logging("executor", settings.log_level)
    reuse_large_buffers()  # a run's arrays are faulted in once, not on every run
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
