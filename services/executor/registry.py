"""Keeps this executor's entry alive in the registry while it runs."""

from __future__ import annotations

import asyncio
import logging

from services.adapters.bus import Bus, ExecutorRecord

log = logging.getLogger(__name__)


async def announce(bus: Bus, record: ExecutorRecord, stop: asyncio.Event) -> None:
    """Re-puts `record` at a third of the registry TTL until `stop` is set, then removes it.

    bus: connection holding the registry bucket.
    record: what this executor offers.
    stop: set at shutdown.
    """
    period = bus.topology.registry_ttl / 3
    while not stop.is_set():
        try:
            await bus.register(record)
        except Exception:  # the registry is advisory: a missed refresh must not kill the worker
            log.warning("registry refresh failed", exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=period)
        except TimeoutError:
            pass
    try:
        await bus.unregister(record.executor_id)
    except Exception:
        log.warning("could not remove registry entry", exc_info=True)
