"""Which artifact objects are garbage: written by a run, then left behind by nothing that reads them.

Two kinds of artifact object exist (services.domain.object_uris): a run's
own files, `artifacts/<backtest id>/<job id>/<attempt>/<name>.parquet` (or,
written before jobs had files of their own, `artifacts/<backtest id>/<name>.parquet`),
and the batch files of one job attempt, `artifacts/jobs/<job id>/<attempt>/<name>.parquet`. An
object no backtest references is garbage when the run that wrote it has
moved on: a re-executed backtest that points at newer files, or a batch
written by an attempt whose outcome was never recorded (its executor died
after the upload) or was replaced, while the backtests of that job live on.
Objects of backtests that were deleted are kept: deleting a backtest leaves
its artifacts, as the seed says (an explicit option of the delete removes
them). Nothing younger than the grace period is touched, so an upload
whose report is on its way is never collected.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.domain.jobs import JobId
from services.domain.object_uris import ARTIFACT_PREFIX

_JOBS = f"{ARTIFACT_PREFIX}jobs/"


@dataclass(frozen=True)
class StoredObject:
    """An object of the artifact prefix as the store lists it."""

    key: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class Owner:
    """Who wrote an artifact object: a run (its backtest) or a job attempt (of a sweep's task)."""

    backtest_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None


def owner_of(key: str) -> Owner | None:
    """The run or the task whose artifacts `key` holds; None for a key of neither layout."""
    parts = key.removeprefix(ARTIFACT_PREFIX).split("/")
    try:
        if key.startswith(_JOBS) and len(parts) == 4:
            return Owner(task_id=JobId.parse(parts[1]).task_id)
        if len(parts) in (2, 4) and not key.startswith(_JOBS):
            return Owner(backtest_id=uuid.UUID(parts[0]))
    except ValueError:
        return None
    return None


def garbage(
    objects: Iterable[StoredObject],
    *,
    referenced: set[str],
    live_backtests: set[uuid.UUID],
    live_tasks: set[uuid.UUID],
    older_than: datetime,
) -> list[StoredObject]:
    """The objects to delete, in key order.

    referenced: object keys some backtest's trades_uri or equity_curve_uri names (fragments dropped).
    live_backtests: ids of existing backtests among the owners of the objects.
    live_tasks: ids of tasks that still have backtests (a sweep's runs name it as sweep_id; an execute task
        names its own, whose job may have named the batch of jobs an executor coalesced) among the owners.
    older_than: objects modified at or after this moment are in their grace period and kept.
    """
    chosen = []
    for item in objects:
        if item.key in referenced or item.modified >= older_than:
            continue
        owner = owner_of(item.key)
        if owner is None:
            continue  # not an artifact layout we wrote: not ours to judge
        if owner.backtest_id in live_backtests or owner.task_id in live_tasks:
            chosen.append(item)
    return sorted(chosen, key=lambda item: item.key)
