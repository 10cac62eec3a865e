"""Start processes in order, keep them running, and stop them all in reverse order.

A long-running process that dies is named, with why (exit code or signal,
and the end of its log), and started again after a delay (`restart.py`):
one crashed executor must not take the database and the other executors
with it. Only a crash loop, or the death of a process that cannot be
restarted, stops everything: restarting again would only hide a process
that cannot run, and a half-running platform fails in confusing ways.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from deploy.embedded.errors import ChildDied, ProcessError
from deploy.embedded.probes import Ready
from deploy.embedded.process import Child, spawn
from deploy.embedded.restart import CrashHistory, RestartPolicy
from deploy.embedded.waiting import wait_exit, wait_ready

Relaunch = Callable[[], Child]
"""Starts a dead process again and returns it once it serves; raises ProcessError when it does not."""


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
    """A task that must exit with code 0 before the next process starts; never restarted."""
    one_shot_timeout: float = 300.0
    """Seconds a one-shot task may take."""
    cwd: Path | None = None
    """Working directory."""
    restart: bool = True
    """Start the process again when it dies; False makes its death stop everything."""


@dataclass
class Watched:
    """A long-running process the supervisor keeps up."""

    child: Child
    """The current run of the process."""
    relaunch: Relaunch | None
    """How to start it again; None: its death stops everything."""
    crashes: CrashHistory
    """Its recent crashes."""
    held: bool = False
    """Killed on purpose and kept down until released (a fault injected by a test)."""
    restart_at: float | None = None
    """When its pending restart is due; None while it runs or before its death is noticed."""


class Supervisor:
    """Owns the processes it starts or adopts, restarts those that die, and stops them all when done."""

    def __init__(
        self,
        *,
        log_dir: Path,
        stop_timeout: float = 10.0,
        out: TextIO | None = None,
        handle_signals: bool = True,
        policy: RestartPolicy | None = None,
    ) -> None:
        """Create an empty supervisor.

        log_dir: directory receiving one `<name>.log` per process.
        stop_timeout: seconds between SIGTERM and SIGKILL for each process.
        out: where reports go; stderr when None.
        handle_signals: turn SIGINT and SIGTERM into an orderly stop (main thread only).
        policy: when a dead process is started again; the default RestartPolicy when None.
        """
        self.log_dir = log_dir
        self.stop_timeout = stop_timeout
        self.out = out
        self.handle_signals = handle_signals
        self.policy = policy or RestartPolicy()
        self.gave_up: ChildDied | None = None
        """The death that made the supervisor stop everything, once it has."""
        self._watched: list[Watched] = []
        # Held while processes are looked at or restarted; reentrant, so that code
        # running under it (a relaunch) may still use the public methods.
        self._lock = threading.RLock()
        self._halt = threading.Event()
        self._watcher: threading.Thread | None = None
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

    @property
    def children(self) -> list[Child]:
        """The current run of every watched process, in start order."""
        with self._lock:
            return [watched.child for watched in self._watched]

    def adopt(self, child: Child, relaunch: Relaunch | None = None) -> None:
        """Watch, restart and eventually stop a process started elsewhere (the servers).

        child: the running process.
        relaunch: starts it again (same data, same port) once it died; None makes its death stop everything.
        """
        with self._lock:
            self._watched.append(Watched(child, relaunch, CrashHistory(self.policy)))

    def start(self, spec: ProcessSpec) -> float:
        """Start a process and wait until it is ready (or, for a one-shot, done); return the seconds taken.

        Raises StartupError with the end of the process's log when it fails.

        spec: what to start.
        """
        child = self._spawn(spec)
        if spec.one_shot:
            return wait_exit(child, timeout=spec.one_shot_timeout)
        self.adopt(child, (lambda: self._relaunch(spec)) if spec.restart else None)
        return self._until_ready(child, spec)

    def dead_child(self) -> ChildDied | None:
        """The first watched process that is not running (and not held down on purpose), if any."""
        with self._lock:
            for watched in self._watched:
                child = watched.child
                if not watched.held and not child.alive():
                    return ChildDied(child.name, child.exit_description(), child.log_tail(), child.log_path)
        return None

    def tend(self) -> ChildDied | None:
        """Look at every process once: report new deaths, restart those whose delay is over.

        Returns the death that must stop everything (a crash loop, or a
        process without a way to restart), after saying so; None otherwise.
        """
        with self._lock:
            for watched in list(self._watched):
                if watched.held or watched.child.alive():
                    continue
                now = time.monotonic()
                if watched.restart_at is None:
                    fatal = self._note_death(watched, now)
                    if fatal is not None:
                        return fatal
                assert watched.restart_at is not None
                if now >= watched.restart_at:
                    fatal = self._restart(watched)
                    if fatal is not None:
                        return fatal
        return None

    def watch(self, *, interval: float = 0.2) -> ChildDied | None:
        """Keep every process up until a stop signal, stop_all() or a fatal death; then stop everything.

        Returns the death that ended the watch, or None after a requested stop.

        interval: seconds between two looks at the processes.
        """
        try:
            while not self._halt.is_set():
                fatal = self.tend()
                if fatal is not None:
                    self.gave_up = fatal
                    self._say(f"{fatal}\n---")
                    self._say("stopping everything")
                    self._stop_children()
                    return fatal
                self._halt.wait(interval)
            self._stop_children()
            return None
        except StopRequested as stop:
            self._say(f"{signal.Signals(stop.signum).name} received; stopping everything")
            self._stop_children()
            return None

    def watch_in_background(self, *, interval: float = 0.2) -> None:
        """Run watch() in a thread of its own until stop_all(): for a caller whose own thread has other work (tests).

        interval: seconds between two looks at the processes.
        """
        # Restarted processes die with the thread that spawned them (PR_SET_PDEATHSIG),
        # so this thread lives until everything is stopped, and stops it itself.
        self._watcher = threading.Thread(
            target=self.watch, kwargs={"interval": interval}, name="supervisor", daemon=True
        )
        self._watcher.start()

    def kill(self, name: str, *, hold: bool = False) -> None:
        """SIGKILL process `name`, as a crash would; it is restarted like any crashed process unless held.

        name: the process.
        hold: keep it down, without counting a crash, until release(name).
        """
        with self._lock:
            watched = self._find(name)
            watched.held = hold
            watched.child.process.kill()
            watched.child.process.wait()
            if hold:  # down means down: no backend of a killed PostgreSQL keeps serving meanwhile
                self._clear_remains(watched.child)

    def release(self, name: str) -> None:
        """Start a process held down by kill(name, hold=True) again, at once.

        name: the process.
        """
        with self._lock:
            watched = self._find(name)
            if not watched.held:
                return
            watched.held = False
            if not watched.child.alive():
                watched.restart_at = time.monotonic()

    def wait_running(self, name: str, *, timeout: float = 120.0) -> Child:
        """Block until process `name` runs again after a death (restarted and ready); return its current run.

        name: the process.
        timeout: seconds to wait at most; TimeoutError after that.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                watched = self._find(name)
                if not watched.held and watched.restart_at is None and watched.child.alive():
                    return watched.child
            if self.gave_up is not None:
                raise RuntimeError(f"the supervisor gave up: {self.gave_up}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} is not running again after {timeout:g}s")
            time.sleep(0.05)

    def forget(self, name: str) -> Child:
        """Stop watching process `name` (it will not be restarted) and return its current run.

        name: the process.
        """
        with self._lock:
            watched = self._find(name)
            self._watched.remove(watched)
            return watched.child

    def stop_all(self) -> None:
        """Stop every process, the last started first: SIGTERM (or its own signal), then SIGKILL after the timeout."""
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            self._halt.set()
            watcher.join()
        self._stop_children()

    def _stop_children(self) -> None:
        self._halt.set()
        self._stopping = True
        try:
            while True:
                with self._lock:
                    if not self._watched:
                        return
                    child = self._watched.pop().child
                child.stop(self.stop_timeout)
        finally:
            self._stopping = False

    def _note_death(self, watched: Watched, now: float) -> ChildDied | None:
        """Report a death just noticed and schedule the restart; the death itself when it is fatal."""
        child = watched.child
        died = ChildDied(child.name, child.exit_description(), child.log_tail(), child.log_path)
        self._say(f"{died}\n---")
        self._clear_remains(child)
        if watched.relaunch is None:
            return died
        delay = watched.crashes.crashed(now)
        if delay is None:
            return self._crash_loop(watched, child.exit_description(), died)
        allowed = f"crash {watched.crashes.recent} of {self.policy.limit} allowed within {self.policy.window:g}s"
        self._say(f"restarting {child.name} in {delay:g}s ({allowed})")
        watched.restart_at = now + delay
        return None

    def _restart(self, watched: Watched) -> ChildDied | None:
        """Start a dead process again; a start that fails counts as one more crash."""
        assert watched.relaunch is not None
        name = watched.child.name
        try:
            watched.child = watched.relaunch()
        except ProcessError as exc:
            failed = ChildDied(name, f"did not come back: {exc.reason}", exc.log_tail, exc.log_path)
        except Exception as exc:  # e.g. the data directory vanished: still one more crash, not a dead launcher
            failed = ChildDied(name, f"did not come back: {type(exc).__name__}: {exc}")
        else:
            watched.restart_at = None
            self._say(f"{name} restarted (pid {watched.child.pid})")
            return None
        self._say(f"{failed}\n---")
        now = time.monotonic()
        delay = watched.crashes.crashed(now)
        if delay is None:
            return self._crash_loop(watched, failed.reason, failed)
        self._say(f"restarting {name} in {delay:g}s")
        watched.restart_at = now + delay
        return None

    def _crash_loop(self, watched: Watched, last: str, died: ChildDied) -> ChildDied:
        reason = (
            f"crashed {watched.crashes.recent} times within {self.policy.window:g}s (last: {last}): a crash loop,"
            " so the launcher gives up"
        )
        return ChildDied(watched.child.name, reason, died.log_tail, died.log_path)

    @staticmethod
    def _clear_remains(child: Child) -> None:
        """What a dead process leaves: its own cleanups, and processes it started (PostgreSQL's backends)."""
        child.stop()
        child.kill_leftovers()

    def _find(self, name: str) -> Watched:
        for watched in self._watched:
            if watched.child.name == name:
                return watched
        raise KeyError(f"no process named {name!r} is watched")

    def _spawn(self, spec: ProcessSpec) -> Child:
        return spawn(spec.name, spec.argv, log_path=self.log_dir / f"{spec.name}.log", env=spec.env, cwd=spec.cwd)

    def _until_ready(self, child: Child, spec: ProcessSpec) -> float:
        if spec.ready is None:
            return 0.0
        ready = spec.ready
        return wait_ready(child, ready.check, timeout=ready.timeout, what=ready.what, interval=ready.interval)

    def _relaunch(self, spec: ProcessSpec) -> Child:
        child = self._spawn(spec)
        self._until_ready(child, spec)
        return child

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # While stopping, a second Ctrl-C must not abandon the remaining
        # processes halfway; they are being stopped already.
        if not self._stopping:
            raise StopRequested(signum)

    def _say(self, message: str) -> None:
        print(f"supervisor: {message}", file=self.out or sys.stderr, flush=True)
