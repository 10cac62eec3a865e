"""Waits for a dispatched run to settle, for synchronous execute.

The catalog replica that committed the outcome publishes a core-NATS event.
Each catalog holds one subscription to every backtest's outcome events
(`SettledEvents`, subscribed and flushed at start), and a waiter registers
for its backtest before dispatching, so the event cannot slip past; a burst
of sync executes costs no subscribe and unsubscribe per request. Core NATS
is at-most-once, so the waiter also re-reads the row every second: a lost
event costs at most that second, never a hang.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

RECHECK_S = 1.0


class SettledEvents:
    """Outcome events of every backtest, handed to the waiters registered for each."""

    def __init__(self) -> None:
        self._waiters: dict[str, list[asyncio.Event]] = {}

    async def start(self, bus) -> None:
        """Subscribes to every backtest's event subject on `bus` (a services.adapters.bus.Bus; closing it ends this)."""
        await bus.nc.subscribe(bus.topology.event_subject("*"), cb=self._received)
        await bus.nc.flush()  # the server knows the subscription before any run is dispatched

    async def _received(self, message) -> None:
        for event in self._waiters.get(message.subject.rsplit(".", 1)[-1], ()):
            event.set()

    @contextmanager
    def registered(self, backtest_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set when an outcome of `backtest_id` is announced, from now until the block ends."""
        key, event = str(backtest_id), asyncio.Event()
        self._waiters.setdefault(key, []).append(event)
        try:
            yield event
        finally:
            waiters = self._waiters[key]
            waiters.remove(event)
            if not waiters:
                del self._waiters[key]


async def wait_until_settled(
    announced: asyncio.Event, is_settled: Callable[[], Awaitable[bool]], *, backtest_id: uuid.UUID, timeout: float
) -> bool:
    """True once the run settled, False when `timeout` seconds passed first.

    announced: set when the run's outcome event arrives (SettledEvents.registered).
    is_settled: reads the database: is the backtest no longer running?
    backtest_id: the run waited for (for logs).
    timeout: seconds to wait at most.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return await is_settled()
        try:
            await asyncio.wait_for(announced.wait(), timeout=min(RECHECK_S, remaining))
            return True
        except TimeoutError:
            if await is_settled():
                return True
