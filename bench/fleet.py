"""How many executors the stack runs, changed between measurements.

An executor is usable once its log says "ready": it has warmed up every
engine (imports, numba compilation) and is pulling jobs. Stopping one is a
clean SIGTERM; afterwards we wait out its last pull request, so that no job
is handed to a consumer that is gone (it would wait out the ack timeout).
An executor does not finish a clean stop today (its NATS drain waits out a
30 s timeout), so each stop lasts the supervisor's 10 s and ends in SIGKILL;
stops therefore run in parallel.
"""

from __future__ import annotations

import threading
import time

from bench.service_logs import LogReader
from deploy.embedded.stack import Stack

PULL_EXPIRY_S = 2.5  # the executor's fetch timeout (2 s) plus a margin
READY_TIMEOUT_S = 240.0


class Fleet:
    """The stack's executors, started and stopped on request."""

    def __init__(self, stack: Stack, *, say=print) -> None:
        self.stack = stack
        self.say = say

    def names(self) -> list[str]:
        """Executors the stack runs now, oldest first."""
        assert self.stack.supervisor is not None
        return [c.name for c in self.stack.supervisor.children if c.name.startswith("executor-")]

    def log(self, name: str, *, from_start_of_run: bool = True) -> LogReader:
        """The log of executor `name`; from where its current process began, or from now."""
        assert self.stack.supervisor is not None
        child = next(c for c in self.stack.supervisor.children if c.name == name)
        return LogReader(self.stack.log_path(name), child.log_start if from_start_of_run else None)

    def start(self) -> str:
        """Starts one more executor and returns its name without waiting."""
        return self.stack.start_executor()

    def wait_ready(self, name: str) -> dict:
        """Blocks until executor `name` logged "ready"; returns that entry."""
        return self.log(name).wait_for("ready", timeout=READY_TIMEOUT_S)

    def stop(self, name: str) -> None:
        """Stop the executor `name`."""
        self.stack.stop_executor(name)

    def ensure(self, count: int) -> None:
        """Starts or stops executors until exactly `count` run, all of them ready."""
        names = self.names()
        if len(names) > count:
            # In parallel: each stop takes the supervisor's full timeout (see the module docstring).
            stoppers = [threading.Thread(target=self.stop, args=(name,)) for name in names[count:]]
            self.say(f"  stopping {', '.join(names[count:])}")
            began = time.monotonic()
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
            self.say(f"  stopped after {time.monotonic() - began:.1f} s")
            time.sleep(PULL_EXPIRY_S)
        started = [self.start() for _ in range(count - len(names))]
        for name in started:
            self.say(f"  started {name}, waiting for it to warm up")
        for name in self.names():
            self.wait_ready(name)
