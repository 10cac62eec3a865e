"""Handles of work running on the platform: a submitted run, a sweep; `wait()` polls the task until it ends.

Interrupting a wait (Ctrl-C) stops the polling only: the run goes on, and
`client.tasks.get(task_id)` or a new handle picks it up later.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from backtest_client.errors import RunFailedError
from backtest_client.frames import leaderboard_frame
from backtest_client.models import TaskState, TaskUpdate
from backtest_client.progress import ProgressBar

if TYPE_CHECKING:
    from backtest_client.client import Client
    from backtest_client.reports import Report
    from backtest_client.results import BacktestResult

FIRST_POLL_S, MAX_POLL_S = 0.1, 1.0
OnState = Callable[[TaskState], None]
S = TypeVar("S")


def poll(
    fetch: Callable[[], S],
    finished: Callable[[S], bool],
    *,
    on_state: Callable[[S], None] | None = None,
    timeout: float | None = None,
    what: str = "task",
    sleep: Callable[[float], None] = time.sleep,
) -> S:
    """Reads a state again and again until `finished` says so, and returns the last one.

    fetch: reads the state once (a task's, a backtest's).
    finished: whether a state is final.
    on_state: called with every state read, the last included.
    timeout: seconds to give up after (TimeoutError); None waits as long as it takes.
    what: names the thing in the timeout's message.
    sleep: how to wait between reads (0.1 s at first, growing to 1 s).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    interval = FIRST_POLL_S
    while True:
        state = fetch()
        if on_state is not None:
            on_state(state)
        if finished(state):
            return state
        if deadline is not None and time.monotonic() + interval > deadline:
            raise TimeoutError(f"{what} is not done after {timeout:g} s; it goes on")
        sleep(interval)
        interval = min(MAX_POLL_S, interval * 1.5)


class _TaskHandle:
    """What every task handle has: its id, its state, and a wait with optional progress."""

    def __init__(self, client: Client, task_id: str) -> None:
        self._client = client
        self.task_id = task_id

    def state(self) -> TaskState:
        """The task as it is now."""
        return self._client.tasks.get(self.task_id)

    def cancel(self) -> TaskState:
        """Cancels the work: queued runs are dropped, nothing is left running; returns the task, REVOKED."""
        return self._client.tasks.cancel(self.task_id)

    def watch(self) -> Iterator[TaskUpdate]:
        """The task's progress as the platform pushes it, one update per change, until it ends."""
        return self._client.tasks.watch(self.task_id)

    def _wait(self, progress: bool | OnState, timeout: float | None, description: str) -> TaskState:
        bar = ProgressBar(description) if progress is True else None
        listener = bar.update if bar is not None else (progress if callable(progress) else None)
        try:
            return poll(self.state, lambda s: s.done, on_state=listener, timeout=timeout, what=f"task {self.task_id}")
        finally:
            if bar is not None:
                bar.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id}>"


class RunTask(_TaskHandle):
    """A backtest executing asynchronously (`client.submit`, `client.backtests.submit`).

    backtest_id: the run.
    """

    def __init__(self, client: Client, task_id: str, backtest_id: str) -> None:
        super().__init__(client, task_id)
        self.backtest_id = backtest_id

    def wait(self, *, progress: bool | OnState = False, timeout: float | None = None) -> BacktestResult:
        """Waits for the run and returns its result; RunFailedError if it failed.

        progress: True draws a progress bar; a callable gets every polled TaskState.
        timeout: seconds to wait at most (TimeoutError; the run goes on).
        """
        state = self._wait(progress, timeout, f"backtest {self.backtest_id[:8]}")
        if state.status != "SUCCESS":
            raise RunFailedError(self.backtest_id, state.error or state.status, task_id=self.task_id)
        return self._client.result(self.backtest_id)


class SweepTask(_TaskHandle):
    """A parameter sweep running on the fleet (`client.sweep`).

    n_configs: how many runs it dispatched.
    """

    def __init__(self, client: Client, task_id: str, n_configs: int) -> None:
        super().__init__(client, task_id)
        self.n_configs = n_configs

    def wait(self, *, progress: bool | OnState = True, timeout: float | None = None) -> pd.DataFrame:
        """Waits for every run, drawing progress, and returns the leaderboard (see `leaderboard`).

        progress: True (default) draws a progress bar fed by the task's PROGRESS; False draws nothing;
            a callable gets every polled TaskState instead.
        timeout: seconds to wait at most (TimeoutError; the sweep goes on).
        """
        state = self._wait(progress, timeout, f"sweep {self.task_id[:8]}")
        return leaderboard_frame(state.result)

    def leaderboard(self) -> pd.DataFrame:
        """The ranked runs, best first, indexed by rank; empty until the sweep is done.

        Columns: backtest_id, status, the overrides, the rank metric, every metric and error.
        """
        return leaderboard_frame(self.state().result)

    def runs(self) -> pd.DataFrame:
        """Every run of the finished search, one row each in leaderboard order (GET /tasks/{id}/runs/parquet).

        Columns: rank, backtest_id, status, error, one per parameter (named by its dotted key), every
        metric and perf_deflated_sharpe_ratio.
        """
        response = self._client._transport.request("GET", f"/tasks/{self.task_id}/runs/parquet", timeout=None)
        return pd.read_parquet(io.BytesIO(response.content))

    def overfitting(self) -> dict:
        """The search's deflated-Sharpe and PBO figures (`pbo`, `n_trials`, ...); {} until it is done."""
        result = self.state().result or {}
        return dict(result.get("overfitting") or {})

    def report(self, path: str | None = None) -> Report:
        """The sweep's HTML report (see `Report`); saved to `path` when given."""
        report = self._client.reports.task(self.task_id)
        if path is not None:
            report.save(path)
        return report


class GridSearchTask(SweepTask):
    """A grid search running on the fleet (`client.grid_search`); `.wait()` returns the top of the leaderboard.

    n_configs: runs dispatched; n_combinations: the product's size; skipped: reason -> combinations skipped.
    """

    def __init__(
        self, client: Client, task_id: str, n_configs: int, *, n_combinations: int, skipped: dict[str, int]
    ) -> None:
        super().__init__(client, task_id, n_configs)
        self.n_combinations = n_combinations
        self.skipped = skipped
