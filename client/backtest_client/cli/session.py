"""What every command shares: the client from the global options, output mode, and error -> exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import typer
from rich.console import Console

from backtest_client import errors
from backtest_client.cli import render
from backtest_client.client import Client

F = TypeVar("F", bound=Callable[..., Any])
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

# Piped output is read by people later (logs, CI): wide enough that tables are never squeezed.
PIPED_WIDTH = 160
stdout = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)


@dataclass
class Session:
    """The global options, and the client built from them on first use."""

    url: str | None
    api_key: str | None
    _client: Client | None = None

    @property
    def client(self) -> Client:
        """The client of the global options' URL and key, built once."""
        if self._client is None:
            self._client = Client(self.url, api_key=self.api_key)
        return self._client


class StoppedWaiting(Exception):
    """Ctrl-C during a wait: the work goes on under `task_id`."""

    def __init__(self, task_id: str, what: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id
        self.what = what


def session(ctx: typer.Context) -> Session:
    """The session the global callback stored."""
    return ctx.find_root().obj


def handled(command: F) -> F:
    """Runs a command, turning client errors and Ctrl-C into a message and the exit code of the module docstring.

    The command's `json_output` argument decides whether the message is JSON (stdout) or text (stderr).
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("json_output"))
        try:
            return command(*args, **kwargs)
        except StoppedWaiting as stop:
            message = f"stopped waiting; {stop.what} goes on. Follow it with: backtest task {stop.task_id} --wait"
            if as_json:
                render.emit_json({"interrupted": {"message": message, "task_id": stop.task_id}})
            else:
                stderr.print(f"[yellow]{render.escape(message)}[/]")
            raise typer.Exit(INTERRUPTED) from None
        except errors.ValidationError as err:
            listed = [{"field": v.field, "description": v.description} for v in err.violations]
            if as_json:
                render.emit_json({"error": _error_json(err) | {"violations": listed}})
            else:
                stderr.print(f"[bold red]error:[/] {render.escape(err.message)}")
                stderr.print(render.violations_table(err.violations))
            raise typer.Exit(USAGE) from None
        except errors.BacktestError as err:
            _report(_error_json(err), as_json, err.message)
            raise typer.Exit(FAILED) from None

    return run  # type: ignore[return-value]


def _error_json(err: errors.BacktestError) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": type(err).__name__, "status": err.status, "message": err.message}
    if isinstance(err, errors.RunFailedError):
        detail |= {"backtest_id": err.backtest_id, "reason": err.reason, "task_id": err.task_id}
    return detail


def _report(detail: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        render.emit_json({"error": detail})
    else:
        stderr.print(f"[bold red]error:[/] {render.escape(text)}")
