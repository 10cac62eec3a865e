"""Tasks: /api/v1/tasks, their cancel and their live progress."""

from __future__ import annotations

from collections.abc import Iterator

from backtest_client.models import TaskState, TaskUpdate
from backtest_client.resources import Resource


class Tasks(Resource):
    """Task state; handles (`RunTask`, `SweepTask`) poll through here."""

    def get(self, task_id: str) -> TaskState:
        """The task as it is now; NotFoundError when there is none."""
        return TaskState.from_wire(self._transport.json("GET", f"/tasks/{task_id}"))

    def cancel(self, task_id: str) -> TaskState:
        """Cancels the task: its queued runs are dropped, nothing is left running; returns it REVOKED.

        ConflictError (409) when it already ended, naming its state; NotFoundError when there is none.
        """
        return TaskState.from_wire(self._transport.json("POST", f"/tasks/{task_id}/cancel", json={}))

    def watch(self, task_id: str) -> Iterator[TaskUpdate]:
        """The task's progress now, then each time it changes; the iterator ends after the task does.

        Each update arrives as the platform sends it (a streamed JSON array), with no polling.
        """
        for element in self._transport.stream_array(f"/tasks/{task_id}/events"):
            yield TaskUpdate.from_wire(element)
