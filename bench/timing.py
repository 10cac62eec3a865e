"""Repeated timings and their summaries."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Samples:
    """Durations in seconds of repeated runs of one thing."""

    seconds: list[float]

    @property
    def median(self) -> float:
        """The median of the timings."""
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        """The 90th percentile (nearest rank)."""
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]

    @property
    def total(self) -> float:
        """The sum of the timings."""
        return sum(self.seconds)

    def describe(self, scale: float = 1e3, unit: str = "ms") -> str:
        """median, p90, min and max, in `unit` (milliseconds by default)."""
        s = [x * scale for x in self.seconds]
        return (
            f"median {self.median * scale:.2f} {unit}, p90 {self.p90 * scale:.2f}, "
            f"min {min(s):.2f}, max {max(s):.2f} (n={len(s)})"
        )


def repeat(fn: Callable[[], object], *, times: int, warm_up: int = 0) -> Samples:
    """Times `fn()` `times` times after `warm_up` untimed calls."""
    for _ in range(warm_up):
        fn()
    seconds = []
    for _ in range(times):
        began = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - began)
    return Samples(seconds)


def wall_offset() -> float:
    """time.time() - time.perf_counter(): maps perf_counter readings onto log timestamps."""
    return time.time() - time.perf_counter()
