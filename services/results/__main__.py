"""`python -m services.results`: read settings, wire the adapters, serve until signalled."""

from __future__ import annotations

import asyncio
import logging
import time

from backtest.v1 import results_pb2
from services.adapters.object_store import ObjectStore, S3Location
from services.kit.allocator import release_large_buffers
from services.kit.grpc_server import GrpcService, run_until_signalled
from services.kit.settings import SettingsError, load_settings
from services.kit.structured_logging import configure_logging
from services.results import row_printing
from services.results.artifacts import Artifacts
from services.results.catalog_client import CatalogClient
from services.results.servicer import ResultsServicer, add_to_server
from services.results.settings import ResultsSettings

log = logging.getLogger(__name__)
SERVICE_NAME = results_pb2.DESCRIPTOR.services_by_name["ResultsService"].full_name


async def serve(settings: ResultsSettings) -> None:
    """Serves ResultsService on `settings.grpc_listen` until SIGTERM or SIGINT.

    settings: the process configuration.
    """
    # The JSON printers' compiled loops load from numba's cache (or compile, when it is cold)
    # before the server listens: a request never waits for the compiler, and "serving" means
    # ready. In the background, a first trades request waited for the whole compile (numba's
    # compiler lock), minutes on two busy cores with a cold cache.
    await asyncio.to_thread(_warm_up)
    catalog = CatalogClient(settings.catalog_addr)
    servicer = ResultsServicer(catalog, Artifacts(ObjectStore(S3Location.of(settings))))
    service = GrpcService([(add_to_server, servicer, SERVICE_NAME)], settings.grpc_listen)
    await run_until_signalled(service, on_stop=catalog.close)


def _warm_up() -> None:
    started = time.perf_counter()
    row_printing.warm_up()
    log.info("json printers ready", extra={"seconds": round(time.perf_counter() - started, 2)})


def main() -> None:
    """Entry point; a bad configuration exits at once naming every problem."""
    try:
        settings = load_settings(ResultsSettings)
    except SettingsError as err:
        raise SystemExit(str(err)) from None
    configure_logging("results", settings.log_level)
    release_large_buffers(row_printing.MMAP_THRESHOLD_BYTES)  # JSON pieces come from the heap
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
