"""`python -m gateway.transcoder`: serve REST for the services in GATEWAY_UPSTREAMS until signalled."""

from __future__ import annotations

# Before grpc or the connection threads start: every thread allocates from one heap, padded below.
from services.kit.allocator import one_heap, pad_heap

one_heap()

import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from gateway.transcoder.errors import ConfigError  # noqa: E402
from gateway.transcoder.gateway import Gateway  # noqa: E402
from gateway.transcoder.settings import GatewaySettings, exposure_problem  # noqa: E402
from services.kit.settings import SettingsError, load_settings  # noqa: E402
from services.kit.structured_logging import configure_logging  # noqa: E402

# A streamed body passes through as gRPC messages of about 240 KB (1 MiB for downloads): grpc reads
# each into fresh buffers, and the request thread copies it into a bytes object. With glibc's
# defaults (an arena per thread, trimmed as soon as its top is free) those pages were mapped and
# faulted in again message after message: 300-3,800 faults a 65 MB curve, about a tenth of the
# gateway's CPU samples. From one heap whose free top keeps this much they are reused: 1-24 faults,
# the transport floor's bench median 0.146 -> 0.121 s (docs/benchmarks.md, issue 18, branch gw18j).
HEAP_PAD_BYTES = 4 << 20

log = logging.getLogger("gateway.transcoder")


def main() -> int:
    """Parses settings, builds the gateway, serves until SIGTERM or SIGINT; returns the exit code."""
    pad_heap(HEAP_PAD_BYTES)  # from the main thread, before any other starts
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
