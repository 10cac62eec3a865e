"""Wire conversions of execution: tasks, task handles, sweep requests, run reports."""

from __future__ import annotations

import uuid
from typing import Any

from google.protobuf import json_format, struct_pb2

from backtest.v1 import backtest_pb2, catalog_pb2
from services.catalog.convert import finite_or_none
from services.catalog.execution.progress import Progress
from services.catalog.repository.views import TaskView
from services.domain.metrics import COUNTS
from services.domain.statuses import TaskStatus


def task_ref(task_id: uuid.UUID) -> backtest_pb2.TaskRef:
    """The handle returned by async dispatch: a task just created is PENDING."""
    return backtest_pb2.TaskRef(task_id=str(task_id), status=TaskStatus.PENDING)


def task_message(task: TaskView) -> backtest_pb2.Task:
    """The Task message of a row, with progress and (when done) the result."""
    message = backtest_pb2.Task(
        task_id=str(task.id),
        status=task.status,
        kind=task.kind,
        progress=backtest_pb2.TaskProgress(
            succeeded=task.succeeded, failed=task.failed, total=task.total, revoked=task.revoked
        ),
    )
    if task.backtest_id is not None:
        message.backtest_id = str(task.backtest_id)
    if task.result is not None:
        # No NaN or infinity to clear first: JSONB cannot hold them, so a stored result has none.
        message.result.update(task.result)
    if task.error is not None:
        message.error = task.error
    message.created_at.FromDatetime(task.created_at)
    message.updated_at.FromDatetime(task.updated_at)
    return message


def task_update(progress: Progress) -> backtest_pb2.TaskUpdate:
    """One element of WatchTask: a task's progress, with the best run so far when there is one."""
    message = backtest_pb2.TaskUpdate(
        task_id=str(progress.task_id),
        status=progress.status,
        progress=backtest_pb2.TaskProgress(
            succeeded=progress.succeeded, failed=progress.failed, total=progress.total, revoked=progress.revoked
        ),
    )
    if progress.best is not None:
        best = progress.best
        message.best.CopyFrom(
            backtest_pb2.BestRun(backtest_id=str(best.backtest_id), metric=best.metric, value=best.value)
        )
    message.updated_at.FromDatetime(progress.updated_at)
    return message


def sweep_fields(request: catalog_pb2.SweepBacktestsRequest) -> dict[str, Any]:
    """Plain arguments of build_sweep_runs; absent optional fields are None."""
    return {
        "strategy_id": request.strategy_id,
        "engine": request.engine if request.HasField("engine") else None,
        "base_config": json_format.MessageToDict(request.base_config),
        "param_grid": [json_format.MessageToDict(entry) for entry in request.param_grid],
        "rank_metric": request.rank_metric if request.HasField("rank_metric") else None,
    }


def grid_search_fields(request: catalog_pb2.GridSearchBacktestsRequest) -> dict[str, Any]:
    """Plain arguments of build_grid_search, and top_n; absent optional fields are None."""
    return {
        "strategy_id": request.strategy_id,
        "engine": request.engine if request.HasField("engine") else None,
        "base_config": json_format.MessageToDict(request.base_config),
        "parameter_space": json_format.MessageToDict(request.parameter_space),
        "rank_metric": request.rank_metric if request.HasField("rank_metric") else None,
        "top_n": request.top_n if request.HasField("top_n") else None,
    }


def metrics_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A run's reported flat metrics.

    Struct numbers are floats: counts come back as ints, and a number that is
    not finite is null (JSONB, where they are stored, has no NaN or infinity).
    """
    # The Struct's own mapping view: a third of MessageToDict's time, for the flat values metrics are.
    return {key: _metric(key, value) for key, value in struct.items()}


def _metric(key: str, value: Any) -> Any:
    if isinstance(value, (struct_pb2.Struct, struct_pb2.ListValue)):
        return json_format.MessageToDict(value)
    value = finite_or_none(value)
    return int(value) if key in COUNTS and isinstance(value, float) and value.is_integer() else value
