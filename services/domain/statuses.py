"""The lifecycle words of runs and tasks, defined once.

A backtest moves `pending -> running -> completed | failed` (docs/api.md);
a task (one execute, or a whole sweep) moves `PENDING -> STARTED ->
PROGRESS -> SUCCESS | FAILURE`, the words Celery's users know. The
database's CHECK constraints, the SQL of execution and every comparison in
the services use these members; the migrations keep literal copies,
because a migration must mean tomorrow what it meant when it ran.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a backtest is in its lifecycle."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class TaskStatus(StrEnum):
    """Where a task is; SUCCESS and FAILURE are final."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"

    @property
    def is_final(self) -> bool:
        """Whether nothing moves the task any more."""
        return self in FINAL_TASK_STATUSES


FINAL_TASK_STATUSES = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILURE})


class TaskKind(StrEnum):
    """What a task does: run one backtest, or every run of a sweep."""

    EXECUTE = "execute"
    SWEEP = "sweep"


def values(kind: type[StrEnum]) -> tuple[str, ...]:
    """Every word of a vocabulary, in declaration order (for CHECK constraints and messages)."""
    return tuple(member.value for member in kind)
