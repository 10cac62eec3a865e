"""`python -m services.results`: read settings, wire the adapters, serve until signalled."""

from __future__ import annotations

# Before anything starts a thread (numpy, pyarrow, gRPC): every thread shares the padded main heap
# (see row_printing.HEAP_PAD_BYTES).
from services.kit.allocator import one_heap, pad_heap, release_large_buffers

one_heap()

import asyncio  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402

from backtest.v1 import results_pb2  # noqa: E402
from services.adapters.object_store import ObjectStore, S3Location  # noqa: E402
from services.kit.grpc_server import GrpcService, run_until_signalled  # noqa: E402
from services.kit.settings import SettingsError, load_settings  # noqa: E402
from services.kit.structured_logging import configure_logging  # noqa: E402
from services.results import row_printing  # noqa: E402
from services.results.artifacts import Artifacts  # noqa: E402
from services.results.catalog_client import CatalogClient  # noqa: E402
from services.results.servicer import ResultsServicer, add_to_server  # noqa: E402
from services.results.settings import ResultsSettings  # noqa: E402

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
    release_large_buffers(row_printing.MMAP_THRESHOLD_BYTES)  # a stream's buffers come from the heap...
    pad_heap(row_printing.HEAP_PAD_BYTES)  # ... whose free top is kept, so that they need not be mapped
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
