"""When a crashed process is started again, and when its crashing has become a loop.

A crash is answered by a restart after a delay that doubles with every crash
still inside the window (0.5 s, 1 s, 2 s, ...), so a process that dies on a
dependency that is briefly away is not started again in a tight loop, and a
minute without a crash brings the delay back down. More than `limit` restarts
within `window` seconds is a crash loop: restarting again would only hide
a process that cannot run, so the launcher gives up on everything.

Kubernetes (CrashLoopBackOff) and Docker (`restart: unless-stopped`) also
restart with a doubling delay; neither ever gives up, since an operator
watches them. The launcher runs on someone's desk instead, so it stops and
says which process would not stay up.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    """How often a process may crash before the launcher gives up, and how long it waits in between."""

    limit: int = 5
    """Restarts allowed within `window`; the next crash inside it is a crash loop. 0 never restarts."""
    window: float = 60.0
    """Seconds a crash counts for, both towards `limit` and towards the delay."""
    first_delay: float = 0.5
    """Seconds before restarting after a first crash; doubles with each further crash in the window."""
    max_delay: float = 30.0
    """The longest wait before a restart."""

    def __post_init__(self) -> None:
        if self.limit < 0 or self.window <= 0 or self.first_delay < 0 or self.max_delay < self.first_delay:
            raise ValueError(f"inconsistent restart policy: {self}")

    def delay(self, crashes: int) -> float:
        """Seconds to wait before the restart that answers the `crashes`-th crash within the window.

        crashes: crashes inside the window, this one included (1 or more).
        """
        return min(self.first_delay * 2 ** (crashes - 1), self.max_delay)


class CrashHistory:
    """The recent crashes of one process, judged by a policy."""

    def __init__(self, policy: RestartPolicy) -> None:
        """Start with no crash on record.

        policy: the limits to judge crashes by.
        """
        self.policy = policy
        self._crashes: deque[float] = deque()

    def crashed(self, now: float) -> float | None:
        """Record a crash; return the seconds to wait before restarting, or None when it is a crash loop.

        now: the time of the crash, in seconds of a monotonic clock.
        """
        while self._crashes and self._crashes[0] <= now - self.policy.window:
            self._crashes.popleft()
        self._crashes.append(now)
        if len(self._crashes) > self.policy.limit:
            return None
        return self.policy.delay(len(self._crashes))

    @property
    def recent(self) -> int:
        """Crashes recorded within the window as of the last one."""
        return len(self._crashes)
