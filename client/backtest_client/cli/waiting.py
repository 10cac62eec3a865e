"""Waiting on a task from the terminal: a live bar on stderr, Ctrl-C stops the wait and not the work."""

from __future__ import annotations

from rich.markup import escape

from backtest_client.cli.session import StoppedWaiting, stderr
from backtest_client.client import Client
from backtest_client.models import TaskState
from backtest_client.progress import ProgressBar
from backtest_client.tasks import poll


def wait_task(client: Client, task_id: str, *, what: str, show: bool = True, announce: str = "") -> TaskState:
    """Polls the task until it is done; its PROGRESS feeds a bar on stderr.

    client: the API. task_id: the task. what: names the work in messages ("sweep 1a2b...").
    show: draw the bar and print `announce` first (off for --json, so scripts see only the result).
    announce: a line saying what started, e.g. the task id to come back to.
    """
    bar = None
    try:
        # Inside the try: a Ctrl-C from the moment the task id is shown stops only the wait.
        if show:
            if announce:
                stderr.print(f"[dim]{escape(announce)}[/]")
            bar = ProgressBar(what, console=stderr)
        return poll(
            lambda: client.tasks.get(task_id),
            lambda state: state.done,
            on_state=bar.update if bar is not None else None,
            what=what,
        )
    except KeyboardInterrupt:
        raise StoppedWaiting(task_id, what) from None
    finally:
        if bar is not None:
            bar.close()
