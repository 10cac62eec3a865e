"""Runs the catalog: `python -m services.catalog` (migrate first: `python -m services.catalog.migrate`)."""

from __future__ import annotations

import os

# Before numpy loads: the catalog's only heavy numpy is a search's CSCV, whose
# products have an inner dimension of 16, so BLAS threads buy nothing there and,
# on a busy machine, spin on cores the services need (10x the wall time measured).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Before anything starts a thread (numpy, pyarrow): every thread shares the padded main heap.
from services.kit.allocator import one_heap, pad_heap, release_large_buffers  # noqa: E402

one_heap()

import asyncio  # noqa: E402
import sys  # noqa: E402

from services.catalog.app import build_app  # noqa: E402
from services.catalog.execution.grid_search import warm_statistics  # noqa: E402
from services.catalog.settings import CatalogSettings  # noqa: E402
from services.kit.grpc_server import run_until_signalled  # noqa: E402
from services.kit.settings import SettingsError, load_settings  # noqa: E402
from services.kit.structured_logging import configure_logging  # noqa: E402


async def serve(settings: CatalogSettings) -> None:
    """Builds the catalog inside the running loop (gRPC binds its server to it) and serves."""
    app = build_app(settings)
    await run_until_signalled(
        app.service, before_start=app.execution.start, on_start=app.start_background, on_stop=app.close
    )


def main() -> None:
    """Parses settings, configures logging, serves until SIGTERM/SIGINT."""
    try:
        settings = load_settings(CatalogSettings)
    except SettingsError as err:
        # Before logging is configured: one plain line naming every problem.
        sys.exit(str(err))
    configure_logging("catalog", settings.log_level)
    release_large_buffers()  # uploads stream CSV blocks and Parquet pages through worker threads
    pad_heap()  # ... and each upload message is copied in megabyte buffers: from one padded heap
    warm_statistics()  # the PBO's compiled kernel, loaded on a thread now rather than in a search's last report
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
