"""Start processes in order, watch them, and stop them all in reverse order.

One process dying takes the others down with it: a half-running platform
fails in confusing ways, so the supervisor names the dead process, shows why
(exit code or signal, and the end of its log) and stops everything else.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from deploy.embedded.errors import ChildDied
from deploy.embedded.probes import Ready
from deploy.embedded.process import Child, spawn
from deploy.embedded.waiting import wait_exit, wait_ready


class StopRequested(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; a KeyboardInterrupt so that everything unwinds as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class ProcessSpec:
    """How to start one process."""

    name: str
    """Unique short name, used in messages and as the log file name."""
    argv: Sequence[str]
    """The command line."""
    env: Mapping[str, str] | None = None
    """The complete environment; None inherits the launcher's."""
    ready: Ready | None = None
    """When the process counts as started; None: as soon as it runs."""
    one_shot: bool = False
    """A task that must exit with code 0 before the next process starts."""
    one_shot_timeout: float = 300.0
    """Seconds a one-shot task may take."""
    cwd: Path | None = None
    """Working directory."""


class Supervisor:
    """Owns the processes it starts or adopts, and stops them all when done."""

    def __init__(
        self,
        *,
        log_dir: Path,
        stop_timeout: float = 10.0,
        out: TextIO | None = None,
        handle_signals: bool = True,
    ) -> None:
        """Create an empty supervisor.

        log_dir: directory receiving one `<name>.log` per process.
        stop_timeout: seconds between SIGTERM and SIGKILL for each process.
        out: where reports go; stderr when None.
        handle_signals: turn SIGINT and SIGTERM into an orderly stop (main thread only).
        """
        self.log_dir = log_dir
        self.stop_timeout = stop_timeout
        self.out = out
        self.handle_signals = handle_signals
        self.children: list[Child] = []
        self._stopping = False
        self._previous_handlers: dict[int, object] = {}

    def __enter__(self) -> Supervisor:
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop_all()
        finally:
            for signum, handler in self._previous_handlers.items():
                signal.signal(signum, handler)
            self._previous_handlers.clear()

    def adopt(self, child: Child) -> None:
        """Watch and eventually stop a process started elsewhere (the servers).

        child: the running process.
        """
        self.children.append(child)

    def start(self, spec: ProcessSpec) -> float:
        """Start a process and wait until it is ready (or, for a one-shot, done); return the seconds taken.

        Raises StartupError with the end of the process's log when it fails.

        spec: what to start.
        """
        child = spawn(spec.name, spec.argv, log_path=self.log_dir / f"{spec.name}.log", env=spec.env, cwd=spec.cwd)
        self.children.append(child)
        if spec.one_shot:
            took = wait_exit(child, timeout=spec.one_shot_timeout)
            self.children.remove(child)
            return took
        if spec.ready is None:
            return 0.0
        ready = spec.ready
        return wait_ready(child, ready.check, timeout=ready.timeout, what=ready.what, interval=ready.interval)

    def dead_child(self) -> ChildDied | None:
        """The first watched process that is no longer running, if any."""
        for child in self.children:
            if not child.alive():
                return ChildDied(child.name, child.exit_description(), child.log_tail(), child.log_path)
        return None

    def watch(self, *, interval: float = 0.2) -> ChildDied | None:
        """Block until a process dies or a stop signal arrives; then stop everything.

        Returns the death that ended the watch, or None after a requested stop.

        interval: seconds between two looks at the processes.
        """
        try:
            while True:
                died = self.dead_child()
                if died is not None:
                    self._say(f"{died}\n---")
                    self._say("stopping everything")
                    self.stop_all()
                    return died
                time.sleep(interval)
        except StopRequested as stop:
            self._say(f"{signal.Signals(stop.signum).name} received; stopping everything")
            self.stop_all()
            return None

    def stop_all(self) -> None:
        """Stop every process, the last started first: SIGTERM (or its own signal), then SIGKILL after the timeout."""
        self._stopping = True
        try:
            while self.children:
                child = self.children.pop()
                child.stop(self.stop_timeout)
        finally:
            self._stopping = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # While stopping, a second Ctrl-C must not abandon the remaining
        # processes halfway; they are being stopped already.
        if not self._stopping:
            raise StopRequested(signum)

    def _say(self, message: str) -> None:
        print(f"supervisor: {message}", file=self.out or sys.stderr, flush=True)
