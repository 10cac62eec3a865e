"""Runs the catalog: `python -m services.catalog` (migrate first: `python -m services.catalog.migrate`)."""

from __future__ import annotations

import asyncio
import sys

from services.catalog.app import build_app
from services.catalog.settings import CatalogSettings
from services.kit.grpc_server import run_until_signalled
from services.kit.settings import SettingsError, load_settings
from services.kit.structured_logging import configure_logging


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
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
