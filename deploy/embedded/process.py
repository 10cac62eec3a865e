"""One child process: spawn it with its output in a log file, describe how it ended, stop it."""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from deploy.embedded.errors import StartupError

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    # Runs in the forked child just before exec, after any user switch (which
    # would clear it): if the launcher is killed outright, the kernel kills
    # the child too instead of leaving a server orphaned. It is tied to the
    # spawning thread, so spawn from a thread that lives as long as the child.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Child:
    """A started process whose output goes to `log_path`."""

    name: str
    """Short name used in every message about the process."""
    process: subprocess.Popen
    """The running process."""
    log_path: Path
    """File that receives the process's stdout and stderr."""
    log_start: int = 0
    """Offset in the log where this run's output begins."""
    stop_signal: int = signal.SIGTERM
    """Signal that asks the process to shut down cleanly."""
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    """Run once the process has exited (sockets it leaves behind)."""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def exit_description(self) -> str:
        """How the process ended, e.g. 'exited with code 3' or 'was killed by SIGKILL'."""
        code = self.process.poll()
        if code is None:
            return "is still running"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def log_tail(self, lines: int = 25, width: int = 400) -> str:
        """The last lines this run wrote (earlier runs' output in the same file is left out).

        lines: how many lines to return.
        width: longer lines (JSON logs with tracebacks) are cut to this many characters.
        """
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_start)
                tail = deque(log, maxlen=lines)
        except FileNotFoundError:
            return ""
        text = (raw.decode("utf-8", "replace").rstrip("\n") for raw in tail)
        return "\n".join(line if len(line) <= width else line[:width] + " [...]" for line in text)

    def kill_leftovers(self) -> None:
        """SIGKILL what the process, now dead, left running in its process group (PostgreSQL's backends)."""
        if self.alive():
            raise RuntimeError(f"{self.name} is still running")
        # Each child leads a group of its own (spawn starts a session), and the
        # kernel does not reuse a group's id while a member lives: this reaches
        # only what this process started.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the process to stop, kill it after `timeout` seconds, and wait for it.

        timeout: seconds between the polite signal and SIGKILL.
        """
        if self.alive():
            try:
                self.process.send_signal(self.stop_signal)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        while self.cleanups:
            self.cleanups.pop()()


@dataclass
class Server:
    """A server process started by the launcher; subclasses add where it listens."""

    child: Child
    """The server process."""

    @property
    def process(self) -> subprocess.Popen:
        """The server process."""
        return self.child.process

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to shut down with its own stop signal; SIGKILL after `timeout` seconds.

        timeout: seconds before SIGKILL.
        """
        self.child.stop(timeout)


def as_user(user: str | None) -> dict[str, object]:
    """Popen arguments that run a child as `user` with that user's group and no others.

    user: a system user name; None keeps the launcher's identity.
    """
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    # Popen's `user` alone would keep root's group and supplementary groups.
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Child:
    """Start a process with stdout and stderr appended to `log_path`.

    The child gets its own session so a Ctrl-C in the terminal reaches only
    the launcher, which then stops children in order; and it dies with the
    launcher should the launcher itself be killed.

    name: short name used in messages.
    argv: the command line.
    log_path: file receiving the output, appended to so earlier runs stay readable.
    env: the complete environment of the child (None inherits the launcher's).
    cwd: working directory of the child.
    user: system user to run as (the launcher must be root to switch).
    stop_signal: signal that asks the process to shut down cleanly.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"=== {datetime.now().isoformat(timespec='seconds')} {' '.join(argv)}\n".encode())
        log.flush()
        start = log.tell()
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **as_user(user),
            )
        except OSError as exc:
            raise StartupError(name, f"cannot run {argv[0]}: {exc}") from exc
    return Child(name=name, process=process, log_path=log_path, log_start=start, stop_signal=stop_signal)


def stop_stale(pid_file: Path, marker: str, *, stop_signal: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop a server left running by an earlier launcher that died, and drop its pid file.

    Only a process whose command line mentions `marker` (its data directory)
    is touched: after a reboot the recorded pid may belong to anyone.

    pid_file: file whose first line is the pid of the earlier server.
    marker: text the earlier server's command line must contain.
    stop_signal: signal that asks that server to shut down cleanly.
    timeout: seconds to wait before killing it.
    """
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    try:
        proc = psutil.Process(pid)
        ours = any(marker in arg for arg in proc.cmdline())
    except psutil.Error:
        ours = False
    if ours:
        proc.send_signal(stop_signal)
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    pid_file.unlink(missing_ok=True)
