"""Errors of the embedded launcher; each names the process and shows the end of its log."""

from __future__ import annotations

from pathlib import Path


class EmbeddedError(Exception):
    """Base of every error the launcher raises."""


class ProcessError(EmbeddedError):
    """Something went wrong with one process."""

    def __init__(self, name: str, reason: str, log_tail: str = "", log_path: Path | None = None) -> None:
        self.name = name
        self.reason = reason
        self.log_tail = log_tail
        self.log_path = log_path
        message = self._headline()
        if log_tail:
            message += f"\n--- last lines of {log_path or f'the {name} log'} ---\n{log_tail}"
        super().__init__(message)

    def _headline(self) -> str:
        return f"{self.name}: {self.reason}"


class StartupError(ProcessError):
    """A process did not start, or did not become ready in time."""


class PortClash(StartupError):
    """Another process bound a port between its choice and the server's start."""


class ChildDied(ProcessError):
    """A supervised process exited while it should have been running."""

    def _headline(self) -> str:
        return f"{self.name} {self.reason}"  # "executor-2 exited with code 1"
