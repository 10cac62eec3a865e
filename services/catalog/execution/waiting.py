"""Waits for a dispatched run to settle, for synchronous execute.

The catalog replica that committed the outcome publishes a core-NATS event.
Each catalog holds one subscription to every backtest's outcome events
(`SettledEvents`, subscribed and flushed at start), and a waiter registers
for its backtest before dispatching, so the event cannot slip past; a burst
of sync executes costs no subscribe and unsubscribe per request. When this
catalog committed the outcome itself (an executor's CompleteJobs), it hands
the settled row to the waiter after the commit, so the answer needs no read
back; an outcome committed elsewhere, or a failure, is read. Core NATS
is at-most-once, so the waiter also re-reads the row every second: a lost
event costs at most that second, never a hang.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from services.domain.statuses import RunStatus

RECHECK_S = 1.0


@dataclass
class Waiter:
    """A synchronous execute waiting for its run: `announced` is set when an outcome is announced.

    settled: (job id, row) when this catalog committed the outcome itself and handed the row
        over (`SettledEvents.deliver`); None when the outcome came from elsewhere (read it).
    """

    announced: asyncio.Event = field(default_factory=asyncio.Event)
    settled: tuple[str, Any] | None = None


class SettledEvents:
    """Outcome events of every backtest, handed to the waiters registered for each."""

    def __init__(self) -> None:
        self._waiters: dict[uuid.UUID, list[Waiter]] = {}

    async def start(self, bus) -> None:
        """Subscribes to every backtest's event subject on `bus` (a services.adapters.bus.Bus; closing it ends this)."""
        await bus.nc.subscribe(bus.topology.event_subject("*"), cb=self._received)
        await bus.nc.flush()  # the server knows the subscription before any run is dispatched

    async def _received(self, message) -> None:
        try:
            backtest_id = uuid.UUID(message.subject.rsplit(".", 1)[-1])
        except ValueError:
            return
        for waiter in self._waiters.get(backtest_id, ()):
            waiter.announced.set()

    def waited_for(self) -> set[uuid.UUID]:
        """The backtests some synchronous execute of this catalog waits for."""
        return set(self._waiters)

    def deliver(self, settled: Mapping[uuid.UUID, tuple[str, Any]]) -> None:
        """Hands committed outcomes, (job id, row) by backtest id, to their waiters (call after the commit)."""
        for backtest_id, outcome in settled.items():
            for waiter in self._waiters.get(backtest_id, ()):
                waiter.settled = outcome
                waiter.announced.set()

    @contextmanager
    def registered(self, backtest_id: uuid.UUID) -> Iterator[Waiter]:
        """A waiter told of outcomes of `backtest_id` announced from now until the block ends."""
        waiter = Waiter()
        self._waiters.setdefault(backtest_id, []).append(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters[backtest_id]
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[backtest_id]


async def wait_for_outcome(
    waiter: Waiter,
    read: Callable[[], Awaitable[tuple[Any, str | None]]],
    *,
    job_id: str,
    timeout: float,
) -> Any | None:
    """The run's row once the job `job_id` settled it, or None when `timeout` seconds passed first.

    waiter: registered for the backtest before its job was dispatched.
    read: reads the backtest: (row with a `status`, the job that last claimed it).
    An announcement only says that some outcome of the backtest was committed
    (a previous job's may arrive late): the row handed over, or the row read,
    must be this job's settled one; a run claimed by a later job since was
    settled for this one, and is answered as it now is.
    """
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            # A timeout scope, not wait_for: no task wrapped around the wait of every sync execute.
            async with asyncio.timeout(min(RECHECK_S, remaining)):
                await waiter.announced.wait()
        except TimeoutError:
            pass
        waiter.announced.clear()
        if waiter.settled is not None and waiter.settled[0] == job_id:
            return waiter.settled[1]
        row, holder = await read()
        if row.status != RunStatus.RUNNING or holder != job_id:
            return row
    return None
