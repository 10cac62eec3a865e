"""`python -m gateway.transcoder`: serve REST for the services in GATEWAY_UPSTREAMS until signalled."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from gateway.transcoder.errors import ConfigError
from gateway.transcoder.gateway import Gateway
from gateway.transcoder.settings import GatewaySettings, exposure_problem
from services.kit.settings import SettingsError, load_settings
from services.kit.structured_logging import configure_logging

log = logging.getLogger("gateway.transcoder")


def main() -> int:
    """Parses settings, builds the gateway, serves until SIGTERM or SIGINT; returns the exit code."""
    try:
        settings = load_settings(GatewaySettings)
    except SettingsError as exc:
        configure_logging("gateway")
        log.error(str(exc), extra={"problems": exc.problems})
        return 2
    configure_logging("gateway", settings.log_level)
    problem = exposure_problem(settings)
    if problem is not None:
        log.error(f"cannot start: {problem}")
        return 2
    try:
        gateway = Gateway.from_settings(settings)
    except ConfigError as exc:
        log.error(f"cannot start: {exc}")
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    gateway.start()
    while not stop.wait(1.0):
        pass
    log.info("shutting down")
    gateway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
