"""Showing a task's progress as it is polled: a rich progress bar, live in a terminal and in Jupyter."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backtest_client.models import TaskState


class ProgressBar:
    """A bar fed by task states: completed of total runs, failures, status.

    description: the text before the bar.
    console: where to draw; rich picks the terminal or the notebook by default.
    """

    def __init__(self, description: str, *, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._bar = self._progress.add_task(description, total=None, detail="PENDING")
        self._progress.start()

    def update(self, state: TaskState) -> None:
        """Redraws with a newly polled state."""
        progress = state.progress
        failed = f", {progress.failed} failed" if progress.failed else ""
        self._progress.update(
            self._bar,
            total=progress.total or None,
            completed=progress.settled,
            detail=f"{state.status}{failed}",
        )

    def close(self) -> None:
        """Stops redrawing; the last state stays on screen."""
        self._progress.stop()
