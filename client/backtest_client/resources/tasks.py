"""Tasks: /api/v1/tasks."""

from __future__ import annotations

from backtest_client.models import TaskState
from backtest_client.resources import Resource


class Tasks(Resource):
    """Task state; handles (`RunTask`, `SweepTask`) poll through here."""

    def get(self, task_id: str) -> TaskState:
        """The task as it is now; NotFoundError when there is none."""
        return TaskState.from_wire(self._transport.json("GET", f"/tasks/{task_id}"))
