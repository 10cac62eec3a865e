"""Waits for a dispatched run to settle, for synchronous execute.

The catalog replica that committed the outcome publishes a core-NATS event;
the waiter subscribed before dispatching, so the event cannot slip past.
Core NATS is at-most-once, so the waiter also re-reads the row every second:
a lost event costs at most that second, never a hang.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import nats.errors

RECHECK_S = 1.0


async def wait_until_settled(
    subscription, is_settled: Callable[[], Awaitable[bool]], *, backtest_id: uuid.UUID, timeout: float
) -> bool:
    """True once the run settled, False when `timeout` seconds passed first.

    subscription: NATS subscription to the backtest's event subject.
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
            await subscription.next_msg(timeout=min(RECHECK_S, remaining))
            return True
        except (TimeoutError, nats.errors.TimeoutError):
            if await is_settled():
                return True
