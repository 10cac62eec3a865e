"""Tasks: an execute's or a sweep's progress and result, as clients poll it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import Task
from services.catalog.repository.views import TaskView
from services.domain.errors import NotFoundError
from services.domain.statuses import TaskKind, TaskStatus

_tasks = Task.__table__
# A task as GetTask shows it: not `params` (a sweep's run list), which every poll would decode for nothing.
_SHOWN = tuple(column for column in _tasks.c if column.name != "params")


async def create(
    session: AsyncSession,
    task_id: uuid.UUID,
    kind: TaskKind,
    *,
    total: int,
    backtest_id: uuid.UUID | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Inserts a PENDING task.

    total: runs the task holds. backtest_id: the run of an execute task. params: a sweep's runs and rank metric.
    """
    values = {"id": task_id, "kind": kind, "status": TaskStatus.PENDING, "total": total, "backtest_id": backtest_id}
    if params is not None:
        values["params"] = params
    await session.execute(insert(_tasks).values(**values))


async def get(session: AsyncSession, task_id: uuid.UUID) -> TaskView:
    """The task; NotFoundError naming its id."""
    row = (await session.execute(select(*_SHOWN).where(_tasks.c.id == task_id))).one_or_none()
    if row is None:
        raise NotFoundError("task", str(task_id))
    return TaskView.of(row)
