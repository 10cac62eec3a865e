"""Riding out dependency outages: retry a step until the catalog or the store is back, within a window.

A run fails for a reason of its own (bad data, an engine error), never
because the catalog, the object store or the network was away for a while.
Each step of a job that needs a dependency (load bars, StartRuns, store
artifacts, CompleteRuns or FailRuns) is retried with backoff while the
dependency is unreachable, keeping what the job has already computed; the
job's delivery is held the whole time (the worker heartbeats it), so an
outage never spends the job's delivery budget. Only when a step has failed
for longer than the outage window does the job fail, with a reason naming
the dependency and how long it was away (docs/reliability.md, "Outages").

While any dependency is known to be down, the executor pulls no new job;
`Dependencies.wait_until_up` probes the missing ones and returns when all
answer again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.kit.outages import unreachable_dependency

log = logging.getLogger(__name__)
T = TypeVar("T")

CATALOG, OBJECT_STORE = "catalog", "object store"
PROBE_EVERY_S = 2.0
MAX_BACKOFF_S = 10.0


class OutageTooLong(Exception):
    """A dependency stayed unreachable for longer than the outage window; the reason is for users."""

    def __init__(self, dependency: str, seconds: float) -> None:
        super().__init__(f"the {dependency} was unreachable for {seconds:.0f} s; the run was given up")
        self.dependency = dependency
        self.seconds = seconds


def backoff_seconds(attempt: int) -> float:
    """Delay before retry number `attempt` (0-based) of a step: 0.5 s doubling, at most MAX_BACKOFF_S."""
    return min(0.5 * 2**attempt, MAX_BACKOFF_S)


class Dependencies:
    """Which dependencies this executor last found unreachable, and since when.

    probes: a cheap call per dependency name that raises while it is unreachable.
    clock: seconds, monotonic (tests pass their own).
    """

    def __init__(
        self, probes: dict[str, Callable[[], Awaitable[object]]], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.probes = probes
        self.clock = clock
        self._down: dict[str, float] = {}

    def mark_down(self, name: str) -> None:
        """Records that `name` failed just now (the first failure of an outage sets its start)."""
        if name not in self._down:
            log.warning("dependency unreachable; pulling no new jobs", extra={"dependency": name})
            self._down[name] = self.clock()

    def mark_up(self, name: str) -> None:
        """Records that `name` answered."""
        if self._down.pop(name, None) is not None:
            log.info("dependency back", extra={"dependency": name})

    def down(self) -> list[str]:
        """Dependencies known to be unreachable now."""
        return sorted(self._down)

    async def wait_until_up(self, stop: asyncio.Event) -> None:
        """Probes every dependency known to be down until all answer (or `stop` is set)."""
        while self._down and not stop.is_set():
            for name in list(self._down):
                try:
                    await self.probes[name]()
                except Exception as exc:
                    if unreachable_dependency(exc) is None:
                        raise
                    continue
                self.mark_up(name)
            if self._down:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=PROBE_EVERY_S)
                except TimeoutError:
                    pass

    async def call(self, dependency: str, step: Callable[[], Awaitable[T]], *, window_s: float, what: str) -> T:
        """`step`'s result, retried while `dependency` is unreachable; OutageTooLong after `window_s`.

        dependency: CATALOG or OBJECT_STORE, named in the failure reason.
        what: the step, for logs.
        Errors that do not show the dependency to be unreachable are raised at once.
        """
        started, attempt = None, 0
        while True:
            try:
                result = await step()
            except Exception as exc:
                if unreachable_dependency(exc) is None:
                    raise
                now = self.clock()
                started = now if started is None else started
                self.mark_down(dependency)
                if now - started >= window_s:
                    raise OutageTooLong(dependency, now - started) from exc
                delay = backoff_seconds(attempt)
                log.warning(
                    "dependency unreachable; retrying",
                    extra={"dependency": dependency, "step": what, "retry_in_s": delay, "attempt": attempt + 1},
                )
                await asyncio.sleep(delay)
                attempt += 1
                continue
            self.mark_up(dependency)
            return result
